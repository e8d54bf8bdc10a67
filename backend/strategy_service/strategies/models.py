"""A strategy's settings: a typed value the strategies repository hands to the services."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..core.costs import CostModel
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


@dataclass(frozen=True)
class CostSettings:
    """The cost model that applies to a strategy's new fills, and where it comes from.

    Attributes:
        strategy_id: the strategy, or None for the user's default.
        model: the model applied (the zero model when none is set).
        applies: ``strategy`` (its own), ``user_default`` (the user's default) or ``none``.
    """

    strategy_id: str | None
    model: CostModel
    applies: str

    def as_json(self) -> dict[str, Any]:
        """API shape: the model's fields as decimal strings, ``applies`` and ``strategy_id``."""
        return {"strategy_id": self.strategy_id, "applies": self.applies, **self.model.to_doc()}
