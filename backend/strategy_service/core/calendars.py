"""Trading calendars: the sessions that daily returns cover, from exchange-calendars.

A calendar is named as exchange-calendars names it: ``XNYS`` (New York Stock Exchange,
the default), ``24/7`` (every day: crypto), ``24/5``, ``XLON``... Sessions are computed
once per calendar and process (loading one takes about a second: pandas), then answered by
bisection. No I/O.
"""

from __future__ import annotations

import bisect
from datetime import date, timedelta
from functools import lru_cache

DEFAULT_CALENDAR = "XNYS"
#: Sessions per year used to annualise daily ratios: the convention for exchange calendars
#: (sqrt(252)), and every day of the year for a 24/7 calendar.
ANNUALISATION = {"24/7": 365, "24/5": 260}
EXCHANGE_SESSIONS_PER_YEAR = 252
#: The span of dates a calendar is loaded for.
FIRST_DAY = date(1990, 1, 1)


def known_calendars() -> list[str]:
    """Every calendar name exchange-calendars knows."""
    import exchange_calendars

    return sorted(exchange_calendars.get_calendar_names())


def is_known(name: str) -> bool:
    """True when ``name`` is a calendar exchange-calendars knows."""
    return name in known_calendars()


def annualisation(name: str) -> int:
    """Sessions per year of a calendar (252 for an exchange, 365 for 24/7)."""
    return ANNUALISATION.get(name, EXCHANGE_SESSIONS_PER_YEAR)


@lru_cache(maxsize=16)
def _sessions(name: str, last_year: int) -> tuple[int, ...]:
    import exchange_calendars

    calendar = exchange_calendars.get_calendar(name, start=FIRST_DAY.isoformat(), end=f"{last_year}-12-31")
    return tuple(ts.date().toordinal() for ts in calendar.sessions)


def sessions_between(name: str, first: date, last: date) -> list[date]:
    """The sessions of calendar ``name`` from ``first`` to ``last`` inclusive (an empty
    list when ``last < first``). Days outside the calendar's loaded span count as no
    session."""
    if last < first:
        return []
    ordinals = _sessions(name, max(last.year, date.today().year) + 1)
    lo = bisect.bisect_left(ordinals, first.toordinal())
    hi = bisect.bisect_right(ordinals, last.toordinal())
    return [date.fromordinal(o) for o in ordinals[lo:hi]]


def every_day(first: date, last: date) -> list[date]:
    """Every calendar day from ``first`` to ``last`` (a 24/7 calendar without loading one)."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
