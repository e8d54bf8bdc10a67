"""HTTP models of the strategies endpoints."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from ..api.schemas import MAX_AMOUNT, PositiveAmount, Strict

#: A cost field: any finite decimal (the service refuses negatives with ``invalid_cost``).
CostAmount = Annotated[Decimal, Field(allow_inf_nan=False, le=MAX_AMOUNT, ge=-MAX_AMOUNT, max_digits=30,
                                      decimal_places=12)]


class StrategySettingsIn(Strict):
    """``PUT /strategies/{strategy_id}/settings``: the strategy's own starting capital (USD,
    > 0), or null to measure it against the user's."""

    starting_capital: PositiveAmount | None


class StrategySettingsOut(BaseModel):
    """A strategy's settings."""

    strategy_id: str
    starting_capital: str | None


class CostModelIn(Strict):
    """``PUT /strategies/{strategy_id}/costs`` and ``PUT /users/me/costs``: the whole cost
    model (a field left out is 0). Decimal strings (or JSON numbers), each at least 0."""

    commission_per_order: CostAmount | None = Field(default=None, description="USD per fill.")
    commission_per_unit: CostAmount | None = Field(default=None, description="USD per unit (share, coin) filled.")
    commission_percent: CostAmount | None = Field(
        default=None, description="Percent of the fill's notional (0.1 = 0.1 %), below 100.")
    commission_min: CostAmount | None = Field(default=None, description="Least commission per fill, USD (0: none).")
    commission_max: CostAmount | None = Field(default=None, description="Largest commission per fill, USD (0: none).")
    slippage_bps: CostAmount | None = Field(
        default=None, description="Basis points of the price, against the trader, on top of bid/ask; below 10000.")


class CostModelOut(BaseModel):
    """The cost model that applies to new fills: every field a decimal string; ``applies`` says
    whether it is the strategy's own (``strategy``), the user's default (``user_default``) or
    none (``none``: every field 0)."""

    strategy_id: str | None
    applies: Literal["strategy", "user_default", "none"]
    commission_per_order: str
    commission_per_unit: str
    commission_percent: str
    commission_min: str
    commission_max: str
    slippage_bps: str
