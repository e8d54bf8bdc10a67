"""``/users/me/settings`` and the story's ``/api/metrics``."""

from __future__ import annotations


from fastapi import APIRouter

from ..dashboard_service import load_user_settings, metrics_record_view, update_user_settings
from ..deps import CurrentUser, StoreDep
from ..routing import DecimalJSONResponse, DecimalJSONRoute
from ..schemas import API_ERRORS, UserSettingsIn, UserSettingsOut

router = APIRouter(tags=["users"], route_class=DecimalJSONRoute)
_errors = API_ERRORS


@router.get("/users/me/settings", response_model=UserSettingsOut, responses=_errors, summary="The caller's settings")
async def get_settings(user: CurrentUser, store: StoreDep) -> dict[str, str]:
    """Starting capital (USD, default 100000.00) and trading time zone (default America/New_York)."""
    return (await load_user_settings(store, user.uid)).as_json()


@router.put("/users/me/settings", response_model=UserSettingsOut, responses=_errors, summary="Change the caller's settings")
async def put_settings(body: UserSettingsIn, user: CurrentUser, store: StoreDep) -> dict[str, str]:
    """Fields left out keep their value."""
    settings = await update_user_settings(
        store, user.uid, starting_capital=body.starting_capital, timezone=body.timezone
    )
    return settings.as_json()


@router.get("/api/metrics", response_class=DecimalJSONResponse, responses=_errors, summary="The caller's incremental trade metrics")
async def get_api_metrics(user: CurrentUser, store: StoreDep) -> DecimalJSONResponse:
    """Story 4.3.2's record (``totalTrades``, ``winRate``, ``totalPnl``, ``averagePnlPerTrade``),
    updated atomically with every close; numbers with two decimals."""
    return DecimalJSONResponse(metrics_record_view(await store.get_metrics_record(user.uid)))
