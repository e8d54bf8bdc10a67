"""Storage of user settings: ``users/{uid}/settings/profile``:

- ``starting_capital``: a decimal string;
- ``timezone``: an IANA name;
- ``aggregates``: ``{generation, timezone}`` of the live aggregates;
- ``rebuild``: ``{generation, timezone, state, started_at}`` while a rebuild runs;
- ``aggregate_shards``: the least write-shard count;
- ``calendar``: the trading calendar of daily returns.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from ..core.money import quantize_usd, to_plain_str
from ..storage.client import USERS, Repository

SETTINGS = "settings"


def settings_ref(client: Any, uid: str) -> Any:
    """``users/{uid}/settings/profile``."""
    return client.collection(USERS, uid, SETTINGS).document("profile")


def settings_fields(doc: dict[str, Any] | None, version: Any = None) -> dict[str, Any]:
    """The stored fields the users service decodes (None when never set)."""
    doc = doc or {}
    return {"starting_capital": doc.get("starting_capital") or None, "timezone": doc.get("timezone") or None,
            "aggregates": doc.get("aggregates") or None, "rebuild": doc.get("rebuild") or None,
            "aggregate_shards": doc.get("aggregate_shards") or None, "calendar": doc.get("calendar") or None,
            "max_trade_notional": doc.get("max_trade_notional") or None,
            "max_open_notional": doc.get("max_open_notional") or None,
            "version": version}


class UserRepository(Repository):
    """Reads and merges a user's settings document."""

    async def get(self, uid: str) -> dict[str, Any]:
        """The stored settings fields (see :func:`settings_fields`)."""
        snap = await settings_ref(self.client, uid).get(retry=self.retry, timeout=self.timeout)
        return settings_fields(snap.to_dict() if snap.exists else None, snap.update_time if snap.exists else None)

    async def merge(self, uid: str, *, starting_capital: Decimal | None = None, timezone: str | None = None,
                    rebuild: dict[str, Any] | None = None, calendar: str | None = None) -> None:
        """Merge the given fields into the user's settings."""
        fields: dict[str, Any] = {}
        if starting_capital is not None:
            fields["starting_capital"] = to_plain_str(quantize_usd(starting_capital))
        if timezone is not None:
            fields["timezone"] = timezone
        if rebuild is not None:
            fields["rebuild"] = rebuild
        if calendar is not None:
            fields["calendar"] = calendar
        if fields:
            await settings_ref(self.client, uid).set(fields, merge=True, retry=self.retry, timeout=self.timeout)

    async def set_generations(self, uid: str, *, aggregates: dict[str, Any] | None, rebuild: dict[str, Any] | None,
                              expected_rebuild: int | None = None) -> bool:
        """Write the live generation and the rebuild marker in one write (None removes the
        marker; ``aggregates`` None keeps the live one). With ``expected_rebuild``, only
        while the stored marker is still that generation (a newer rebuild wins).

        Returns:
            False when the marker had changed (nothing written).
        """
        ref = settings_ref(self.client, uid)
        fields: dict[str, Any] = {"rebuild": rebuild if rebuild is not None else firestore.DELETE_FIELD}
        if aggregates is not None:
            fields["aggregates"] = aggregates
        if expected_rebuild is None:
            await ref.set(fields, merge=True, retry=self.retry, timeout=self.timeout)
            return True
        snap = await ref.get(retry=self.retry, timeout=self.timeout)
        marker = (snap.to_dict() or {}).get("rebuild") if snap.exists else None
        if not marker or int(marker.get("generation", -1)) != expected_rebuild:
            return False
        try:
            await ref.update(fields, option=self.client.write_option(last_update_time=snap.update_time),
                             retry=self.retry, timeout=self.timeout)
        except (gexc.FailedPrecondition, gexc.NotFound):
            return False
        return True
