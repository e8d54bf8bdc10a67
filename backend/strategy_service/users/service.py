"""User settings use cases: read with defaults, change. A new time zone re-buckets the
user's days: it starts a rebuild of their aggregates beside the live ones, outside the
request (the performance domain's ``Maintenance``); reads stay exact in the previous zone
until it switches."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..core.calendars import DEFAULT_CALENDAR, is_known
from ..core.money import to_decimal
from .errors import InvalidCalendar, InvalidTimezone
from .models import DEFAULT_STARTING_CAPITAL, DEFAULT_TIMEZONE, Generation, UserSettings
from .repository import UserRepository


def parse_timezone(name: str) -> ZoneInfo:
    """An IANA time zone.

    Raises:
        InvalidTimezone: for a name that is not one.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidTimezone(f"{name!r} is not an IANA time zone (e.g. America/New_York).") from None


def _generation(doc: dict[str, Any], default_zone: ZoneInfo) -> Generation:
    started = doc.get("started_at")
    return Generation(number=int(doc.get("generation", 0)),
                      timezone=ZoneInfo(doc["timezone"]) if doc.get("timezone") else default_zone,
                      state=doc.get("state"), started_at=started if isinstance(started, datetime) else None)


def settings_of(fields: dict[str, Any]) -> UserSettings:
    """Decode the stored settings fields (``UserRepository.get``) with their defaults:
    100,000.00 USD, America/New_York, generation 0 in the chosen zone."""
    capital = fields.get("starting_capital")
    zone = parse_timezone(fields.get("timezone") or DEFAULT_TIMEZONE)
    live = _generation(fields["aggregates"], zone) if fields.get("aggregates") else Generation(0, zone)
    return UserSettings(
        starting_capital=to_decimal(capital, field="starting_capital") if capital else DEFAULT_STARTING_CAPITAL,
        timezone=zone, aggregates=live,
        rebuild=_generation(fields["rebuild"], zone) if fields.get("rebuild") else None,
        min_shards=max(1, int(fields.get("aggregate_shards") or 1)), version=fields.get("version"),
        calendar=fields.get("calendar") or DEFAULT_CALENDAR,
        max_trade_notional=(to_decimal(fields["max_trade_notional"], field="max_trade_notional")
                            if fields.get("max_trade_notional") else None),
        max_open_notional=(to_decimal(fields["max_open_notional"], field="max_open_notional")
                           if fields.get("max_open_notional") else None),
    )


def generation_doc(number: int, zone: ZoneInfo, state: str | None = None) -> dict[str, Any]:
    """The stored form of a generation (a rebuild marker when ``state`` is given)."""
    doc: dict[str, Any] = {"generation": number, "timezone": zone.key}
    if state is not None:
        doc.update(state=state, started_at=datetime.now(timezone.utc))
    return doc


class UserService:
    """Reading and changing user settings.

    Args:
        users: the settings repository.
        on_timezone_change: called with the uid after a user's time zone changed; it must
            not wait for the rebuild (the composition root schedules it in the background).
    """

    def __init__(self, users: UserRepository, on_timezone_change: Callable[[str], Any] | None = None) -> None:
        self.users = users
        self.on_timezone_change = on_timezone_change

    async def get(self, uid: str) -> UserSettings:
        """Stored settings with defaults (see :func:`settings_of`)."""
        return settings_of(await self.users.get(uid))

    async def update(self, uid: str, *, starting_capital: Decimal | None, timezone: str | None,
                     calendar: str | None = None) -> UserSettings:
        """Change the starting capital (USD), the time zone and/or the trading calendar;
        returns the result. A new zone starts a rebuild of the aggregates in the background
        (O(history), never inside this call); a calendar only changes how reads count
        sessions.

        Raises:
            InvalidTimezone, InvalidCalendar: nothing is written.
        """
        zone = parse_timezone(timezone).key if timezone is not None else None
        if calendar is not None and not is_known(calendar):
            raise InvalidCalendar(f"{calendar!r} is not a trading calendar (XNYS, 24/7, XLON...).")
        before = await self.get(uid)
        rebuild = None
        if zone is not None and zone != before.aggregates.timezone.key and self.on_timezone_change is not None:
            # reads say at once that a rebuild into the new zone is pending
            number = max(before.aggregates.number, before.rebuild.number if before.rebuild else 0) + 1
            rebuild = generation_doc(number, ZoneInfo(zone), "pending")
        await self.users.merge(uid, starting_capital=starting_capital, timezone=zone, rebuild=rebuild, calendar=calendar)
        if rebuild is not None and self.on_timezone_change is not None:
            self.on_timezone_change(uid)  # days are dates in the trading time zone
        return await self.get(uid)
