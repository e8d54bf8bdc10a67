"""User settings: a typed value the users repository hands to the services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ..core.calendars import DEFAULT_CALENDAR
from ..core.money import quantize_usd, to_plain_str

DEFAULT_STARTING_CAPITAL = Decimal("100000.00")
DEFAULT_TIMEZONE = "America/New_York"


@dataclass(frozen=True)
class Generation:
    """A generation of the user's aggregates: its number and the time zone its days are in.

    Attributes:
        number: the generation (document ids of its aggregates start ``{number}~``).
        timezone: the trading time zone of its days.
        state: for a generation being rebuilt: ``building`` (closes write only the live
            one) or ``dual`` (closes write both); None for the live one.
        started_at: when its rebuild started (UTC), None for the live one.
    """

    number: int
    timezone: ZoneInfo
    state: str | None = None
    started_at: datetime | None = None


@dataclass(frozen=True)
class UserSettings:
    """A user's settings.

    Attributes:
        starting_capital: equity before the first trade, USD (> 0).
        timezone: the trading time zone the user chose; a day is a close date in it.
        aggregates: the live generation of the aggregates (its time zone is
            ``timezone`` except while a rebuild to a new zone runs).
        rebuild: the generation a rebuild is writing beside it, or None.
        min_shards: the least number of write shards of the user's hot aggregate
            documents (more are chosen by the load).
        calendar: the trading calendar of daily returns (``XNYS``, ``24/7``...).
        max_trade_notional: the largest notional one trade may have, USD (None: the
            service's default, ``MAX_TRADE_NOTIONAL_USD``).
        max_open_notional: the largest sum of open positions' notionals, USD (None: the
            service's default, ``MAX_OPEN_NOTIONAL_USD``).
        version: the stored document's update time (a precondition), or None.
    """

    starting_capital: Decimal
    timezone: ZoneInfo
    aggregates: Generation
    rebuild: Generation | None = None
    min_shards: int = 1
    version: Any = None
    calendar: str = DEFAULT_CALENDAR
    max_trade_notional: Decimal | None = None
    max_open_notional: Decimal | None = None

    def as_json(self) -> dict[str, str]:
        """API shape: capital as a decimal string to the cent, the zone's IANA name, the
        trading calendar's name."""
        return {"starting_capital": to_plain_str(quantize_usd(self.starting_capital)), "timezone": self.timezone.key,
                "calendar": self.calendar}

    def writing(self) -> list[Generation]:
        """The generations a close writes now: the live one, and a rebuild's in ``dual`` state."""
        return [self.aggregates] + ([self.rebuild] if self.rebuild and self.rebuild.state == "dual" else [])
