"""Every trading-metric formula of the service, once, as pure ``Decimal`` functions.

The dashboard, the shadow metrics, the breakdowns and ``/api/metrics`` all call these;
the worked examples of the dashboard metrics specification are tested against them
(``tests/unit/core/test_formulas.py``). They take counts and sums (what the stored
aggregates hold), not lists of trades, so the path that serves requests and the full
recomputation run the same code. Results are unquantized; callers quantize at the edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from .money import HUNDRED, MONEY_CONTEXT, ZERO, localcontext

#: Trading days per year used to annualise daily ratios (sqrt(252)).
TRADING_DAYS_PER_YEAR = 252
#: Calendar days per year for CAGR (years = days / 365.25).
DAYS_PER_YEAR = Decimal("365.25")


def win_rate(wins: int, total: int) -> Decimal:
    """Win rate, percent: ``wins / total x 100`` (dashboard metrics specification, "Win
    Rate" by trades and by days; shadow-mode metrics ``win_rate``). 0 when ``total`` is 0.

    Break-even trades (or days) count in ``total`` but are not wins.
    """
    if not total:
        return ZERO
    with localcontext(MONEY_CONTEXT):
        return Decimal(wins) / Decimal(total) * HUNDRED


def profit_factor(gross_profit: Decimal, gross_loss: Decimal) -> tuple[Decimal | None, bool]:
    """Profit factor ``gross profit / gross loss`` (dashboard metrics specification).

    Args:
        gross_profit: sum of winning P&L, >= 0 (USD or cents: a ratio).
        gross_loss: absolute sum of losing P&L, >= 0, same unit.

    Returns:
        ``(value, is_infinite)``: ``(gross_profit / gross_loss, False)``; without losses,
        ``(None, True)`` when there were wins (the specification's "null (infinite)") and
        ``(None, False)`` otherwise (no trades, or only break-even ones); no wins gives 0.
    """
    if gross_loss == 0:
        return None, gross_profit > 0
    with localcontext(MONEY_CONTEXT):
        return gross_profit / gross_loss, False


def average(total: Decimal, count: int) -> Decimal:
    """``total / count`` (average win, average loss), 0 when ``count`` is 0."""
    if not count:
        return ZERO
    with localcontext(MONEY_CONTEXT):
        return total / count


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    """``numerator / denominator`` (payoff ratio, expectancy...), None when the
    denominator is 0."""
    if denominator == 0:
        return None
    with localcontext(MONEY_CONTEXT):
        return numerator / denominator


def total_return(initial_capital: Decimal, final_equity: Decimal) -> Decimal:
    """``(final - initial) / initial x 100``, percent (dashboard metrics specification);
    0 when ``initial <= 0``."""
    if initial_capital <= 0:
        return ZERO
    with localcontext(MONEY_CONTEXT):
        return (final_equity - initial_capital) / initial_capital * HUNDRED


def cagr(initial_capital: Decimal, final_value: Decimal, days_elapsed: int | Decimal) -> Decimal:
    """CAGR ``((final / initial)^(1 / years) - 1) x 100`` with ``years = days / 365.25``,
    percent (dashboard metrics specification).

    Edge cases: 0 when ``days_elapsed <= 0`` or ``initial <= 0`` (as the specification);
    -100 when the final value is <= 0 (everything lost: no real root exists).
    """
    if days_elapsed <= 0 or initial_capital <= 0:
        return ZERO
    if final_value <= 0:
        return -HUNDRED
    with localcontext(MONEY_CONTEXT):
        years = Decimal(days_elapsed) / DAYS_PER_YEAR
        return ((final_value / initial_capital) ** (1 / years) - 1) * HUNDRED


def drawdown_percent(peak: Decimal, equity: Decimal) -> Decimal:
    """Drawdown from the peak, percent of the peak, positive: ``(peak - equity) / peak x 100``
    (dashboard metrics specification, "Maximum Drawdown"); 0 while the peak is <= 0.
    The maximum drawdown is the largest of these over the equity curve."""
    if peak <= 0:
        return ZERO
    with localcontext(MONEY_CONTEXT):
        return (peak - equity) / peak * HUNDRED


def mean(values: Sequence[Decimal]) -> Decimal:
    """Arithmetic mean of a non-empty sequence."""
    with localcontext(MONEY_CONTEXT):
        return sum(values, ZERO) / len(values)


def std_from_sums(n: int, total: Decimal, squares: Decimal, ddof: int) -> Decimal:
    """Standard deviation from ``n``, the sum and the sum of squares:
    ``sqrt((n * squares - total^2) / (n * (n - ddof)))`` (one division, one square root,
    both correctly rounded at 60 digits, so an incremental and a full computation from the
    same exact sums agree to the last digit). ``ddof`` 0: population; 1: sample."""
    with localcontext(MONEY_CONTEXT):
        return max((n * squares - total * total) / (n * (n - ddof)), ZERO).sqrt()


def sharpe_ratio(daily_returns: Sequence[Decimal], periods: int = TRADING_DAYS_PER_YEAR) -> Decimal | None:
    """Sharpe ``mean / std x sqrt(periods)`` of daily returns, population std (``np.std``),
    risk-free rate 0 (dashboard metrics specification, with ``periods`` = 252). None below
    2 returns or at zero deviation."""
    if len(daily_returns) < 2:
        return None
    with localcontext(MONEY_CONTEXT):
        std = std_from_sums(len(daily_returns), sum(daily_returns, ZERO),
                            sum((r * r for r in daily_returns), ZERO), 0)
        if std == 0:
            return None
        return mean(daily_returns) / std * Decimal(periods).sqrt()


def sortino_ratio(daily_returns: Sequence[Decimal], periods: int = TRADING_DAYS_PER_YEAR) -> Decimal | None:
    """Sortino ``mean / downside deviation x sqrt(periods)``; downside deviation
    ``sqrt(mean(min(r, 0)^2))`` over all returns (Sortino & Price 1994, target 0).
    None below 2 returns or without a negative return."""
    if len(daily_returns) < 2:
        return None
    with localcontext(MONEY_CONTEXT):
        downside = (sum((min(r, ZERO) ** 2 for r in daily_returns), ZERO) / len(daily_returns)).sqrt()
        if downside == 0:
            return None
        return mean(daily_returns) / downside * Decimal(periods).sqrt()


def calmar_ratio(cagr_percent: Decimal, max_drawdown_percent: Decimal) -> Decimal | None:
    """Calmar ``CAGR / max drawdown`` (both percent; Young 1991); None without drawdown."""
    if max_drawdown_percent <= 0:
        return None
    with localcontext(MONEY_CONTEXT):
        return cagr_percent / max_drawdown_percent


def sqn(n: int, total: Decimal, squares: Decimal) -> Decimal | None:
    """System Quality Number ``sqrt(n) x mean(R) / std(R)``, sample std (Van Tharp), from
    the count, sum and sum of squares of the R-multiples. None below 2 R-multiples or at
    zero deviation."""
    if n < 2:
        return None
    with localcontext(MONEY_CONTEXT):
        std = std_from_sums(n, total, squares, 1)
        if std == 0:
            return None
        return Decimal(n).sqrt() * (total / n) / std
