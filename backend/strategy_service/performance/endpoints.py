"""Performance endpoints: ``/trades/shadow/metrics``, ``/trades/shadow/dashboard`` and
``/api/metrics``, all read from the aggregates every close maintains."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from ..api.deps import CurrentUser, PerformanceDep
from ..api.errors import responses
from ..api.routing import DecimalJSONResponse, DecimalJSONRoute
from ..api.schemas import ID_PATTERN
from ..quotes.service import SYMBOL_PATTERN
from .errors import InvalidDateRange
from .filters import TradeFilter
from .schemas import ApiMetricsOut, DashboardOut, ShadowMetricsOut

router = APIRouter(tags=["performance"], route_class=DecimalJSONRoute)


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


@router.get("/trades/shadow/metrics", response_model=ShadowMetricsOut, responses=responses(InvalidDateRange),
            summary="Aggregate shadow P&L, win rate and drawdown of the caller")
async def get_shadow_trade_metrics(user: CurrentUser, performance: PerformanceDep, filters: Filters) -> dict[str, Any]:
    """Realized, unrealized (marked at ``live_quotes``) and net P&L, win rate and the
    maximum drawdown of the cumulative realized P&L (shadow-mode trade metrics
    specification). Date filters select CLOSED trades by close date; the other filters
    apply to OPEN trades too."""
    return (await performance.shadow_metrics(user.uid, filters)).as_json()


@router.get("/trades/shadow/dashboard", response_model=DashboardOut, response_class=DecimalJSONResponse,
            responses=responses(InvalidDateRange), summary="Dashboard metrics of the caller's closed trades")
async def get_shadow_dashboard(user: CurrentUser, performance: PerformanceDep, filters: Filters) -> DecimalJSONResponse:
    """Win rates, profit factor, averages, returns, CAGR, drawdown, Sharpe, Sortino, Calmar,
    expectancy, SQN, streaks, daily P&L, equity curve and breakdowns (dashboard metrics
    specification plus extras); numbers as JSON numbers with two decimals;
    ``conventions`` states how they were computed."""
    dashboard = await performance.dashboard(user.uid, filters)
    return DecimalJSONResponse(DashboardOut.of(dashboard, filters).model_dump())


@router.get("/api/metrics", response_model=ApiMetricsOut, response_class=DecimalJSONResponse, responses=responses(),
            summary="The caller's incremental trade metrics")
async def get_api_metrics(user: CurrentUser, performance: PerformanceDep) -> DecimalJSONResponse:
    """The per-trade metrics record (``totalTrades``, ``winRate``, ``totalPnl``,
    ``averagePnlPerTrade``), updated atomically with every close; numbers with two decimals."""
    record = ApiMetricsOut.model_validate(await performance.api_metrics(user.uid))
    return DecimalJSONResponse(record.model_dump())
