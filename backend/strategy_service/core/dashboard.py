"""The dashboard: every figure of the dashboard metrics specification, and the extra figures
traders expect, computed from aggregates. Pure ``Decimal``, no I/O.

One path computes them: :func:`dashboard_from_aggregates` over the selected trades' day
and group rollups and their order fold. The full recomputation
(:func:`compute_dashboard`, used by ``verify`` and by the tests of the specification's
worked examples) builds those aggregates from trades in memory and calls it.

Conventions (stated in every response, see :data:`CONVENTIONS`):
- a trade's P&L belongs to the day it is realized: its close date in the user's trading
  time zone;
- a trade with P&L > 0 is a win, < 0 a loss, exactly 0 break-even (neither; it still
  counts in the trade total, as the specification's win-rate formula does);
- daily returns are ``daily P&L / equity at the start of that day`` (fractions), over
  trading days only (days with at least one closed trade);
- standard deviation is the population one (``np.std``, ddof 0) for Sharpe and Sortino,
  annualised by sqrt(252) with a 0 risk-free rate; SQN uses the sample one (ddof 1), as
  Van Tharp defines it;
- CAGR years = calendar days / 365.25, days counted from the first to the last trading day
  inclusive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from . import formulas as f
from .aggregates import R_SCALE, CellId, CellStats, ClosedTrade, OrderFold, Rollup, aggregate, fold_in_order
from .calendars import DEFAULT_CALENDAR, annualisation, sessions_between
from .money import MONEY_CONTEXT, USD_QUANTUM, ZERO, localcontext, quantize, to_plain_str, usd_from_cents

#: The quantum of every number of the dashboard JSON (USD, percent, ratios, R): 0.01.
DASHBOARD_QUANTUM = USD_QUANTUM
#: Microseconds per hour (holding times are stored in microseconds).
US_PER_HOUR = 3_600_000_000

CONVENTIONS: dict[str, Any] = {
    "day": "close date in the trading time zone (a trade's P&L belongs to the day it is realized)",
    "cagr_days_per_year": str(f.DAYS_PER_YEAR),
    "std_kind": "population (ddof=0) for sharpe, sortino and volatility; sample (ddof=1) for sqn",
    "risk_free_rate": "0",
    "daily_returns": ("daily P&L / equity at the start of the day, over every session of the calendar from the "
                      "window's first day (the first fill, or start_date) to its last (the last close, or end_date), "
                      "zero-P&L sessions included, and every close day outside the calendar"),
    "pnl_basis": ("net: every P&L, return, ratio, win and loss is realized P&L net of commissions (total_pnl = "
                  "gross_pnl - total_commission); slippage is inside the fill prices, so it is in gross_pnl too and "
                  "total_slippage shows it without subtracting it again"),
    "partial_closes": ("a position closed in parts realizes each part on the day it is closed (daily P&L, equity "
                       "curve, returns, drawdown, total_pnl); the trade figures (total_trades, wins, losses, win rate, "
                       "averages, profit factor, expectancy, largest win and loss, R, holding time, streaks) count "
                       "it once, on the day it is fully closed, with its total net P&L"),
    "win_definition": "pnl > 0 is a win, pnl < 0 a loss, pnl == 0 break-even (counted in total_trades)",
    "rounding": "ROUND_HALF_UP to 0.01",
    "r_multiple": "pnl / risk per trade, ROUND_HALF_UP to 0.0001 R",
    "trade_order": "close time to the microsecond, then trade id (streaks, trade-level drawdown)",
    "drawdown": "max_drawdown: the largest fall of end-of-day equity from its running peak (the window's starting "
                "equity included), percent of that peak",
}
#: CAGR and Calmar are annualised only over a window of at least this many days.
MIN_ANNUALISED_DAYS = 365


def q2(value: Decimal | None) -> Decimal | None:
    """Quantize to 0.01 half up (None stays None)."""
    return None if value is None else quantize(value, DASHBOARD_QUANTUM)


@dataclass(frozen=True)
class DayPerformance:
    """One trading day of the equity curve (close dates in the trading time zone).

    Attributes:
        date: the day.
        pnl: net realized P&L, USD.
        trades: trades closed that day.
        start_equity: equity at the start of the day (starting capital + earlier days), USD.
        equity: equity at the end of the day, USD.
        drawdown_percent: ``(peak - equity) / peak x 100`` with the peak including the
            starting capital, positive.
        return_percent: ``pnl / start_equity x 100`` (the specification's percentage mode),
            None when the day starts at zero or negative equity.
        r_total: sum of the R-multiples of the day's trades with a risk (None if none).
    """

    date: date
    pnl: Decimal
    trades: int
    start_equity: Decimal
    equity: Decimal
    drawdown_percent: Decimal
    return_percent: Decimal | None
    r_total: Decimal | None


def daily_performance(by_day: Mapping[date, CellStats], *, starting_capital: Decimal) -> list[DayPerformance]:
    """The equity curve with its drawdown (dashboard metrics specification, "Daily Equity
    Calculation"), in date order, from each trading day's summed cells. A day that starts
    at zero or negative equity has no return (``return_percent`` None)."""
    out: list[DayPerformance] = []
    equity = peak = starting_capital
    with localcontext(MONEY_CONTEXT):
        for day in sorted(by_day):
            stats = by_day[day]
            pnl = usd_from_cents(stats.pnl)
            start = equity
            equity = start + pnl
            peak = max(peak, equity)
            out.append(DayPerformance(
                date=day, pnl=pnl, trades=stats.n, start_equity=start, equity=equity,
                drawdown_percent=f.drawdown_percent(peak, equity),
                return_percent=pnl / start * 100 if start > 0 else None,
                r_total=Decimal(stats.rs) / R_SCALE if stats.rn else None,
            ))
    return out


def session_returns(days: list[DayPerformance], sessions: list[date], *, base: Decimal) -> tuple[list[Decimal], int]:
    """Daily returns (fractions) over ``sessions`` and the close days: a session without a
    close returns 0; a day that starts at zero or negative equity has none.

    Returns:
        ``(returns, days_without_return)``.
    """
    pnl = {d.date: d.pnl for d in days}
    returns, undefined = [], 0
    equity = base
    with localcontext(MONEY_CONTEXT):
        for day in sorted(set(sessions) | set(pnl)):
            if equity > 0:
                returns.append(pnl.get(day, ZERO) / equity)
            else:
                undefined += 1
            equity += pnl.get(day, ZERO)
    return returns, undefined


@dataclass(frozen=True)
class DailyPnl:
    """One day of the daily P&L calendar: the $ (``pnl``), % (``return_percent``) and R
    (``r_return``: sum of R-multiples; ``r_units``: P&L / average risk per trade) modes."""

    date: str
    pnl: Decimal
    trades: int
    return_percent: Decimal | None
    r_return: Decimal | None
    r_units: Decimal | None


@dataclass(frozen=True)
class EquityPoint:
    """End-of-day equity (USD), its drawdown from the peak (percent) and the day's P&L."""

    date: str
    equity: Decimal
    drawdown: Decimal
    daily_pnl: Decimal


@dataclass(frozen=True)
class Breakdown:
    """Figures of one group (a symbol, a strategy or a source): counts, total P&L (USD),
    win rate (percent), profit factor."""

    key: str
    value: str
    trades: int
    wins: int
    losses: int
    break_even: int
    total_pnl: Decimal
    win_rate: Decimal
    profit_factor: Decimal | None
    profit_factor_infinite: bool


@dataclass(frozen=True)
class Dashboard:
    """Every dashboard figure (the specification's ``DashboardMetricsResponse`` plus the
    extras), each ``Decimal`` quantized to 0.01 (or an int, a bool, a date string, None).
    Field order is the order of the JSON answer."""

    total_trades: int
    win_rate_trades: Decimal
    win_rate_days: Decimal
    profit_factor: Decimal | None
    profit_factor_infinite: bool
    avg_win: Decimal
    avg_loss: Decimal
    total_pnl: Decimal
    total_return: Decimal
    gross_pnl: Decimal
    total_commission: Decimal
    total_slippage: Decimal
    daily_pnl: list[DailyPnl]
    equity_curve: list[EquityPoint]
    start_date: str | None
    end_date: str | None
    trading_days: int
    winning_trades: int
    losing_trades: int
    break_even_trades: int
    largest_win: Decimal | None
    largest_loss: Decimal | None
    expectancy: Decimal | None
    expectancy_r: Decimal | None
    payoff_ratio: Decimal | None
    cagr: Decimal | None
    max_drawdown: Decimal
    sharpe_ratio: Decimal | None
    sortino_ratio: Decimal | None
    volatility: Decimal | None
    calmar_ratio: Decimal | None
    sqn: Decimal | None
    max_consecutive_wins: int
    max_consecutive_losses: int
    avg_holding_hours: Decimal | None
    r_trades: int
    trades_without_risk: int
    avg_risk_per_trade: Decimal | None
    starting_capital: Decimal
    final_equity: Decimal
    by_symbol: list[Breakdown]
    by_strategy: list[Breakdown]
    by_source: list[Breakdown]
    conventions: dict[str, Any]


def breakdown(groups: Mapping[tuple[str, str], CellStats], key: str) -> list[Breakdown]:
    """Per-``key`` (``symbol``/``strategy_id``/``source``) figures from the rollup groups,
    sorted by value."""
    out = []
    for dim, name in sorted(groups):
        if dim != key:
            continue
        stats = groups[(dim, name)]
        pf, pf_inf = f.profit_factor(Decimal(stats.gp), Decimal(stats.gl))
        out.append(Breakdown(
            key=key, value=name, trades=stats.n, wins=stats.w, losses=stats.l, break_even=stats.e,
            total_pnl=q2(usd_from_cents(stats.pnl)), win_rate=q2(f.win_rate(stats.w, stats.n)),
            profit_factor=q2(pf), profit_factor_infinite=pf_inf,
        ))
    return out


@dataclass(frozen=True)
class Basis:
    """What the selection's equity and daily returns are measured against.

    Attributes:
        starting_capital: the account's equity before its first trade, USD (the user's
            setting, or the strategy's own when the selection is one strategy).
        capital_source: what that capital is, in words (``user starting capital``...).
        prior_pnl: P&L the selection realized before the window (a ``start_date``), USD:
            the window's equity continues the account's.
        start, end: the window's first and last day (``start_date``, ``end_date`` capped
            at today); None: the first fill, and the last close.
        calendar: the trading calendar of the daily returns (exchange-calendars name).
    """

    starting_capital: Decimal
    capital_source: str = "user starting capital"
    prior_pnl: Decimal = ZERO
    start: date | None = None
    end: date | None = None
    calendar: str = DEFAULT_CALENDAR


def dashboard_from_aggregates(rollup: Rollup, fold: OrderFold, *, starting_capital: Decimal, tz: ZoneInfo,
                              basis: Basis | None = None) -> Dashboard:
    """Every dashboard figure from the cells of the selected trades and their order fold.

    Args:
        rollup: the selected trades (closed in the window) summed per day and per group.
        fold: the :class:`~.aggregates.OrderFold` of the same trades in close order (for
            the streaks).
        starting_capital: equity before the account's first trade, USD (> 0).
        tz: the trading time zone that defines a day (reported in ``conventions``).
        basis: the window, the P&L realized before it and the calendar (default: no
            window, an XNYS calendar, the given capital).

    Returns:
        The :class:`Dashboard`. The window starts at ``starting_capital + prior_pnl``.
        Sharpe, Sortino and volatility cover every session of the window (zero-P&L
        sessions included, and close days outside the calendar), population std,
        annualised by the calendar's sessions per year. CAGR and Calmar are null below
        :data:`MIN_ANNUALISED_DAYS` days; a day that starts at zero or negative equity has
        no return. ``conventions`` states all of it.
    """
    basis = basis or Basis(starting_capital)
    total = rollup.total()
    n = total.n
    with localcontext(MONEY_CONTEXT):
        base = basis.starting_capital + basis.prior_pnl
        days = daily_performance(rollup.by_day, starting_capital=base)
        total_pnl = usd_from_cents(total.pnl)
        final_equity = base + total_pnl
        first = basis.start or (datetime.fromtimestamp(total.fo / 1_000_000, tz).date() if total.fo is not None
                                else days[0].date if days else None)
        last = basis.end or (days[-1].date if days else None)
        if first is not None and days:
            first = min(first, days[0].date)
        span = (last - first).days + 1 if first is not None and last is not None and last >= first else 0
        sessions = sessions_between(basis.calendar, first, last) if span else []
        returns, undefined = session_returns(days, sessions, base=base) if days else ([], 0)
        periods = annualisation(basis.calendar)
        cagr = f.cagr(base, final_equity, span) if span >= MIN_ANNUALISED_DAYS else None
        max_dd = max((d.drawdown_percent for d in days), default=Decimal(0))
        volatility = (f.std_from_sums(len(returns), sum(returns, ZERO), sum((r * r for r in returns), ZERO), 0)
                      * Decimal(periods).sqrt() if len(returns) >= 2 else None)
        pf, pf_inf = f.profit_factor(Decimal(total.gp), Decimal(total.gl)) if n else (None, False)
        avg_win = f.average(usd_from_cents(total.gp), total.w)
        avg_loss = f.average(usd_from_cents(total.gl), total.l)
        r_sum = Decimal(total.rs) / R_SCALE
        avg_risk = f.ratio(usd_from_cents(total.rk), total.rn) if total.rn else None
        conventions = {
            **CONVENTIONS,
            "time_zone": tz.key,
            "starting_capital": str(q2(basis.starting_capital)),
            "equity_base": (f"{basis.capital_source} {to_plain_str(q2(basis.starting_capital))} USD"
                            + (f" + {to_plain_str(q2(basis.prior_pnl))} USD realized before {basis.start.isoformat()}"
                               if basis.start is not None else "")
                            + f" = {to_plain_str(q2(base))} USD at the start of the window"),
            "window": {"first_day": first.isoformat() if first else None, "last_day": last.isoformat() if last else None,
                       "days": span},
            "calendar": basis.calendar,
            "return_days": len(returns) + undefined,
            "days_without_return": undefined,
            "annualisation_factor": periods,
            "cagr": (f"annualised over {span} days (years = days / 365.25)" if cagr is not None else
                     f"null: the window is {span} days, shorter than {MIN_ANNUALISED_DAYS}; total_return "
                     "carries the figure"),
        }
        if undefined:
            conventions["days_without_return_note"] = (f"{undefined} day(s) started at zero or negative equity: "
                                                       "they have no return and are left out of the ratios")
        return Dashboard(
            total_trades=n,
            win_rate_trades=q2(f.win_rate(total.w, n)),
            win_rate_days=q2(f.win_rate(sum(1 for d in days if d.pnl > 0), len(days))),
            profit_factor=q2(pf),
            profit_factor_infinite=pf_inf,
            avg_win=q2(avg_win),
            avg_loss=q2(avg_loss),
            total_pnl=q2(total_pnl),
            total_return=q2(f.total_return(base, final_equity)),
            gross_pnl=q2(usd_from_cents(total.pnl + total.cm)),
            total_commission=q2(usd_from_cents(total.cm)),
            total_slippage=q2(usd_from_cents(total.sl)),
            daily_pnl=[
                DailyPnl(date=d.date.isoformat(), pnl=q2(d.pnl), trades=d.trades, return_percent=q2(d.return_percent),
                         r_return=q2(d.r_total), r_units=q2(d.pnl / avg_risk) if avg_risk else None)
                for d in days
            ],
            equity_curve=[
                EquityPoint(date=d.date.isoformat(), equity=q2(d.equity), drawdown=q2(d.drawdown_percent),
                            daily_pnl=q2(d.pnl))
                for d in days
            ],
            start_date=days[0].date.isoformat() if days else None,
            end_date=days[-1].date.isoformat() if days else None,
            trading_days=len(days),
            winning_trades=total.w,
            losing_trades=total.l,
            break_even_trades=total.e,
            largest_win=q2(usd_from_cents(total.mx)) if total.mx is not None and total.mx > 0 else None,
            largest_loss=q2(usd_from_cents(total.mn)) if total.mn is not None and total.mn < 0 else None,
            expectancy=q2(f.ratio(usd_from_cents(total.gp - total.gl), Decimal(n))),
            expectancy_r=q2(f.ratio(r_sum, Decimal(total.rn))),
            payoff_ratio=q2(f.ratio(avg_win, avg_loss)),
            cagr=q2(cagr),
            max_drawdown=q2(max_dd),
            sharpe_ratio=q2(f.sharpe_ratio(returns, periods)),
            sortino_ratio=q2(f.sortino_ratio(returns, periods)),
            volatility=q2(volatility * 100) if volatility is not None else None,
            calmar_ratio=q2(f.calmar_ratio(cagr, max_dd)) if cagr is not None else None,
            sqn=q2(f.sqn(total.rn, r_sum, Decimal(total.rq) / (R_SCALE * R_SCALE))),
            max_consecutive_wins=fold.best_w,
            max_consecutive_losses=fold.best_l,
            avg_holding_hours=q2(Decimal(total.hs) / total.hn / US_PER_HOUR) if total.hn else None,
            r_trades=total.rn,
            trades_without_risk=n - total.rn,
            avg_risk_per_trade=q2(avg_risk),
            starting_capital=q2(base),
            final_equity=q2(final_equity),
            by_symbol=breakdown(rollup.groups, "symbol"),
            by_strategy=breakdown(rollup.groups, "strategy_id"),
            by_source=breakdown(rollup.groups, "source"),
            conventions=conventions,
        )


def compute_dashboard(trades: Iterable[ClosedTrade], *, starting_capital: Decimal, tz: ZoneInfo,
                      basis: Basis | None = None) -> Dashboard:
    """Every dashboard figure for a set of closed trades: the full recomputation,
    :func:`dashboard_from_aggregates` of the trades' cells and order fold. Trades that
    closed before ``basis.start`` only add to the P&L the window starts with; those after
    ``basis.end`` are left out.

    Args:
        trades: the realized trades (P&L and risk in whole cents).
        starting_capital: equity before the first trade, USD (> 0).
        tz: the trading time zone that defines a day.
        basis: the window and calendar (see :func:`dashboard_from_aggregates`).
    """
    basis = basis or Basis(starting_capital)
    facts = [t.facts(tz) for t in trades]
    before = [f for f in facts if basis.start is not None and f.day < basis.start]
    inside = [f for f in facts if (basis.start is None or f.day >= basis.start) and (basis.end is None or f.day <= basis.end)]
    if before:
        basis = replace(basis, prior_pnl=basis.prior_pnl + usd_from_cents(sum(f.pnl_cents for f in before)))
    rollup = Rollup.of_cells({CellId.parse(k): v for k, v in aggregate(inside).items()})
    return dashboard_from_aggregates(rollup, fold_in_order(inside), starting_capital=starting_capital, tz=tz, basis=basis)
