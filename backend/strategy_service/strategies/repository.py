"""Storage of strategy settings: ``users/{uid}/strategies/{strategy_id}`` (``starting_capital``
as a decimal string)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from google.cloud import firestore

from ..core.money import quantize_usd, to_decimal, to_plain_str
from ..storage.client import USERS, Repository
from .models import StrategySettings

STRATEGIES = "strategies"


def strategy_ref(client: Any, uid: str, strategy_id: str) -> Any:
    """``users/{uid}/strategies/{strategy_id}``."""
    return client.collection(USERS, uid, STRATEGIES).document(strategy_id)


def strategy_of(strategy_id: str, doc: dict[str, Any] | None) -> StrategySettings:
    """Decode a stored strategy document (defaults when missing)."""
    capital = (doc or {}).get("starting_capital")
    return StrategySettings(strategy_id, to_decimal(capital, field="starting_capital") if capital else None)


class StrategyRepository(Repository):
    """Reads and writes strategy settings."""

    async def get(self, uid: str, strategy_id: str) -> StrategySettings:
        """The strategy's settings (defaults when never set)."""
        snap = await strategy_ref(self.client, uid, strategy_id).get(retry=self.retry, timeout=self.timeout)
        return strategy_of(strategy_id, snap.to_dict() if snap.exists else None)

    async def set_capital(self, uid: str, strategy_id: str, capital: Decimal | None) -> StrategySettings:
        """Set (or, with None, remove) the strategy's own starting capital, USD."""
        value: Any = firestore.DELETE_FIELD if capital is None else to_plain_str(quantize_usd(capital))
        await strategy_ref(self.client, uid, strategy_id).set({"starting_capital": value}, merge=True,
                                                              retry=self.retry, timeout=self.timeout)
        return StrategySettings(strategy_id, None if capital is None else quantize_usd(capital))
