"""Storage of strategy settings: ``users/{uid}/strategies/{strategy_id}`` (``starting_capital``
as a decimal string, ``costs`` as a map of decimal strings); the user's default cost model
is the ``costs`` of ``users/{uid}/strategies/_default`` (an id no client strategy can have:
client ids start with a letter or digit)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from google.cloud import firestore

from ..core.costs import CostModel
from ..core.money import quantize_usd, to_decimal, to_plain_str
from ..storage.client import USERS, Repository
from .models import CostSettings, StrategySettings

STRATEGIES = "strategies"
#: Document id of the user's default cost model.
DEFAULT_COSTS_ID = "_default"


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

    async def get_costs(self, uid: str, strategy_id: str | None) -> CostSettings:
        """The cost model that applies to ``strategy_id``'s new fills (its own, else the
        user's default, else none); with None, the user's default. One round trip."""
        refs = [strategy_ref(self.client, uid, DEFAULT_COSTS_ID)]
        if strategy_id is not None:
            refs.insert(0, strategy_ref(self.client, uid, strategy_id))
        found = await self.storage.get_many(refs)
        docs = [(doc or {}).get("costs") for doc, _ in found]
        for costs, applies in zip(docs, ["strategy", "user_default"][-len(docs):]):
            if costs is not None:
                return CostSettings(strategy_id, CostModel.from_doc(costs), applies)
        return CostSettings(strategy_id, CostModel(), "none")

    async def set_costs(self, uid: str, strategy_id: str | None, model: CostModel | None) -> None:
        """Store (or, with None, remove) ``strategy_id``'s own cost model, or with
        ``strategy_id`` None the user's default."""
        value: Any = firestore.DELETE_FIELD if model is None else model.to_doc()
        await strategy_ref(self.client, uid, strategy_id or DEFAULT_COSTS_ID).set(
            {"costs": value}, merge=True, retry=self.retry, timeout=self.timeout)
