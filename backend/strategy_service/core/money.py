"""Decimal money primitives: parsing without floats, named quanta, explicit rounding.

Every amount that enters the pure metric functions goes through :func:`to_decimal`,
which refuses binary floats, booleans, NaN and infinities, so a float can never
silently become money. Quantization happens only at the edges, with the named
quanta below and ``ROUND_HALF_UP`` (the rounding the shadow-mode trade metrics
specification states for P&L in cents and percent in 0.01). Stored aggregates hold
money as integer cents: :func:`cents_of` and :func:`usd_from_cents` convert.
"""

from __future__ import annotations

from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from typing import Union

#: USD amounts (P&L, notional) are kept to the cent.
USD_QUANTUM = Decimal("0.01")
#: Percentages (P&L %, win rate, drawdown %) are kept to 0.01 percentage points.
PERCENT_QUANTUM = Decimal("0.01")
#: Quantities (shares, coins) are kept to a millionth of a unit.
QUANTITY_QUANTUM = Decimal("0.000001")
#: Computed prices (after slippage, trailing stops, averages) are kept to a millionth of a
#: USD, or finer for prices below 0.1 USD (see :func:`price_quantum`).
PRICE_QUANTUM = Decimal("0.000001")
#: Significant digits a computed price below 0.1 USD keeps.
PRICE_SIGNIFICANT_DIGITS = 6
#: Ratios without a unit (profit factor, Sharpe...) are kept to 0.0001.
RATIO_QUANTUM = Decimal("0.0001")
#: The rounding mode of every quantization in this project.
ROUNDING = ROUND_HALF_UP

#: Arithmetic context for money math: wide enough that products of a 1e12 price
#: and a 1e12 quantity with their fractional digits are exact before quantizing.
MONEY_CONTEXT = Context(
    prec=60,
    rounding=ROUNDING,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)

DecimalInput = Union[str, int, Decimal]

HUNDRED = Decimal(100)
ZERO = Decimal(0)


def to_decimal(value: DecimalInput, *, field: str = "value") -> Decimal:
    """Convert a ``str``, ``int`` or ``Decimal`` into a finite ``Decimal``.

    Args:
        value: the amount; strings use the plain decimal notation (``"187.25"``).
        field: the name of the field, used in error messages.

    Returns:
        The exact ``Decimal`` value (not quantized).

    Raises:
        TypeError: for a ``float`` (binary floats are not money), a ``bool`` or any
            other type.
        ValueError: for a string that is not a number, or for NaN and infinities.
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"{field} must be a str, int or Decimal, not {type(value).__name__}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueError(f"{field} is not a decimal number: {value!r}") from exc
    else:
        raise TypeError(f"{field} must be a str, int or Decimal, not {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"{field} must be a finite number, got {value!r}")
    return result


def optional_decimal(value: str | None, *, field: str = "value") -> Decimal | None:
    """:func:`to_decimal` of a text that may be missing: None for None or ``""`` (an
    option or a CSV cell left empty).

    Raises:
        ValueError: for a text that is not a finite decimal number.
    """
    return None if value is None or value == "" else to_decimal(value, field=field)


def quantize(value: Decimal, quantum: Decimal) -> Decimal:
    """Round ``value`` to ``quantum`` with ``ROUND_HALF_UP``; ``-0.00`` becomes ``0.00``."""
    with localcontext(MONEY_CONTEXT):
        result = value.quantize(quantum, rounding=ROUNDING)
    return result + 0 if result.is_zero() else result  # normalises the sign of zero


def quantize_usd(value: Decimal) -> Decimal:
    """Round a USD amount to the cent (``USD_QUANTUM``, half up)."""
    return quantize(value, USD_QUANTUM)


def quantize_percent(value: Decimal) -> Decimal:
    """Round a percentage to 0.01 percentage points (``PERCENT_QUANTUM``, half up)."""
    return quantize(value, PERCENT_QUANTUM)


def quantize_quantity(value: Decimal) -> Decimal:
    """Round a quantity to 0.000001 units (``QUANTITY_QUANTUM``, half up)."""
    return quantize(value, QUANTITY_QUANTUM)


def price_quantum(price: Decimal) -> Decimal:
    """The quantum of a price computed from ``price`` (USD per unit): :data:`PRICE_QUANTUM`,
    or, for a price below 0.1 USD (sub-cent coins), the quantum that keeps
    :data:`PRICE_SIGNIFICANT_DIGITS` significant digits (0.00001234 -> 0.0000000001), so
    that a rounding never moves a small price by a large fraction of itself."""
    if price == 0:
        return PRICE_QUANTUM
    finer = Decimal(1).scaleb(price.adjusted() - PRICE_SIGNIFICANT_DIGITS + 1)
    return min(PRICE_QUANTUM, finer)


def to_plain_str(value: Decimal) -> str:
    """Write a ``Decimal`` in plain fixed-point notation (never ``1E+2``)."""
    return format(value, "f")


def cents_of(usd: Decimal) -> int:
    """Whole cents of a USD amount (``12.34`` -> ``1234``).

    Raises:
        ValueError: when the amount is not a whole number of cents (stored realized P&L
            and risk always are: they are quantized to 0.01 before they are written).
    """
    scaled = usd * 100
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{usd} USD is not a whole number of cents")
    return int(scaled)


def pro_rata_share(whole: Decimal, before: Decimal, part: Decimal, total: Decimal) -> Decimal:
    """The share of a USD amount ``whole`` that ``part`` units take after ``before`` units
    of ``total`` took theirs, cumulatively pro rata to the cent (half up):
    ``q(whole x (before + part) / total) - q(whole x before / total)``. The shares of
    parts that add up to ``total`` add up to ``q(whole)`` exactly and never exceed it."""
    with localcontext(MONEY_CONTEXT):
        return quantize_usd(whole * (before + part) / total) - quantize_usd(whole * before / total)


def usd_from_cents(cents: int) -> Decimal:
    """USD of an integer number of cents (``1234`` -> ``Decimal("12.34")``), exact."""
    with localcontext(MONEY_CONTEXT):
        return Decimal(cents) / HUNDRED
