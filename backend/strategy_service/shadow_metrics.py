"""Pure Decimal math for shadow trades: trade P&L, drawdown, and the per-user aggregate.

No I/O happens here. The names and keyword arguments are those of the seed document
``shared/seeds/001_b2f882957fc53e69.txt`` ("Paper Trade Metrics (Shadow Mode)").
Inputs accept ``str``, ``int`` and ``Decimal``; a binary ``float`` raises ``TypeError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .money import (
    HUNDRED,
    MONEY_CONTEXT,
    ZERO,
    DecimalInput,
    localcontext,
    quantize_percent,
    quantize_usd,
    to_decimal,
    to_plain_str,
)

BUY = "BUY"
SELL = "SELL"


def normalize_side(side: str) -> str:
    """Return ``"BUY"`` (long) or ``"SELL"`` (short) for a side in any letter case.

    Raises:
        ValueError: when ``side`` is neither BUY nor SELL.
    """
    if not isinstance(side, str) or side.strip().upper() not in (BUY, SELL):
        raise ValueError(f"side must be BUY or SELL, got {side!r}")
    return side.strip().upper()


def compute_trade_pnl(
    *,
    entry_price: DecimalInput,
    current_price: DecimalInput,
    quantity: DecimalInput,
    side: str,
) -> tuple[Decimal, Decimal]:
    """P&L of one position marked (or closed) at ``current_price``.

    Formula (seed ``001``): ``pnl = (current_price - entry_price) x quantity x d`` with
    ``d = +1`` for BUY (long) and ``-1`` for SELL (short);
    ``pnl_percent = pnl / |entry_price x quantity| x 100``.

    Args:
        entry_price: fill price of the entry, USD per unit.
        current_price: mark or exit price, USD per unit.
        quantity: units held (shares, coins).
        side: ``"BUY"`` or ``"SELL"`` (letter case ignored).

    Returns:
        ``(pnl_usd, pnl_percent)``: USD quantized to the cent and percent quantized to
        0.01, both ``ROUND_HALF_UP``. The percent is ``0.00`` when the cost basis is 0.

    Raises:
        TypeError: for a float input.
        ValueError: for a malformed number or side.
    """
    direction = 1 if normalize_side(side) == BUY else -1
    entry = to_decimal(entry_price, field="entry_price")
    current = to_decimal(current_price, field="current_price")
    qty = to_decimal(quantity, field="quantity")
    with localcontext(MONEY_CONTEXT):
        pnl = (current - entry) * qty * direction
        basis = abs(entry * qty)
        percent = pnl / basis * HUNDRED if basis != 0 else ZERO
    return quantize_usd(pnl), quantize_percent(percent)


def entry_fill_price(
    side: str,
    *,
    bid: DecimalInput | None,
    ask: DecimalInput | None,
    price: DecimalInput | None,
) -> Decimal | None:
    """Price at which a new position of ``side`` fills against a quote.

    A BUY lifts the ask and a SELL hits the bid when both bid and ask are present;
    otherwise the quote's last ``price`` is used.

    Returns:
        The fill price (USD per unit), or ``None`` when the quote has no usable price.
    """
    if bid is not None and ask is not None:
        return to_decimal(ask if normalize_side(side) == BUY else bid, field="quote")
    return None if price is None else to_decimal(price, field="price")


def exit_fill_price(
    side: str,
    *,
    bid: DecimalInput | None,
    ask: DecimalInput | None,
    price: DecimalInput | None,
) -> Decimal | None:
    """Price at which an open position of ``side`` is closed (or marked) against a quote.

    A long (BUY) exits by selling at the bid; a short (SELL) exits by buying at the ask;
    without both bid and ask, the quote's ``price`` is used.

    Returns:
        The exit price (USD per unit), or ``None`` when the quote has no usable price.
    """
    opposite = SELL if normalize_side(side) == BUY else BUY
    return entry_fill_price(opposite, bid=bid, ask=ask, price=price)


def compute_max_drawdown_from_realized_pnls(
    series: Iterable[tuple[Any, DecimalInput]],
) -> tuple[Decimal, Decimal]:
    """Maximum drawdown of the cumulative realized P&L curve.

    The curve starts at 0 and adds each trade's realized P&L in order of close time
    (ties keep their input order). At each point, ``drawdown = cumulative - peak``
    where ``peak`` is the running maximum of the curve (including the starting 0).
    The percent drawdown at a point is ``drawdown / peak x 100`` while the peak is
    positive, and 0 while the peak is <= 0 (there is no gain to lose a share of).

    Args:
        series: ``(closed_at, realized_pnl)`` pairs; ``closed_at`` is anything
            comparable (datetime, ISO string); realized P&L in USD.

    Returns:
        ``(max_drawdown_usd, max_drawdown_percent)``: the most negative drawdown in USD
        (cents) and the most negative percent drawdown (0.01), each the worst over the
        whole curve (they may happen at different points). Both are <= 0; 0 means no
        drawdown.

    Raises:
        TypeError: for a float P&L.
    """
    ordered = sorted(series, key=lambda item: item[0])
    cumulative = peak = ZERO
    worst_usd = worst_percent = ZERO
    with localcontext(MONEY_CONTEXT):
        for _, pnl in ordered:
            cumulative += to_decimal(pnl, field="realized_pnl")
            if cumulative > peak:
                peak = cumulative
            drawdown = cumulative - peak
            if drawdown < worst_usd:
                worst_usd = drawdown
            if peak > 0:
                percent = drawdown / peak * HUNDRED
                if percent < worst_percent:
                    worst_percent = percent
    return quantize_usd(worst_usd), quantize_percent(worst_percent)


@dataclass(frozen=True)
class ShadowMetrics:
    """Aggregate shadow-trading figures of one user (seed ``001``, "Aggregate (per user)").

    Attributes:
        realized_pnl: sum of realized P&L of CLOSED trades, USD.
        unrealized_pnl: sum of mark-to-market P&L of OPEN trades, USD.
        net_pnl: realized + unrealized, USD.
        win_rate: wins / closed trades x 100, percent (0 with no closed trade).
        closed_trades: number of CLOSED trades.
        open_trades: number of OPEN trades.
        wins: CLOSED trades with realized P&L > 0.
        max_drawdown_usd: worst drawdown of the cumulative realized P&L, USD, <= 0.
        max_drawdown_percent: worst drawdown relative to the running peak, percent, <= 0.
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

    def as_json(self) -> dict[str, str | int]:
        """The API shape: money and percentages as decimal strings, counts as integers."""
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
        }


def realized_pnl_of(trade: Mapping[str, Any]) -> Decimal:
    """Realized P&L of a CLOSED trade document: ``realized_pnl``, else back-compat ``final_pnl``.

    Raises:
        ValueError: when neither field is present.
    """
    value = trade.get("realized_pnl")
    if value is None:
        value = trade.get("final_pnl")
    if value is None:
        raise ValueError(f"closed trade {trade.get('shadow_id')!r} has no realized_pnl")
    return to_decimal(value, field="realized_pnl")


def unrealized_pnl_of(
    trade: Mapping[str, Any], quote: Mapping[str, Any] | DecimalInput | None
) -> Decimal:
    """Mark-to-market P&L of an OPEN trade document.

    Args:
        trade: the trade document (``entry_price``, ``quantity``, ``side``, ``current_pnl``).
        quote: the live quote of its symbol: a mapping with ``bid``/``ask``/``price``
            (the position is marked at its exit side, see :func:`exit_fill_price`), a
            bare price, or ``None``.

    Returns:
        USD P&L at the quote; without a usable quote, the stored ``current_pnl`` (0 if absent).
    """
    mark: Decimal | None
    if quote is None:
        mark = None
    elif isinstance(quote, Mapping):
        mark = exit_fill_price(
            trade["side"], bid=quote.get("bid"), ask=quote.get("ask"), price=quote.get("price")
        )
    else:
        mark = to_decimal(quote, field="mark price")
    if mark is None or mark <= 0:
        return to_decimal(trade.get("current_pnl") or "0", field="current_pnl")
    pnl, _ = compute_trade_pnl(
        entry_price=trade["entry_price"],
        current_price=mark,
        quantity=trade["quantity"],
        side=trade["side"],
    )
    return pnl


def compute_shadow_metrics(
    *,
    open_trades: Iterable[Mapping[str, Any]],
    closed_trades: Iterable[Mapping[str, Any]],
    live_prices_by_symbol: Mapping[str, Mapping[str, Any] | DecimalInput] | None = None,
) -> ShadowMetrics:
    """Aggregate a user's shadow trades (seed ``001``, ``GET /trades/shadow/metrics``): the
    full recomputation from every trade document.

    Args:
        open_trades: OPEN trade documents.
        closed_trades: CLOSED trade documents (``realized_pnl`` or ``final_pnl``,
            ``closed_at``; ``shadow_id`` orders trades closed at the same time).
        live_prices_by_symbol: symbol -> quote mapping (``bid``/``ask``/``price``) or
            bare price, for marking OPEN trades; a symbol without one falls back to the
            trade's stored ``current_pnl``.

    Returns:
        A :class:`ShadowMetrics`. ``win_rate = wins / closed x 100`` (0.01, half up; 0
        with no closed trade); drawdowns from
        :func:`compute_max_drawdown_from_realized_pnls` over ``(closed_at, realized_pnl)``.
    """
    realized = ZERO
    wins = closed_count = 0
    series: list[tuple[Any, Decimal]] = []
    with localcontext(MONEY_CONTEXT):
        for trade in closed_trades:
            pnl = realized_pnl_of(trade)
            realized += pnl
            closed_count += 1
            if pnl > 0:
                wins += 1
            closed_at = trade.get("closed_at") or trade.get("closed_at_iso") or ""
            series.append(((closed_at, trade.get("shadow_id") or ""), pnl))
    max_dd_usd, max_dd_percent = compute_max_drawdown_from_realized_pnls(series)
    return shadow_metrics_from_aggregates(
        realized_pnl=realized, closed_trades=closed_count, wins=wins,
        max_drawdown_usd=max_dd_usd, max_drawdown_percent=max_dd_percent,
        open_trades=open_trades, live_prices_by_symbol=live_prices_by_symbol,
    )


def shadow_metrics_from_aggregates(
    *,
    realized_pnl: Decimal,
    closed_trades: int,
    wins: int,
    max_drawdown_usd: Decimal,
    max_drawdown_percent: Decimal,
    open_trades: Iterable[Mapping[str, Any]],
    live_prices_by_symbol: Mapping[str, Mapping[str, Any] | DecimalInput] | None = None,
) -> ShadowMetrics:
    """Seed 001's aggregate from the CLOSED trades' sums (realized P&L in USD, counts, the
    drawdown of the cumulative realized P&L in USD and percent) and the OPEN trades,
    marked at their quotes (see :func:`unrealized_pnl_of`)."""
    quotes = live_prices_by_symbol or {}
    unrealized = ZERO
    open_count = 0
    with localcontext(MONEY_CONTEXT):
        for trade in open_trades:
            unrealized += unrealized_pnl_of(trade, quotes.get(trade.get("symbol", "")))
            open_count += 1
        win_rate = (
            quantize_percent(Decimal(wins) / Decimal(closed_trades) * HUNDRED)
            if closed_trades
            else quantize_percent(ZERO)
        )
        realized_q = quantize_usd(realized_pnl)
        unrealized_q = quantize_usd(unrealized)
        return ShadowMetrics(
            realized_pnl=realized_q,
            unrealized_pnl=unrealized_q,
            net_pnl=quantize_usd(realized_q + unrealized_q),
            win_rate=win_rate,
            closed_trades=closed_trades,
            open_trades=open_count,
            wins=wins,
            max_drawdown_usd=quantize_usd(max_drawdown_usd),
            max_drawdown_percent=quantize_percent(max_drawdown_percent),
        )
