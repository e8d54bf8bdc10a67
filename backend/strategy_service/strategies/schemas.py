"""HTTP models of the strategies endpoints."""

from __future__ import annotations

from pydantic import BaseModel

from ..api.schemas import PositiveAmount, Strict


class StrategySettingsIn(Strict):
    """``PUT /strategies/{strategy_id}/settings``: the strategy's own starting capital (USD,
    > 0), or null to measure it against the user's."""

    starting_capital: PositiveAmount | None


class StrategySettingsOut(BaseModel):
    """A strategy's settings."""

    strategy_id: str
    starting_capital: str | None
