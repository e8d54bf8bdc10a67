"""User settings use cases: read with defaults, change (a new time zone re-buckets the
user's days, so it asks the performance domain to rebuild their aggregates)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..core.money import to_decimal
from .errors import InvalidTimezone
from .models import DEFAULT_STARTING_CAPITAL, DEFAULT_TIMEZONE, UserSettings
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


class UserService:
    """Reading and changing user settings.

    Args:
        users: the settings repository.
        on_timezone_change: awaited with the uid after a user's time zone changed (the
            composition root wires the aggregates' rebuild here).
    """

    def __init__(self, users: UserRepository,
                 on_timezone_change: Callable[[str], Awaitable[object]] | None = None) -> None:
        self.users = users
        self.on_timezone_change = on_timezone_change

    async def get(self, uid: str) -> UserSettings:
        """Stored settings with defaults (100,000.00 USD, America/New_York)."""
        doc = await self.users.get(uid)
        capital = doc["starting_capital"]
        return UserSettings(
            starting_capital=to_decimal(capital, field="starting_capital") if capital else DEFAULT_STARTING_CAPITAL,
            timezone=parse_timezone(doc["timezone"] or DEFAULT_TIMEZONE),
        )

    async def update(self, uid: str, *, starting_capital: Decimal | None, timezone: str | None) -> UserSettings:
        """Change the starting capital (USD) and/or the time zone; returns the result.

        Raises:
            InvalidTimezone: nothing is written.
        """
        zone = parse_timezone(timezone).key if timezone is not None else None
        before = await self.get(uid)
        await self.users.merge(uid, starting_capital=starting_capital, timezone=zone)
        if zone is not None and zone != before.timezone.key and self.on_timezone_change is not None:
            await self.on_timezone_change(uid)  # days are dates in the trading time zone
        return await self.get(uid)
