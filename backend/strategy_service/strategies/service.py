"""Strategy settings use cases."""

from __future__ import annotations

from decimal import Decimal

from .models import StrategySettings
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
