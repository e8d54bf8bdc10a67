"""The per-user shadow-mode aggregate of the shadow-mode trade metrics specification
(``GET /trades/shadow/metrics``): realized, unrealized and net P&L, win rate, and the
drawdown of the cumulative realized P&L. Pure ``Decimal``, no I/O.

The drawdown is folded by :class:`~.aggregates.OrderFold`, the one implementation the
stored aggregates use too; the win rate is :func:`~.formulas.win_rate`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .aggregates import ClosedTrade, OrderFold
from .formulas import win_rate
from .money import MONEY_CONTEXT, ZERO, DecimalInput, localcontext, quantize_percent, quantize_usd, to_decimal, to_plain_str
from .pnl import OpenPosition, unrealized_pnl


def compute_max_drawdown_from_realized_pnls(series: Iterable[tuple[Any, DecimalInput]]) -> tuple[Decimal, Decimal]:
    """Maximum drawdown of the cumulative realized P&L curve (the specification's function).

    The curve starts at 0 and adds each trade's realized P&L in order of close time (ties
    keep their input order). At each point ``drawdown = cumulative - peak``, the peak being
    the running maximum of the curve (the starting 0 included); the percent drawdown is
    ``drawdown / peak x 100`` while the peak is positive, and 0 while it is <= 0.

    Args:
        series: ``(closed_at, realized_pnl)`` pairs; ``closed_at`` anything comparable;
            realized P&L in USD.

    Returns:
        ``(max_drawdown_usd, max_drawdown_percent)``: each the worst of its kind over the
        whole curve (they may come from different points), <= 0, quantized to 0.01.

    Raises:
        TypeError: for a float P&L.
    """
    fold = OrderFold()
    for _, pnl in sorted(series, key=lambda item: item[0]):
        fold.add(to_decimal(pnl, field="realized_pnl"))
    return quantize_usd(Decimal(fold.worst_usd)), quantize_percent(fold.worst_pct)


@dataclass(frozen=True)
class ShadowMetrics:
    """Aggregate shadow-trading figures of one user.

    Attributes:
        realized_pnl: sum of realized P&L of CLOSED trades, USD.
        unrealized_pnl: sum of mark-to-market P&L of OPEN trades, USD.
        net_pnl: realized + unrealized, USD.
        win_rate: wins / closed trades x 100, percent (0 with no closed trade).
        closed_trades: number of CLOSED trades (positions fully closed).
        open_trades: number of OPEN trades.
        wins: CLOSED trades with realized P&L > 0.
        max_drawdown_usd: worst drawdown of the cumulative realized P&L, USD, <= 0.
        max_drawdown_percent: worst drawdown relative to the running peak, percent, <= 0.
        gross_pnl: realized P&L before commissions (price moves only), USD.
        total_commission: commissions of the CLOSED trades (entry + exit), USD;
            ``realized_pnl = gross_pnl - total_commission``.
        total_slippage: slippage inside the CLOSED trades' fill prices, USD (already in
            ``gross_pnl``: shown, not subtracted again).
    """

    realized_pnl: Decimal
    unrealized_pnl: Decimal
    net_pnl: Decimal
    win_rate: Decimal
    closed_trades: int
    open_trades: int
    wins: int
    max_drawdown_usd: Decimal
    max_drawdown_percent: Decimal
    gross_pnl: Decimal = ZERO
    total_commission: Decimal = ZERO
    total_slippage: Decimal = ZERO

    def as_json(self) -> dict[str, Any]:
        """The API shape: money and percentages as decimal strings, counts as integers, and
        the :data:`CONVENTIONS` they follow."""
        return {
            "realized_pnl": to_plain_str(self.realized_pnl),
            "unrealized_pnl": to_plain_str(self.unrealized_pnl),
            "net_pnl": to_plain_str(self.net_pnl),
            "win_rate": to_plain_str(self.win_rate),
            "closed_trades": self.closed_trades,
            "open_trades": self.open_trades,
            "wins": self.wins,
            "max_drawdown_usd": to_plain_str(self.max_drawdown_usd),
            "max_drawdown_percent": to_plain_str(self.max_drawdown_percent),
            "gross_pnl": to_plain_str(self.gross_pnl),
            "total_commission": to_plain_str(self.total_commission),
            "total_slippage": to_plain_str(self.total_slippage),
            "conventions": CONVENTIONS,
        }


Marks = Mapping[str, Mapping[str, Any] | DecimalInput]

#: How the shadow-mode figures are computed, in every answer (``conventions``).
CONVENTIONS: dict[str, str] = {
    "realized_pnl": ("sum of the realized P&L of the selected CLOSED trades (dates filter their close dates), USD, "
                     "net of commissions: every P&L figure is net unless it says gross"),
    "unrealized_pnl": ("OPEN trades marked at the exit side of the live quote (a long at the bid, a short at the "
                       "ask, else its price) after the trade's slippage, net of its entry commission and of the exit "
                       "commission its cost model would charge (what closing now would realize), or at their last "
                       "stored mark without a usable quote; live trades (a broker's positions) keep their stored "
                       "mark, USD"),
    "gross_pnl": "realized P&L before commissions: price moves only (fill prices include slippage), USD",
    "total_commission": "commissions of the CLOSED trades, entry and exit fills, USD; realized_pnl = gross_pnl - "
                        "total_commission",
    "total_slippage": ("slippage of the CLOSED trades' fills against their base prices (quote side or bar price), "
                       "USD; already inside the fill prices and gross_pnl, shown and never subtracted again"),
    "win_rate": ("wins (realized P&L > 0) / closed trades x 100; a break-even trade is not a win; a position "
                 "closed in parts counts once, when fully closed, by its total net P&L (its parts are in "
                 "realized_pnl and the drawdown on their own close times)"),
    "max_drawdown_usd": ("the largest fall of the cumulative realized P&L, which starts at 0 and adds each trade in "
                         "close order, from its running peak, USD, <= 0"),
    "max_drawdown_percent": ("that fall as a percent of the running peak of the cumulative realized P&L (not of "
                             "equity: see max_drawdown of the dashboard), <= 0; 0 while the peak is <= 0, and past "
                             "-100 when the P&L turns negative after a smaller gain"),
    "trade_order": "close time to the microsecond, then trade id",
    "rounding": "ROUND_HALF_UP to 0.01",
}


def compute_shadow_metrics(
    *,
    open_trades: Iterable[OpenPosition],
    closed_trades: Iterable[ClosedTrade],
    live_prices_by_symbol: Marks | None = None,
) -> ShadowMetrics:
    """The shadow-mode aggregate recomputed from every trade (``verify`` and the tests).

    Args:
        open_trades: the OPEN positions.
        closed_trades: the realizations (ordered here by ``(closed_at, trade_id)``): one
            per position closed in one go, one per part of a position closed in parts
            (counted once, on its final part, by its total net P&L).
        live_prices_by_symbol: symbol -> quote mapping (``bid``/``ask``/``price``) or bare
            price, for marking; a symbol without one keeps the stored ``current_pnl``.
    """
    closed = sorted(closed_trades, key=lambda t: (t.closed_at, t.trade_id))
    fold = OrderFold()
    for trade in closed:
        fold.add(trade.pnl, trade.position_pnl, partial=not trade.final)
    outcomes = [t.outcome for t in closed if t.outcome is not None]
    with localcontext(MONEY_CONTEXT):
        realized = sum((t.pnl for t in closed), ZERO)
        commission = sum((t.commission for t in closed), ZERO)
        slippage = sum((t.slippage for t in closed), ZERO)
    return shadow_metrics_from_aggregates(
        realized_pnl=realized, closed_trades=len(outcomes), wins=sum(1 for o in outcomes if o > 0),
        commission=commission, slippage=slippage,
        max_drawdown_usd=Decimal(fold.worst_usd), max_drawdown_percent=fold.worst_pct,
        open_trades=open_trades, live_prices_by_symbol=live_prices_by_symbol,
    )


def shadow_metrics_from_aggregates(
    *,
    realized_pnl: Decimal,
    closed_trades: int,
    wins: int,
    max_drawdown_usd: Decimal,
    max_drawdown_percent: Decimal,
    open_trades: Iterable[OpenPosition],
    live_prices_by_symbol: Marks | None = None,
    commission: Decimal = ZERO,
    slippage: Decimal = ZERO,
) -> ShadowMetrics:
    """The shadow-mode aggregate from the CLOSED trades' sums (realized P&L net of
    ``commission``, the commissions and the slippage, all USD; counts,
    the drawdown of the cumulative realized P&L in USD and percent) and the OPEN positions,
    marked at their quotes (:func:`~.pnl.unrealized_pnl`); quantized to the cent and 0.01 %."""
    quotes = live_prices_by_symbol or {}
    unrealized = ZERO
    open_count = 0
    with localcontext(MONEY_CONTEXT):
        for position in open_trades:
            unrealized += unrealized_pnl(position, quotes.get(position.symbol))
            open_count += 1
        realized_q = quantize_usd(realized_pnl)
        unrealized_q = quantize_usd(unrealized)
        return ShadowMetrics(
            realized_pnl=realized_q,
            unrealized_pnl=unrealized_q,
            net_pnl=quantize_usd(realized_q + unrealized_q),
            win_rate=quantize_percent(win_rate(wins, closed_trades)),
            closed_trades=closed_trades,
            open_trades=open_count,
            wins=wins,
            max_drawdown_usd=quantize_usd(max_drawdown_usd),
            max_drawdown_percent=quantize_percent(max_drawdown_percent),
            gross_pnl=quantize_usd(realized_q + commission),
            total_commission=quantize_usd(commission),
            total_slippage=quantize_usd(slippage),
        )
