"""Decimal money primitives: parsing without floats, named quanta, explicit rounding.

Every amount that enters the pure metric functions goes through :func:`to_decimal`,
which refuses binary floats, booleans, NaN and infinities, so a float can never
silently become money. Quantization happens only at the edges, with the named
quanta below and ``ROUND_HALF_UP`` (the rounding the seed document
``001_b2f882957fc53e69.txt`` states for P&L in cents and percent in 0.01).
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


def to_plain_str(value: Decimal) -> str:
    """Write a ``Decimal`` in plain fixed-point notation (never ``1E+2``)."""
    return format(value, "f")
