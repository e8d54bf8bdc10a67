"""Storage of user settings: ``users/{uid}/settings/profile`` (``starting_capital`` as a
decimal string, ``timezone`` an IANA name)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..core.money import quantize_usd, to_plain_str
from ..storage.client import USERS, Repository

SETTINGS = "settings"


class UserRepository(Repository):
    """Reads and merges a user's settings document."""

    def _ref(self, uid: str) -> Any:
        return self.client.collection(USERS, uid, SETTINGS).document("profile")

    async def get(self, uid: str) -> dict[str, str | None]:
        """The stored ``starting_capital`` and ``timezone`` (None when never set)."""
        snap = await self._ref(uid).get(retry=self.retry, timeout=self.timeout)
        doc = (snap.to_dict() or {}) if snap.exists else {}
        return {"starting_capital": doc.get("starting_capital") or None, "timezone": doc.get("timezone") or None}

    async def merge(self, uid: str, *, starting_capital: Decimal | None = None, timezone: str | None = None) -> None:
        """Merge the given fields into the user's settings."""
        fields: dict[str, Any] = {}
        if starting_capital is not None:
            fields["starting_capital"] = to_plain_str(quantize_usd(starting_capital))
        if timezone is not None:
            fields["timezone"] = timezone
        if fields:
            await self._ref(uid).set(fields, merge=True, retry=self.retry, timeout=self.timeout)
