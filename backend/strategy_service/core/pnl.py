"""Trade-level P&L and fill prices: pure ``Decimal`` math, no I/O.

The names and keyword arguments are those of the shadow-mode trade metrics specification
(``compute_trade_pnl``). Inputs accept ``str``, ``int`` and ``Decimal``; a binary
``float`` raises ``TypeError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .costs import ZERO_COSTS, CostModel, fill_with_costs
from .money import (
    HUNDRED,
    MONEY_CONTEXT,
    ZERO,
    DecimalInput,
    localcontext,
    price_quantum,
    quantize,
    quantize_percent,
    quantize_usd,
    to_decimal,
)
BUY = "BUY"
SELL = "SELL"


def exit_side(side: str) -> str:
    """The fill side that closes a position of ``side``: a long (BUY) exits with a SELL."""
    return SELL if normalize_side(side) == BUY else BUY


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
    return quantize_usd(pnl), percent_of_basis(pnl, entry_price=entry, quantity=qty)


def percent_of_basis(pnl: Decimal, *, entry_price: Decimal, quantity: Decimal) -> Decimal:
    """``pnl / |entry_price x quantity| x 100``: percent to 0.01 half up, 0.00 for a zero
    basis (shadow-mode trade metrics specification, ``pnl_percent``)."""
    with localcontext(MONEY_CONTEXT):
        basis = abs(entry_price * quantity)
        percent = pnl / basis * HUNDRED if basis != 0 else ZERO
    return quantize_percent(percent)


def average_price(fills: Iterable[tuple[Decimal, Decimal]]) -> tuple[Decimal, Decimal]:
    """The quantity-weighted average of ``(price, quantity)`` fills: ``(exact, shown)``, the
    shown one rounded to :func:`~.money.price_quantum` (the price itself for one fill).
    Figures are computed from the exact one.

    Raises:
        decimal.DivisionByZero: no quantity.
    """
    fills = list(fills)
    with localcontext(MONEY_CONTEXT):
        exact = sum((p * q for p, q in fills), ZERO) / sum((q for _, q in fills), ZERO)
    if len(fills) == 1:
        return exact, fills[0][0]
    return exact, quantize(exact, price_quantum(exact)).normalize()


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
class NetPnl:
    """A realization (or a mark) net of commissions.

    Attributes:
        gross: price move only, ``(exit - entry) x quantity x d``, USD to the cent.
        commission: the commissions charged against it (entry + exit), USD.
        net: ``gross - commission``, USD (the realized P&L).
        net_percent: ``net / |entry x quantity| x 100``, percent to 0.01 (0 for a zero basis).
    """

    gross: Decimal
    commission: Decimal
    net: Decimal
    net_percent: Decimal

    @classmethod
    def of(cls, gross: Decimal, commission: Decimal, *, entry_price: Decimal, quantity: Decimal) -> NetPnl:
        """``gross`` less ``commission`` (USD), the percent on ``|entry_price x quantity|``."""
        with localcontext(MONEY_CONTEXT):
            net = quantize_usd(gross - commission)
        return cls(gross=gross, commission=commission, net=net,
                   net_percent=percent_of_basis(net, entry_price=entry_price, quantity=quantity))


def net_pnl(*, entry_price: DecimalInput, exit_price: DecimalInput, quantity: DecimalInput, side: str,
            commission: DecimalInput) -> NetPnl:
    """P&L of a position of ``side`` closed at ``exit_price``, net of ``commission`` (USD).

    ``gross`` is :func:`compute_trade_pnl`'s P&L (fill prices already carry slippage);
    ``net = gross - commission`` (dashboard metrics specification: P&L "with commission and
    slippage properly subtracted"); the percent is the net on the entry notional.

    Raises:
        TypeError: for a float input; ValueError: a malformed number or side.
    """
    gross, _ = compute_trade_pnl(entry_price=entry_price, current_price=exit_price, quantity=quantity, side=side)
    return NetPnl.of(gross, quantize_usd(to_decimal(commission, field="commission")),
                     entry_price=to_decimal(entry_price, field="entry_price"),
                     quantity=to_decimal(quantity, field="quantity"))


@dataclass(frozen=True)
class OpenPosition:
    """What marking an OPEN trade needs.

    Attributes:
        symbol: its ticker; side: ``BUY`` (long) or ``SELL`` (short).
        entry_price: fill price (after slippage), USD per unit; quantity: units.
        current_pnl: the last stored mark, USD (the fallback without a usable quote).
        costs: the cost model copied onto the trade at entry.
        entry_commission: commission of the entry fill, USD.
        marked: False for a position the service does not mark at its quotes (a broker's
            live position): it keeps ``current_pnl``.
    """

    symbol: str
    side: str
    entry_price: Decimal
    quantity: Decimal
    current_pnl: Decimal = ZERO
    costs: CostModel = ZERO_COSTS
    entry_commission: Decimal = ZERO
    marked: bool = True

    def mark(self, exit_base: Decimal) -> tuple[Decimal, NetPnl]:
        """What closing now at ``exit_base`` (the exit side of the quote, USD per unit) would
        realize: the exit fill price after slippage and the :class:`NetPnl` net of the entry
        commission and of the exit commission the model would charge."""
        fill = fill_with_costs(self.costs, exit_side(self.side), base_price=exit_base, quantity=self.quantity)
        with localcontext(MONEY_CONTEXT):
            fees = self.entry_commission + fill.commission
        return fill.price, net_pnl(entry_price=self.entry_price, exit_price=fill.price, quantity=self.quantity,
                                   side=self.side, commission=fees)


def unrealized_pnl(position: OpenPosition, quote: Mapping[str, Any] | DecimalInput | None) -> Decimal:
    """Mark-to-market P&L of an OPEN position (shadow-mode trade metrics specification).

    Args:
        position: the open position.
        quote: the live quote of its symbol: a mapping with ``bid``/``ask``/``price``
            (the position is marked at its exit side, see :func:`exit_fill_price`), a bare
            price, or ``None``.

    Returns:
        USD P&L at the quote, net of the entry commission and of the estimated exit
        commission and slippage (what closing now would realize); without a usable quote,
        the stored ``current_pnl``.
    """
    mark: Decimal | None
    if quote is None or not position.marked:
        mark = None
    elif isinstance(quote, Mapping):
        mark = exit_fill_price(position.side, bid=quote.get("bid"), ask=quote.get("ask"), price=quote.get("price"))
    else:
        mark = to_decimal(quote, field="mark price")
    if mark is None or mark <= 0:
        return position.current_pnl
    return position.mark(mark)[1].net
