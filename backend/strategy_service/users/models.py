"""User settings: a typed value the users repository hands to the services."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from ..core.money import quantize_usd, to_plain_str

DEFAULT_STARTING_CAPITAL = Decimal("100000.00")
DEFAULT_TIMEZONE = "America/New_York"


@dataclass(frozen=True)
class UserSettings:
    """A user's settings.

    Attributes:
        starting_capital: equity before the first trade, USD (> 0).
        timezone: the trading time zone; a day is a close date in it.
    """

    starting_capital: Decimal
    timezone: ZoneInfo

    def as_json(self) -> dict[str, str]:
        """API shape: capital as a decimal string to the cent, the zone's IANA name."""
        return {"starting_capital": to_plain_str(quantize_usd(self.starting_capital)), "timezone": self.timezone.key}
