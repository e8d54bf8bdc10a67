"""``/trades``: execute, close, list and read shadow trades, and the shadow metrics."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, status

from .. import trades as trade_service
from ..deps import CurrentUser, SettingsDep, StoreDep
from ..errors import InvalidRequest
from ..dashboard_service import TradeFilter, dashboard_for, shadow_metrics_filtered
from ..quotes import SYMBOL_PATTERN
from ..routing import DecimalJSONResponse, DecimalJSONRoute
from ..schemas import (
    API_ERRORS,
    ID_PATTERN,
    TRADE_ID_PATTERN,
    CloseShadowTradeRequest,
    ErrorResponse,
    ExecuteTradeRequest,
    ShadowMetricsOut,
    TradeOut,
    TradePage,
)

router = APIRouter(prefix="/trades", tags=["trades"], route_class=DecimalJSONRoute)
_errors = API_ERRORS


def trade_filter(
    start_date: Annotated[date | None, Query(description="First close date (inclusive), user's time zone.")] = None,
    end_date: Annotated[date | None, Query(description="Last close date (inclusive), user's time zone.")] = None,
    source: Annotated[Literal["paper", "backtest", "live"] | None, Query()] = None,
    strategy_id: Annotated[str | None, Query(pattern=ID_PATTERN, max_length=128)] = None,
    symbol: Annotated[str | None, Query(pattern=SYMBOL_PATTERN, max_length=15)] = None,
) -> TradeFilter:
    """The filters shared by the metrics endpoints."""
    return TradeFilter(start_date=start_date, end_date=end_date, source=source,
                       strategy_id=strategy_id, symbol=symbol.upper() if symbol else None)


Filters = Annotated[TradeFilter, Depends(trade_filter)]


@router.post(
    "/execute",
    status_code=status.HTTP_201_CREATED,
    response_model=TradeOut,
    responses=_errors,
    summary="Execute a trade (shadow fill at the live quote, or a paper order)",
)
async def execute_trade(
    body: ExecuteTradeRequest,
    user: CurrentUser,
    store: StoreDep,
    settings: SettingsDep,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", pattern=ID_PATTERN, max_length=128)
    ] = None,
) -> dict[str, Any]:
    """Fill at the live quote (BUY at the ask, SELL at the bid) and store the shadow trade.

    With shadow mode off (``systemStatus/config.is_shadow_mode == false``) a paper order
    is recorded instead. An idempotency key (body or ``Idempotency-Key`` header) makes
    retries return the original trade.
    """
    if idempotency_key and body.idempotency_key and idempotency_key != body.idempotency_key:
        raise InvalidRequest(
            "The Idempotency-Key header and the body's idempotency_key differ.",
            code="idempotency_key_mismatch",
        )
    return await trade_service.execute_trade(
        store, settings, uid=user.uid, req=body, idempotency_key=idempotency_key or body.idempotency_key
    )


@router.post(
    "/close-shadow",
    response_model=TradeOut,
    responses={**_errors, 404: {"model": ErrorResponse, "description": "`trade_not_found`"}},
    summary="Close a shadow trade at the live quote and realize its P&L",
)
async def close_shadow_trade(
    body: CloseShadowTradeRequest, user: CurrentUser, store: StoreDep, settings: SettingsDep
) -> dict[str, Any]:
    """A long exits at the bid, a short at the ask (else the quote's price); a backtest
    trade exits at the given ``price`` and ``closed_at``. Closing a closed trade returns
    its stored result."""
    return await trade_service.close_shadow_trade(
        store, settings, uid=user.uid, shadow_id=body.shadow_id, exit_reason=body.exit_reason,
        price=body.price, closed_at=body.closed_at,
    )


@router.get(
    "/shadow/metrics",
    response_model=ShadowMetricsOut,
    responses=_errors,
    summary="Aggregate shadow P&L, win rate and drawdown of the caller",
)
async def get_shadow_trade_metrics(user: CurrentUser, store: StoreDep, filters: Filters) -> dict[str, Any]:
    """Realized, unrealized (marked at ``live_quotes``) and net P&L, win rate and the
    maximum drawdown of the cumulative realized P&L (seed ``001``). Date filters select
    CLOSED trades by close date; the other filters apply to OPEN trades too."""
    return (await shadow_metrics_filtered(store, uid=user.uid, flt=filters)).as_json()


@router.get(
    "/shadow/dashboard",
    response_class=DecimalJSONResponse,
    responses=_errors,
    summary="Dashboard metrics (seed 002 DashboardMetricsResponse plus extras)",
)
async def get_shadow_dashboard(user: CurrentUser, store: StoreDep, filters: Filters) -> DecimalJSONResponse:
    """Win rates, profit factor, averages, returns, CAGR, drawdown, Sharpe, Sortino, Calmar,
    expectancy, SQN, streaks, daily P&L, equity curve and breakdowns; numbers as JSON
    numbers with two decimals; ``conventions`` states how they were computed."""
    return DecimalJSONResponse(await dashboard_for(store, uid=user.uid, flt=filters))


@router.get("/shadow", response_model=TradePage, responses=_errors, summary="List the caller's shadow trades")
async def list_shadow_trades(
    user: CurrentUser,
    store: StoreDep,
    settings: SettingsDep,
    status_filter: Annotated[Literal["OPEN", "CLOSED"] | None, Query(alias="status")] = None,
    limit: Annotated[int | None, Query(ge=1, description="Page size (capped by PAGE_SIZE_MAX).")] = None,
    cursor: Annotated[str | None, Query(pattern=TRADE_ID_PATTERN)] = None,
) -> dict[str, Any]:
    """Newest first; ``next_cursor`` continues the listing."""
    size = limit or settings.PAGE_SIZE_DEFAULT
    if size > settings.PAGE_SIZE_MAX:
        raise InvalidRequest(
            f"limit must be at most {settings.PAGE_SIZE_MAX}.", code="page_size_too_large"
        )
    snaps = await store.list_trades(user.uid, status=status_filter, limit=size, after_id=cursor)
    items = [trade_service.trade_view(s.to_dict() or {}) for s in snaps]
    return {"items": items, "next_cursor": snaps[-1].id if len(snaps) == size else None}


@router.get(
    "/shadow/{shadow_id}",
    response_model=TradeOut,
    responses={**_errors, 404: {"model": ErrorResponse, "description": "`trade_not_found`"}},
    summary="One of the caller's shadow trades",
)
async def get_shadow_trade(
    user: CurrentUser,
    store: StoreDep,
    shadow_id: Annotated[str, Path(pattern=TRADE_ID_PATTERN)],
) -> dict[str, Any]:
    """Another user's trade id answers 404, like an unknown one."""
    return await trade_service.get_trade(store, uid=user.uid, shadow_id=shadow_id)
