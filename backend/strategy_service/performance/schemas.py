"""HTTP models of the performance endpoints. The dashboard and ``/api/metrics`` write
numbers as JSON numbers from ``Decimal`` (``JsonDecimal``), the shadow metrics as decimal
strings, as their specifications show them."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pydantic import BaseModel, Field

from ..api.schemas import JsonDecimal
from ..core.dashboard import Breakdown, Dashboard
from .filters import TradeFilter


class ShadowMetricsOut(BaseModel):
    """``GET /trades/shadow/metrics`` (shadow-mode trade metrics specification): money and
    percentages as decimal strings."""

    realized_pnl: str
    unrealized_pnl: str
    net_pnl: str
    win_rate: str
    closed_trades: int
    open_trades: int
    wins: int
    max_drawdown_usd: str
    max_drawdown_percent: str
    gross_pnl: str = Field(description="Realized P&L before commissions, USD.")
    total_commission: str = Field(description="Commissions of the closed trades (entry + exit), USD.")
    total_slippage: str = Field(description="Slippage inside the closed trades' fill prices, USD (shown, not "
                                            "subtracted again).")
    conventions: dict[str, str] = Field(description="How each figure is computed, its drawdown bases in words.")


class ApiMetricsOut(BaseModel):
    """``GET /api/metrics``: the per-trade metrics record (percent and USD to 0.01)."""

    totalTrades: int
    winRate: JsonDecimal = Field(description="wins / totalTrades x 100, percent")
    totalPnl: JsonDecimal = Field(description="USD")
    averagePnlPerTrade: JsonDecimal = Field(description="totalPnl / totalTrades, USD")
    wins: int
    losses: int
    breakEven: int


class DailyPnlOut(BaseModel):
    """One day of the daily P&L calendar ($, % and R modes)."""

    date: str
    pnl: JsonDecimal = Field(description="net realized P&L of the day, USD")
    trades: int
    return_percent: JsonDecimal | None = Field(
        description="pnl / equity at the day's start x 100; null when the day starts at zero or negative equity")
    r_return: JsonDecimal | None = Field(description="sum of the day's R-multiples")
    r_units: JsonDecimal | None = Field(description="pnl / average risk per trade, R")


class EquityPointOut(BaseModel):
    """End-of-day equity (USD) and drawdown from the peak (percent, positive)."""

    date: str
    equity: JsonDecimal
    drawdown: JsonDecimal
    daily_pnl: JsonDecimal


class _GroupFigures(BaseModel):
    trades: int
    wins: int
    losses: int
    break_even: int
    total_pnl: JsonDecimal
    win_rate: JsonDecimal
    profit_factor: JsonDecimal | None
    profit_factor_infinite: bool


class _SymbolKey(BaseModel):
    symbol: str


class _StrategyKey(BaseModel):
    strategy_id: str


class _SourceKey(BaseModel):
    source: str


# pydantic collects fields from the bases in reverse MRO order: the key comes first
class BySymbol(_GroupFigures, _SymbolKey):
    """Figures of one symbol."""


class ByStrategy(_GroupFigures, _StrategyKey):
    """Figures of one strategy."""


class BySource(_GroupFigures, _SourceKey):
    """Figures of one source (paper, backtest, live)."""


class FiltersOut(BaseModel):
    """The filters the answer applied."""

    start_date: str | None
    end_date: str | None
    source: str | None
    strategy_id: str | None
    symbol: str | None


class DashboardOut(BaseModel):
    """``GET /trades/shadow/dashboard``: the dashboard metrics specification's
    ``DashboardMetricsResponse`` plus the extra figures; numbers are JSON numbers with two
    decimals; ``conventions`` states how they were computed (docs/metrics.md)."""

    total_trades: int
    win_rate_trades: JsonDecimal
    win_rate_days: JsonDecimal
    profit_factor: JsonDecimal | None
    profit_factor_infinite: bool
    avg_win: JsonDecimal
    avg_loss: JsonDecimal
    total_pnl: JsonDecimal
    total_return: JsonDecimal
    gross_pnl: JsonDecimal = Field(description="Realized P&L before commissions, USD (total_pnl is net).")
    total_commission: JsonDecimal = Field(description="Commissions, entry and exit fills, USD.")
    total_slippage: JsonDecimal = Field(description="Slippage inside the fill prices, USD (in gross_pnl already).")
    daily_pnl: list[DailyPnlOut]
    equity_curve: list[EquityPointOut]
    start_date: str | None
    end_date: str | None
    trading_days: int
    winning_trades: int
    losing_trades: int
    break_even_trades: int
    largest_win: JsonDecimal | None
    largest_loss: JsonDecimal | None
    expectancy: JsonDecimal | None
    expectancy_r: JsonDecimal | None
    payoff_ratio: JsonDecimal | None
    cagr: JsonDecimal | None = Field(description="percent; null below a year of window (conventions.cagr says why)")
    max_drawdown: JsonDecimal
    sharpe_ratio: JsonDecimal | None
    sortino_ratio: JsonDecimal | None
    volatility: JsonDecimal | None = Field(description="annualised standard deviation of daily returns, percent")
    calmar_ratio: JsonDecimal | None
    sqn: JsonDecimal | None
    max_consecutive_wins: int
    max_consecutive_losses: int
    avg_holding_hours: JsonDecimal | None
    r_trades: int
    trades_without_risk: int
    avg_risk_per_trade: JsonDecimal | None
    starting_capital: JsonDecimal
    final_equity: JsonDecimal
    by_symbol: list[BySymbol]
    by_strategy: list[ByStrategy]
    by_source: list[BySource]
    conventions: dict[str, Any] = Field(description="How the figures were computed: day, calendar, ddof, bases.")
    filters: FiltersOut

    @classmethod
    def of(cls, dashboard: Dashboard, flt: TradeFilter) -> DashboardOut:
        """The answer for ``dashboard`` computed under ``flt``."""
        data = asdict(dashboard)
        for name in ("by_symbol", "by_strategy", "by_source"):
            data[name] = [_group_row(row) for row in getattr(dashboard, name)]
        return cls.model_validate({**data, "filters": flt.as_json()})


def _group_row(row: Breakdown) -> dict[str, Any]:
    data = asdict(row)
    return {row.key: data.pop("value"), **{k: v for k, v in data.items() if k != "key"}}
