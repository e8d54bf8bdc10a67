"""A strategy's settings: a typed value the strategies repository hands to the services."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..core.money import quantize_usd, to_plain_str


@dataclass(frozen=True)
class StrategySettings:
    """One strategy's settings.

    Attributes:
        strategy_id: the client's strategy id.
        starting_capital: the strategy's own equity before its first trade, USD, or None
            (the user's starting capital applies). A dashboard filtered on this strategy
            measures returns and drawdown against it.
    """

    strategy_id: str
    starting_capital: Decimal | None = None

    def as_json(self) -> dict[str, Any]:
        """API shape: capital as a decimal string to the cent, or null."""
        return {"strategy_id": self.strategy_id,
                "starting_capital": None if self.starting_capital is None
                else to_plain_str(quantize_usd(self.starting_capital))}
