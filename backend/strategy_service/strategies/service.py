"""Strategy settings use cases."""

from __future__ import annotations

from decimal import Decimal

from ..core.costs import CostModel, InvalidCostModel
from .errors import InvalidCost
from .models import CostSettings, StrategySettings
from .repository import StrategyRepository


class StrategyService:
    """Reading and changing a user's strategy settings.

    Args:
        strategies: the strategies repository.
    """

    def __init__(self, strategies: StrategyRepository) -> None:
        self.strategies = strategies

    async def get(self, uid: str, strategy_id: str) -> StrategySettings:
        """The strategy's settings (no own capital until one is set)."""
        return await self.strategies.get(uid, strategy_id)

    async def set_capital(self, uid: str, strategy_id: str, capital: Decimal | None) -> StrategySettings:
        """Give the strategy its own starting capital (USD, > 0), or None to use the user's."""
        return await self.strategies.set_capital(uid, strategy_id, capital)

    async def get_costs(self, uid: str, strategy_id: str | None) -> CostSettings:
        """The cost model that applies to ``strategy_id``'s new fills (None: the user's
        default), and whether it is the strategy's own, the user's default or none."""
        return await self.strategies.get_costs(uid, strategy_id)

    async def set_costs(self, uid: str, strategy_id: str | None, fields: dict[str, Decimal | None] | None
                        ) -> CostSettings:
        """Replace ``strategy_id``'s own cost model (None: the user's default) with
        ``fields`` (missing or None fields are 0); with ``fields`` None, remove it so that
        the default (or no cost) applies again. Trades already open keep the model they
        were filled with.

        Raises:
            InvalidCost: a negative or out-of-range field, or a minimum above the maximum
                (nothing written).
        """
        model = None
        if fields is not None:
            try:
                model = CostModel(**{k: v for k, v in fields.items() if v is not None})
            except InvalidCostModel as exc:
                raise InvalidCost(str(exc)) from exc
        await self.strategies.set_costs(uid, strategy_id, model)
        return await self.strategies.get_costs(uid, strategy_id)
