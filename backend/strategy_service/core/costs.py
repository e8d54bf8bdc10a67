"""Trading costs of a fill: commission and slippage. Pure ``Decimal`` math, no I/O.

A :class:`CostModel` covers the common broker schedules: a fixed fee per order, a fee per
unit with a minimum and a maximum per order (tiered stock brokers), a percent of the
notional (crypto exchanges), and slippage in basis points of the price, always against the
trader and on top of the bid/ask the fill already pays.

- Commission of one fill (USD): ``per_order + per_unit x quantity + percent / 100 x
  quantity x fill_price``, raised to ``commission_min`` when that is > 0, capped at
  ``commission_max`` when that is > 0, then rounded to the cent half up.
- Slippage: a BUY fill (an entry of a long, the exit of a short) pays ``base x (1 + bps /
  10,000)``, a SELL fill receives ``base x (1 - bps / 10,000)``; the price is rounded to
  0.000001 USD (keeping 6 significant digits below 0.1 USD: ``money.price_quantum``)
  against the trader (up for a BUY, down for a SELL). Slippage in USD
  is ``|fill - base| x quantity`` to the cent: it is already inside the fill price, so P&L
  never subtracts it a second time.

A backtesting tool's relative ``commission`` setting (a fraction of each fill's notional,
on entry and on exit) is ``commission_percent = 100 x`` that fraction here; docs/replay.md
names the reference tool the replay is checked against.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from .money import (
    HUNDRED,
    MONEY_CONTEXT,
    ZERO,
    localcontext,
    price_quantum,
    quantize_usd,
    to_decimal,
    to_plain_str,
)

#: Basis points per 1 (10,000 bps = 100 %).
BPS = Decimal(10_000)
#: Upper bounds of a sane model: a percent commission below 100 %, slippage below 10,000 bps.
MAX_COMMISSION_PERCENT = HUNDRED
MAX_SLIPPAGE_BPS = BPS
BUY_FILL = "BUY"
SELL_FILL = "SELL"


class InvalidCostModel(ValueError):
    """A cost model that cannot be applied (negative, min above max, out of range)."""


@dataclass(frozen=True)
class CostModel:
    """What a strategy pays per fill. Every field is a non-negative ``Decimal``; 0 means none.

    Attributes:
        commission_per_order: USD per fill.
        commission_per_unit: USD per unit (share, coin) filled.
        commission_percent: percent of the fill's notional (``0.1`` = 0.1 %).
        commission_min: least commission of a fill, USD (0: no minimum).
        commission_max: largest commission of a fill, USD (0: no maximum).
        slippage_bps: basis points of the base price, against the trader.
    """

    commission_per_order: Decimal = ZERO
    commission_per_unit: Decimal = ZERO
    commission_percent: Decimal = ZERO
    commission_min: Decimal = ZERO
    commission_max: Decimal = ZERO
    slippage_bps: Decimal = ZERO

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise InvalidCostModel(f"{f.name} must be a number of at least 0, got {value!r}.")
        if self.commission_percent >= MAX_COMMISSION_PERCENT:
            raise InvalidCostModel("commission_percent must be below 100 (percent of the fill's notional).")
        if self.slippage_bps >= MAX_SLIPPAGE_BPS:
            raise InvalidCostModel("slippage_bps must be below 10000 (basis points of the price).")
        if self.commission_min > 0 and self.commission_max > 0 and self.commission_min > self.commission_max:
            raise InvalidCostModel(f"commission_min ({self.commission_min}) is above commission_max "
                                   f"({self.commission_max}).")

    @property
    def is_zero(self) -> bool:
        """True when the model charges nothing."""
        return all(getattr(self, f.name) == 0 for f in fields(self))

    def to_doc(self) -> dict[str, str]:
        """Storage and API shape: every field as a plain decimal string."""
        return {f.name: to_plain_str(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any] | None) -> CostModel:
        """Inverse of :meth:`to_doc`; missing fields are 0, None gives the zero model.

        Raises:
            InvalidCostModel: a stored value out of range; ValueError: not a number.
        """
        doc = doc or {}
        return cls(**{f.name: to_decimal(doc[f.name], field=f.name) if doc.get(f.name) not in (None, "") else ZERO
                      for f in fields(cls)})

    def commission(self, *, quantity: Decimal, price: Decimal) -> Decimal:
        """Commission of one fill of ``quantity`` units at ``price`` (USD per unit, after
        slippage): USD to the cent, half up (formula in the module docstring)."""
        with localcontext(MONEY_CONTEXT):
            fee = (self.commission_per_order + self.commission_per_unit * quantity
                   + self.commission_percent / HUNDRED * quantity * price)
            if self.commission_min > 0 and fee < self.commission_min:
                fee = self.commission_min
            if self.commission_max > 0 and fee > self.commission_max:
                fee = self.commission_max
        return quantize_usd(fee)

    def fill_price(self, fill_side: str, base: Decimal) -> Decimal:
        """The price a ``fill_side`` (``BUY`` or ``SELL``) fill gets from a ``base`` price (the
        quote side, a bar's price or a trigger price) after slippage, rounded against the
        trader to 0.000001 USD (finer below 0.1 USD, :func:`~.money.price_quantum`), trailing
        zeros dropped. With no slippage,
        ``base`` itself.

        Raises:
            ValueError: ``fill_side`` is neither BUY nor SELL.
        """
        if self.slippage_bps == 0:
            return base
        if fill_side not in (BUY_FILL, SELL_FILL):
            raise ValueError(f"fill side must be BUY or SELL, got {fill_side!r}")
        with localcontext(MONEY_CONTEXT):
            factor = self.slippage_bps / BPS
            quantum = price_quantum(base)
            if fill_side == BUY_FILL:
                price = (base * (1 + factor)).quantize(quantum, rounding=ROUND_CEILING)
            else:
                price = (base * (1 - factor)).quantize(quantum, rounding=ROUND_FLOOR)
            return price.normalize()  # 100.050000 -> 100.05 (written in plain notation)


ZERO_COSTS = CostModel()


@dataclass(frozen=True)
class Fill:
    """One fill with its costs.

    Attributes:
        base_price: the price before slippage (quote side, bar price or trigger price),
            USD per unit.
        price: the fill price after slippage, USD per unit.
        quantity: units filled.
        commission: USD charged for this fill.
        slippage: ``|price - base_price| x quantity``, USD to the cent (inside ``price``).
    """

    base_price: Decimal
    price: Decimal
    quantity: Decimal
    commission: Decimal
    slippage: Decimal


def fill_with_costs(model: CostModel, fill_side: str, *, base_price: Decimal, quantity: Decimal,
                    commission: Decimal | None = None) -> Fill:
    """A fill of ``quantity`` units on ``fill_side`` at ``base_price`` under ``model``.

    Args:
        model: the cost model copied onto the trade.
        fill_side: ``BUY`` (pays the slippage up) or ``SELL`` (receives it down).
        base_price: USD per unit before slippage.
        quantity: units.
        commission: the fill's own commission in USD (a backtest replaying a real
            schedule), used instead of the model's; rounded to the cent.

    Returns:
        The :class:`Fill`.

    Raises:
        ValueError: a bad ``fill_side``.
    """
    price = model.fill_price(fill_side, base_price)
    fee = quantize_usd(commission) if commission is not None else model.commission(quantity=quantity, price=price)
    with localcontext(MONEY_CONTEXT):
        slip = quantize_usd(abs(price - base_price) * quantity)
    return Fill(base_price=base_price, price=price, quantity=quantity, commission=fee, slippage=slip)
