"""Trade-level P&L and fill prices: pure ``Decimal`` math, no I/O.

The names and keyword arguments are those of the shadow-mode trade metrics specification
(``compute_trade_pnl``). Inputs accept ``str``, ``int`` and ``Decimal``; a binary
``float`` raises ``TypeError``.
"""

from __future__ import annotations

from collections.abc import Mapping
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

    Formula (shadow-mode trade metrics specification): ``pnl = (current_price - entry_price) x quantity x d`` with
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


@dataclass(frozen=True)
class OpenPosition:
    """What marking an OPEN trade needs.

    Attributes:
        symbol: its ticker; side: ``BUY`` (long) or ``SELL`` (short).
        entry_price: fill price, USD per unit; quantity: units.
        current_pnl: the last stored mark, USD (the fallback without a usable quote).
    """

    symbol: str
    side: str
    entry_price: Decimal
    quantity: Decimal
    current_pnl: Decimal = ZERO


def unrealized_pnl(position: OpenPosition, quote: Mapping[str, Any] | DecimalInput | None) -> Decimal:
    """Mark-to-market P&L of an OPEN position (shadow-mode trade metrics specification).

    Args:
        position: the open position.
        quote: the live quote of its symbol: a mapping with ``bid``/``ask``/``price``
            (the position is marked at its exit side, see :func:`exit_fill_price`), a bare
            price, or ``None``.

    Returns:
        USD P&L at the quote; without a usable quote, the stored ``current_pnl``.
    """
    mark: Decimal | None
    if quote is None:
        mark = None
    elif isinstance(quote, Mapping):
        mark = exit_fill_price(position.side, bid=quote.get("bid"), ask=quote.get("ask"), price=quote.get("price"))
    else:
        mark = to_decimal(quote, field="mark price")
    if mark is None or mark <= 0:
        return position.current_pnl
    pnl, _ = compute_trade_pnl(entry_price=position.entry_price, current_price=mark,
                               quantity=position.quantity, side=position.side)
    return pnl
