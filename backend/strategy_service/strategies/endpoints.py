"""``/strategies/{strategy_id}/settings``: a strategy's own starting capital."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from ..api.deps import CurrentUser, StrategiesDep
from ..api.errors import responses
from ..api.routing import DecimalJSONRoute
from ..api.schemas import ID_PATTERN
from .schemas import StrategySettingsIn, StrategySettingsOut

router = APIRouter(prefix="/strategies", tags=["strategies"], route_class=DecimalJSONRoute)
StrategyPath = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]


@router.get("/{strategy_id}/settings", response_model=StrategySettingsOut, responses=responses(),
            summary="A strategy's settings")
async def get_strategy_settings(strategy_id: StrategyPath, user: CurrentUser, strategies: StrategiesDep) -> dict[str, Any]:
    """The strategy's own starting capital (USD), or null when the user's applies."""
    return (await strategies.get(user.uid, strategy_id)).as_json()


@router.put("/{strategy_id}/settings", response_model=StrategySettingsOut, responses=responses(),
            summary="Change a strategy's settings")
async def put_strategy_settings(strategy_id: StrategyPath, body: StrategySettingsIn, user: CurrentUser,
                                strategies: StrategiesDep) -> dict[str, Any]:
    """A dashboard or metrics view filtered on this strategy measures its equity, returns and
    drawdown from this capital; ``conventions.equity_base`` says which base was used."""
    return (await strategies.set_capital(user.uid, strategy_id, body.starting_capital)).as_json()
