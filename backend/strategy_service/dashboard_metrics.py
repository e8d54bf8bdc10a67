"""Pure Decimal dashboard metrics (seed ``shared/seeds/002_42db1034cb52d2cd.txt``) and the
extra figures traders expect. No I/O.

Conventions (stated in every response, see :data:`CONVENTIONS`):
- a trade's P&L belongs to the day it is realized: its close date in the user's trading
  time zone;
- a trade with P&L > 0 is a win, < 0 a loss, exactly 0 break-even (neither; it still
  counts in the trade total, as the document's win-rate formula does);
- daily returns are ``daily P&L / equity at the start of that day`` (fractions), over
  trading days only (days with at least one closed trade);
- standard deviation is the population one (``np.std``, ddof 0) for Sharpe and Sortino,
  annualised by sqrt(252) with a 0 risk-free rate; SQN uses the sample one (ddof 1), as
  Van Tharp defines it;
- CAGR years = calendar days / 365.25, days counted from the first to the last trading day
  inclusive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from .aggregates import (
    R_SCALE,
    CellId,
    CellStats,
    OrderFold,
    Rollup,
    TradeFacts,
    aggregate,
    facts_of,
    fold_in_order,
    r_units_of,
)
from .money import HUNDRED, MONEY_CONTEXT, USD_QUANTUM, ZERO, localcontext, quantize

TRADING_DAYS_PER_YEAR = 252
DAYS_PER_YEAR = Decimal("365.25")
#: The quantum of every number of the dashboard JSON (USD, percent, ratios, R): 0.01.
DASHBOARD_QUANTUM = USD_QUANTUM

CONVENTIONS = {
    "day": "close date in the trading time zone (a trade's P&L belongs to the day it is realized)",
    "annualisation_days": TRADING_DAYS_PER_YEAR,
    "cagr_days_per_year": "365.25",
    "std_kind": "population (ddof=0) for sharpe and sortino; sample (ddof=1) for sqn",
    "risk_free_rate": "0",
    "daily_returns": "daily P&L / equity at the start of the day, trading days only",
    "win_definition": "pnl > 0 is a win, pnl < 0 a loss, pnl == 0 break-even (counted in total_trades)",
    "rounding": "ROUND_HALF_UP to 0.01",
    "r_multiple": "pnl / risk per trade, ROUND_HALF_UP to 0.0001 R",
    "trade_order": "close time to the microsecond, then trade id (streaks, trade-level drawdown)",
}


def q2(value: Decimal | None) -> Decimal | None:
    """Quantize to 0.01 half up (None stays None)."""
    return None if value is None else quantize(value, DASHBOARD_QUANTUM)


@dataclass(frozen=True)
class ClosedTrade:
    """One realized trade, the input of every dashboard metric.

    Attributes:
        pnl: realized P&L, USD.
        closed_at: when it was realized (timezone-aware).
        opened_at: when it was entered (timezone-aware), or None.
        symbol, strategy_id, source: for breakdowns and filters (source: paper, backtest, live).
        risk: initial risk in USD (``risk_amount``, or ``|entry - stop_loss| x quantity``),
            or None when the trade had neither; only trades with a risk have an R-multiple.
        trade_id: the shadow id; it orders trades closed in the same microsecond.
    """

    pnl: Decimal
    closed_at: datetime
    opened_at: datetime | None = None
    symbol: str = ""
    strategy_id: str = ""
    source: str = "paper"
    risk: Decimal | None = None
    trade_id: str = ""

    @property
    def r_multiple(self) -> Decimal | None:
        """``pnl / risk`` (seed 002, "R-Return") rounded half up to 0.0001 R, or None
        without a positive risk."""
        units = r_units_of(self.pnl, self.risk)
        return None if units is None else Decimal(units) / R_SCALE

    def facts(self, tz: ZoneInfo) -> TradeFacts:
        """Its integer :class:`~.aggregates.TradeFacts` (close day in ``tz``).

        Raises:
            ValueError: P&L or risk not in whole cents.
        """
        return facts_of(
            trade_id=self.trade_id, pnl=self.pnl, closed_at=self.closed_at, opened_at=self.opened_at,
            source=self.source, strategy_id=self.strategy_id, symbol=self.symbol, risk=self.risk, tz=tz,
        )


# ---------------------------------------------------------------------------- core ratios
def calculate_win_rate_trades(pnls: Sequence[Decimal]) -> Decimal:
    """Win rate by trades, percent: ``wins / total trades x 100`` (seed 002); 0 for no trades.

    Break-even trades count in the total but are not wins.
    """
    if not pnls:
        return ZERO
    with localcontext(MONEY_CONTEXT):
        return Decimal(sum(1 for p in pnls if p > 0)) / Decimal(len(pnls)) * HUNDRED


def calculate_win_rate_days(daily_pnls: Sequence[Decimal]) -> Decimal:
    """Win rate by days, percent: ``days with net P&L > 0 / trading days x 100`` (seed 002);
    0 for no days."""
    if not daily_pnls:
        return ZERO
    with localcontext(MONEY_CONTEXT):
        return Decimal(sum(1 for p in daily_pnls if p > 0)) / Decimal(len(daily_pnls)) * HUNDRED


def calculate_profit_factor(pnls: Sequence[Decimal]) -> tuple[Decimal | None, bool]:
    """Profit factor ``sum(gross wins) / |sum(gross losses)|`` (seed 002).

    Returns:
        ``(value, is_infinite)``: no trades -> ``(None, False)``; wins but no losses ->
        ``(None, True)`` (the document's "null (infinite)"); no wins -> ``(0, False)``;
        only break-even trades -> ``(None, False)``.
    """
    if not pnls:
        return None, False
    with localcontext(MONEY_CONTEXT):
        return profit_factor_from(sum((p for p in pnls if p > 0), ZERO), -sum((p for p in pnls if p < 0), ZERO))


def profit_factor_from(gross_wins: Decimal, gross_losses: Decimal) -> tuple[Decimal | None, bool]:
    """Profit factor from the gross profit and the gross loss (both >= 0, USD or cents):
    ``(gross_wins / gross_losses, False)``; ``(None, gross_wins > 0)`` without losses."""
    if gross_losses == 0:
        return None, gross_wins > 0
    with localcontext(MONEY_CONTEXT):
        return gross_wins / gross_losses, False


def calculate_average_win(pnls: Sequence[Decimal]) -> Decimal:
    """``sum(winning P&L) / count(wins)``, USD (seed 002); 0 without wins."""
    wins = [p for p in pnls if p > 0]
    with localcontext(MONEY_CONTEXT):
        return sum(wins, ZERO) / len(wins) if wins else ZERO


def calculate_average_loss(pnls: Sequence[Decimal]) -> Decimal:
    """``|sum(losing P&L)| / count(losses)``, USD, positive (seed 002); 0 without losses."""
    losses = [p for p in pnls if p < 0]
    with localcontext(MONEY_CONTEXT):
        return -sum(losses, ZERO) / len(losses) if losses else ZERO


def calculate_total_return(initial_capital: Decimal, final_equity: Decimal) -> Decimal:
    """``(final - initial) / initial x 100``, percent (seed 002); 0 when initial <= 0."""
    if initial_capital <= 0:
        return ZERO
    with localcontext(MONEY_CONTEXT):
        return (final_equity - initial_capital) / initial_capital * HUNDRED


def calculate_cagr(initial_capital: Decimal, final_value: Decimal, days_elapsed: int) -> Decimal:
    """CAGR ``((final / initial)^(1 / years) - 1) x 100`` with ``years = days / 365.25``,
    percent (seed 002).

    Edge cases: 0 when ``days_elapsed <= 0`` or ``initial <= 0`` (as the document); -100
    when the final value is <= 0 (everything lost: no real root exists).
    """
    if days_elapsed <= 0 or initial_capital <= 0:
        return ZERO
    if final_value <= 0:
        return -HUNDRED
    with localcontext(MONEY_CONTEXT):
        years = Decimal(days_elapsed) / DAYS_PER_YEAR
        return ((final_value / initial_capital) ** (1 / years) - 1) * HUNDRED


def calculate_max_drawdown(equity_curve: Sequence[Decimal]) -> Decimal:
    """Maximum drawdown, percent of peak equity, positive: ``max((peak - equity) / peak x 100)``
    (seed 002). 0 for an empty curve; points where the peak is <= 0 are skipped."""
    if not equity_curve:
        return ZERO
    peak = equity_curve[0]
    worst = ZERO
    with localcontext(MONEY_CONTEXT):
        for equity in equity_curve:
            if equity > peak:
                peak = equity
            if peak > 0:
                worst = max(worst, (peak - equity) / peak * HUNDRED)
    return worst


def _mean(values: Sequence[Decimal]) -> Decimal:
    return sum(values, ZERO) / len(values)


def _std(values: Sequence[Decimal], ddof: int) -> Decimal:
    return std_from_sums(len(values), sum(values, ZERO), sum((v * v for v in values), ZERO), ddof)


def std_from_sums(n: int, total: Decimal, squares: Decimal, ddof: int) -> Decimal:
    """Standard deviation from ``n``, the sum and the sum of squares:
    ``sqrt((n * squares - total^2) / (n * (n - ddof)))`` (one division, one square root,
    both correctly rounded at 60 digits, so an incremental and a full computation from
    the same exact sums agree to the last digit)."""
    with localcontext(MONEY_CONTEXT):
        return max((n * squares - total * total) / (n * (n - ddof)), ZERO).sqrt()


def calculate_sharpe_ratio(daily_returns: Sequence[Decimal]) -> Decimal | None:
    """Sharpe ``mean / std x sqrt(252)`` of daily returns, population std, risk-free 0
    (seed 002, ``np.std``). None below 2 returns or at zero deviation."""
    if len(daily_returns) < 2:
        return None
    with localcontext(MONEY_CONTEXT):
        std = _std(daily_returns, 0)
        if std == 0:
            return None
        return _mean(daily_returns) / std * Decimal(TRADING_DAYS_PER_YEAR).sqrt()


def calculate_sortino_ratio(daily_returns: Sequence[Decimal]) -> Decimal | None:
    """Sortino ``mean / downside deviation x sqrt(252)``; downside deviation
    ``sqrt(mean(min(r, 0)^2))`` over all returns (Sortino & Price 1994, target 0).
    None below 2 returns or without a negative return."""
    if len(daily_returns) < 2:
        return None
    with localcontext(MONEY_CONTEXT):
        downside = (sum((min(r, ZERO) ** 2 for r in daily_returns), ZERO) / len(daily_returns)).sqrt()
        if downside == 0:
            return None
        return _mean(daily_returns) / downside * Decimal(TRADING_DAYS_PER_YEAR).sqrt()


def calculate_calmar_ratio(cagr_percent: Decimal, max_drawdown_percent: Decimal) -> Decimal | None:
    """Calmar ``CAGR / max drawdown`` (both percent; Young 1991); None without drawdown."""
    if max_drawdown_percent <= 0:
        return None
    with localcontext(MONEY_CONTEXT):
        return cagr_percent / max_drawdown_percent


def calculate_sqn(r_multiples: Sequence[Decimal]) -> Decimal | None:
    """System Quality Number ``sqrt(n) x mean(R) / std(R)``, sample std (Van Tharp).
    None below 2 R-multiples or at zero deviation."""
    with localcontext(MONEY_CONTEXT):
        return sqn_from_sums(len(r_multiples), sum(r_multiples, ZERO), sum((r * r for r in r_multiples), ZERO))


def sqn_from_sums(n: int, total: Decimal, squares: Decimal) -> Decimal | None:
    """SQN from the count, sum and sum of squares of the R-multiples (see
    :func:`calculate_sqn`)."""
    if n < 2:
        return None
    with localcontext(MONEY_CONTEXT):
        std = std_from_sums(n, total, squares, 1)
        if std == 0:
            return None
        return Decimal(n).sqrt() * (total / n) / std


def max_consecutive(pnls: Iterable[Decimal]) -> tuple[int, int]:
    """Longest runs of wins and of losses in close order; a break-even trade ends both runs."""
    best_w = best_l = run_w = run_l = 0
    for p in pnls:
        run_w = run_w + 1 if p > 0 else 0
        run_l = run_l + 1 if p < 0 else 0
        best_w, best_l = max(best_w, run_w), max(best_l, run_l)
    return best_w, best_l




# ------------------------------------------------------------------- days and the curve
@dataclass(frozen=True)
class DayPerformance:
    """One trading day (close dates in the trading time zone).

    Attributes:
        date: the day.
        pnl: net realized P&L, USD.
        trades: trades closed that day.
        start_equity: equity at the start of the day (starting capital + earlier days), USD.
        equity: equity at the end of the day, USD.
        drawdown_percent: ``(peak - equity) / peak x 100`` with the peak including the
            starting capital, positive.
        return_percent: ``pnl / start_equity x 100`` (the document's percentage mode).
        r_total: sum of the R-multiples of the day's trades with a risk (None if none).
    """

    date: date
    pnl: Decimal
    trades: int
    start_equity: Decimal
    equity: Decimal
    drawdown_percent: Decimal
    return_percent: Decimal
    r_total: Decimal | None


def daily_performance(by_day: Mapping[date, CellStats], *, starting_capital: Decimal) -> list[DayPerformance]:
    """The equity curve with its drawdown (seed 002, "Daily Equity Calculation"), in date
    order, from each trading day's summed cells."""
    out: list[DayPerformance] = []
    equity = peak = starting_capital
    with localcontext(MONEY_CONTEXT):
        for day in sorted(by_day):
            stats = by_day[day]
            pnl = Decimal(stats.pnl) / HUNDRED
            start = equity
            equity = start + pnl
            peak = max(peak, equity)
            out.append(
                DayPerformance(
                    date=day,
                    pnl=pnl,
                    trades=stats.n,
                    start_equity=start,
                    equity=equity,
                    drawdown_percent=(peak - equity) / peak * HUNDRED if peak > 0 else ZERO,
                    return_percent=pnl / start * HUNDRED if start > 0 else ZERO,
                    r_total=Decimal(stats.rs) / R_SCALE if stats.rn else None,
                )
            )
    return out


# ----------------------------------------------------------------------- breakdowns
def _counts(stats: CellStats) -> dict[str, object]:
    pf, pf_inf = profit_factor_from(Decimal(stats.gp), Decimal(stats.gl))
    with localcontext(MONEY_CONTEXT):
        return {
            "trades": stats.n,
            "wins": stats.w,
            "losses": stats.l,
            "break_even": stats.e,
            "total_pnl": q2(Decimal(stats.pnl) / HUNDRED),
            "win_rate": q2(Decimal(stats.w) / stats.n * HUNDRED if stats.n else ZERO),
            "profit_factor": q2(pf),
            "profit_factor_infinite": pf_inf,
        }


def breakdown(groups: Mapping[tuple[str, str], CellStats], key: str) -> list[dict[str, object]]:
    """Per-``key`` (``symbol``/``strategy_id``/``source``) figures from the rollup groups:
    trades, wins, losses, break-even, total P&L (USD), win rate (percent), profit factor;
    sorted by key."""
    return [{key: name, **_counts(groups[(dim, name)])} for dim, name in sorted(groups) if dim == key]


# ------------------------------------------------------------------------ the whole set
def compute_dashboard(
    trades: Iterable[ClosedTrade],
    *,
    starting_capital: Decimal,
    tz: ZoneInfo,
) -> dict[str, object]:
    """Every dashboard figure for a set of closed trades (already filtered): the full
    recomputation, :func:`dashboard_from_aggregates` of the trades' cells and order fold.

    Args:
        trades: the realized trades (P&L and risk in whole cents).
        starting_capital: equity before the first trade, USD (> 0).
        tz: the trading time zone that defines a day.

    Returns:
        See :func:`dashboard_from_aggregates`.
    """
    facts = [t.facts(tz) for t in trades]
    rollup = Rollup.of_cells({CellId.parse(k): v for k, v in aggregate(facts).items()})
    return dashboard_from_aggregates(rollup, fold_in_order(facts), starting_capital=starting_capital, tz=tz)


def dashboard_from_aggregates(
    rollup: Rollup,
    fold: OrderFold,
    *,
    starting_capital: Decimal,
    tz: ZoneInfo,
) -> dict[str, object]:
    """Every dashboard figure from the cells of the selected trades and their order fold.

    Args:
        rollup: the selected trades summed per day and per breakdown group.
        fold: the :class:`~.aggregates.OrderFold` of the same trades in close order (for
            the streaks).
        starting_capital: equity before the first trade, USD (> 0).
        tz: the trading time zone that defines a day (reported in ``conventions``).

    Returns:
        The ``DashboardMetricsResponse`` of seed 002 (its field names) plus the extra
        metrics; every number a ``Decimal`` quantized to 0.01 (or int, or None). Days and
        P&L follow :data:`CONVENTIONS`, which the result repeats under ``conventions``.
    """
    total = rollup.total()
    days = daily_performance(rollup.by_day, starting_capital=starting_capital)
    n = total.n
    with localcontext(MONEY_CONTEXT):
        total_pnl = Decimal(total.pnl) / HUNDRED
        final_equity = starting_capital + total_pnl
        daily_returns = [d.pnl / d.start_equity for d in days if d.start_equity > 0]
        days_elapsed = (days[-1].date - days[0].date).days + 1 if days else 0
        cagr = calculate_cagr(starting_capital, final_equity, days_elapsed)
        max_dd = calculate_max_drawdown([starting_capital] + [d.equity for d in days])
        pf, pf_inf = profit_factor_from(Decimal(total.gp), Decimal(total.gl)) if n else (None, False)
        avg_win = Decimal(total.gp) / HUNDRED / total.w if total.w else ZERO
        avg_loss = Decimal(total.gl) / HUNDRED / total.l if total.l else ZERO
        r_sum = Decimal(total.rs) / R_SCALE
        avg_risk = Decimal(total.rk) / HUNDRED / total.rn if total.rn else None
        payoff = None if avg_loss == 0 else avg_win / avg_loss
        result: dict[str, object] = {
            "total_trades": n,
            "win_rate_trades": q2(Decimal(total.w) / n * HUNDRED if n else ZERO),
            "win_rate_days": q2(calculate_win_rate_days([d.pnl for d in days])),
            "profit_factor": q2(pf),
            "profit_factor_infinite": pf_inf,
            "avg_win": q2(avg_win),
            "avg_loss": q2(avg_loss),
            "total_pnl": q2(total_pnl),
            "total_return": q2(calculate_total_return(starting_capital, final_equity)),
            "daily_pnl": [
                {
                    "date": d.date.isoformat(),
                    "pnl": q2(d.pnl),
                    "trades": d.trades,
                    "return_percent": q2(d.return_percent),
                    "r_return": q2(d.r_total),
                    "r_units": q2(d.pnl / avg_risk) if avg_risk else None,
                }
                for d in days
            ],
            "equity_curve": [
                {"date": d.date.isoformat(), "equity": q2(d.equity), "drawdown": q2(d.drawdown_percent),
                 "daily_pnl": q2(d.pnl)}
                for d in days
            ],
            "start_date": days[0].date.isoformat() if days else None,
            "end_date": days[-1].date.isoformat() if days else None,
            "trading_days": len(days),
            # beyond the document
            "winning_trades": total.w,
            "losing_trades": total.l,
            "break_even_trades": total.e,
            "largest_win": q2(Decimal(total.mx) / HUNDRED) if total.mx is not None and total.mx > 0 else None,
            "largest_loss": q2(Decimal(total.mn) / HUNDRED) if total.mn is not None and total.mn < 0 else None,
            "expectancy": q2(total_pnl / n) if n else None,
            "expectancy_r": q2(r_sum / total.rn) if total.rn else None,
            "payoff_ratio": q2(payoff),
            "cagr": q2(cagr),
            "max_drawdown": q2(max_dd),
            "sharpe_ratio": q2(calculate_sharpe_ratio(daily_returns)),
            "sortino_ratio": q2(calculate_sortino_ratio(daily_returns)),
            "calmar_ratio": q2(calculate_calmar_ratio(cagr, max_dd)),
            "sqn": q2(sqn_from_sums(total.rn, r_sum, Decimal(total.rq) / (R_SCALE * R_SCALE))),
            "max_consecutive_wins": fold.best_w,
            "max_consecutive_losses": fold.best_l,
            "avg_holding_hours": q2(Decimal(total.hs) / total.hn / 3_600_000_000) if total.hn else None,
            "r_trades": total.rn,
            "trades_without_risk": n - total.rn,
            "avg_risk_per_trade": q2(avg_risk),
            "starting_capital": q2(starting_capital),
            "final_equity": q2(final_equity),
            "by_symbol": breakdown(rollup.groups, "symbol"),
            "by_strategy": breakdown(rollup.groups, "strategy_id"),
            "by_source": breakdown(rollup.groups, "source"),
            "conventions": {**CONVENTIONS, "time_zone": tz.key, "starting_capital": str(q2(starting_capital))},
        }
    return result
