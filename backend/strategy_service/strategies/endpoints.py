"""``/strategies/{strategy_id}/settings`` (a strategy's own starting capital) and the cost
models: ``/strategies/{strategy_id}/costs`` and the user's default ``/users/me/costs``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, status

from ..api.deps import CurrentUser, StrategiesDep
from ..api.errors import responses
from ..api.routing import DecimalJSONRoute
from ..api.schemas import ID_PATTERN
from .errors import InvalidCost
from .schemas import CostModelIn, CostModelOut, StrategySettingsIn, StrategySettingsOut

router = APIRouter(prefix="/strategies", tags=["strategies"], route_class=DecimalJSONRoute)
#: The user's default cost model (``/users/me/costs``).
defaults_router = APIRouter(prefix="/users/me", tags=["strategies"], route_class=DecimalJSONRoute)
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


@router.get("/{strategy_id}/costs", response_model=CostModelOut, responses=responses(),
            summary="The cost model of a strategy's fills")
async def get_strategy_costs(strategy_id: StrategyPath, user: CurrentUser, strategies: StrategiesDep) -> dict[str, Any]:
    """The model new fills of this strategy get: its own, else the user's default, else
    none (``applies`` says which)."""
    return (await strategies.get_costs(user.uid, strategy_id)).as_json()


@router.put("/{strategy_id}/costs", response_model=CostModelOut, responses=responses(InvalidCost),
            summary="Set the cost model of a strategy's fills")
async def put_strategy_costs(strategy_id: StrategyPath, body: CostModelIn, user: CurrentUser,
                             strategies: StrategiesDep) -> dict[str, Any]:
    """Replace the strategy's own model (fields left out are 0). Every fill records a copy
    of the model it was charged with, so a change applies to trades opened after it only."""
    return (await strategies.set_costs(user.uid, strategy_id, body.model_dump())).as_json()


@router.delete("/{strategy_id}/costs", response_model=CostModelOut, responses=responses(),
               summary="Remove a strategy's own cost model", status_code=status.HTTP_200_OK)
async def delete_strategy_costs(strategy_id: StrategyPath, user: CurrentUser, strategies: StrategiesDep) -> dict[str, Any]:
    """The user's default (or no cost) applies again to the strategy's new fills."""
    return (await strategies.set_costs(user.uid, strategy_id, None)).as_json()


@defaults_router.get("/costs", response_model=CostModelOut, responses=responses(),
                     summary="The user's default cost model")
async def get_default_costs(user: CurrentUser, strategies: StrategiesDep) -> dict[str, Any]:
    """The model of strategies without their own (``strategy_id`` null)."""
    return (await strategies.get_costs(user.uid, None)).as_json()


@defaults_router.put("/costs", response_model=CostModelOut, responses=responses(InvalidCost),
                     summary="Set the user's default cost model")
async def put_default_costs(body: CostModelIn, user: CurrentUser, strategies: StrategiesDep) -> dict[str, Any]:
    """Replace the default model of strategies without their own (fields left out are 0)."""
    return (await strategies.set_costs(user.uid, None, body.model_dump())).as_json()
