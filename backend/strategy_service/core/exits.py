"""Exits the service triggers: stop loss, take profit and trailing stop. Pure ``Decimal``
math, no I/O.

The rule (issue 12, ``docs/api.md`` "Exits the service triggers", decision D23):

- A position is tested against the **exit side** of a quote, the price a close would get
  now (:func:`~.pnl.exit_fill_price`: a long at the bid, a short at the ask, else the
  quote's ``price``).
- A **stop** (fixed or trailing) fires when that price is at or beyond the stop (long:
  ``exit <= stop``; short: ``exit >= stop``) and fills at that exit price: the stop price
  itself, or worse when the price gapped through it.
- A **target** (take profit) fires when the exit price touches or crosses it (long:
  ``exit >= target``; short: ``exit <= target``) and fills at the target price.
- The stop is tested first: a quote that reaches both (possible only when a target was
  moved inside a risen trailing stop) exits as the stop, at the quote.
- A **trailing stop** follows the water mark, the best exit price since the fill (a
  long's highest, a short's lowest): ``stop = mark x (1 - percent / 100)`` for a long and
  ``mark x (1 + percent / 100)`` for a short, rounded to :data:`TRIGGER_PRICE_QUANTUM`
  with ``ROUND_HALF_UP``. With a fixed stop too, the tighter of the two is the stop (the
  fixed one on a tie): exit reason ``trailing_stop`` only when the trailing one is tighter.

Storage cannot range over decimal strings, so each OPEN position also carries integer
thresholds (:func:`thresholds`): prices scaled by :data:`PRICE_SCALE` and rounded outward,
so that the query they serve finds a superset of the positions the exact rule fires (or
whose water mark moves) and never misses one (:func:`is_candidate`); the exact rule then
decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from .money import HUNDRED, MONEY_CONTEXT, ROUNDING, localcontext, price_quantum
from .pnl import BUY, normalize_side

#: Exit reasons written on a trade the service closed.
STOP_LOSS = "stop_loss"
TAKE_PROFIT = "take_profit"
TRAILING_STOP = "trailing_stop"

#: A trailing stop price is kept to a millionth of a USD (``ROUND_HALF_UP``), the finest
#: price step of any quoted instrument the service expects (crypto quotes to 1e-6).
TRIGGER_PRICE_QUANTUM = Decimal("0.000001")
#: Integer thresholds are prices x 10^6: the largest accepted price (1e12 USD) gives
#: 1e18, inside Firestore's 64-bit integers (9.2e18).
PRICE_SCALE = 10**6
#: A trailing percent is > 0 and < this (a 100 % trailing stop on a long is a stop at 0).
MAX_TRAILING_PERCENT = Decimal(100)


@dataclass(frozen=True)
class ExitPlan:
    """The service-triggered exits of one OPEN position.

    Attributes:
        side: ``"BUY"`` (long) or ``"SELL"`` (short).
        stop_loss: fixed stop, USD per unit, or None.
        take_profit: target, USD per unit, or None.
        trailing_percent: trailing distance, percent of the water mark (0 < p < 100), or None.
        water_mark: the best exit price since the fill, USD per unit (a long's highest, a
            short's lowest); needed when ``trailing_percent`` is set.
    """

    side: str
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    trailing_percent: Decimal | None = None
    water_mark: Decimal | None = None

    @property
    def is_long(self) -> bool:
        """True for a long (BUY) position."""
        return normalize_side(self.side) == BUY

    @property
    def has_exits(self) -> bool:
        """True when any exit is set (the position needs thresholds)."""
        return self.stop_loss is not None or self.take_profit is not None or self.trailing_percent is not None


@dataclass(frozen=True)
class Exit:
    """An exit that fires: ``reason`` (:data:`STOP_LOSS`, :data:`TAKE_PROFIT`,
    :data:`TRAILING_STOP`) and the base exit ``price``, USD per unit, before any cost."""

    reason: str
    price: Decimal


@dataclass(frozen=True)
class Decision:
    """What one quote does to a position: ``exit`` fires (or None); otherwise
    ``water_mark`` is the trailing stop's new water mark, USD per unit (None: unchanged)."""

    exit: Exit | None = None
    water_mark: Decimal | None = None


@dataclass(frozen=True)
class Thresholds:
    """Integer thresholds (prices x :data:`PRICE_SCALE`) stored on an OPEN position.

    Attributes:
        lo: the position is a candidate when ``floor(exit x 10^6) <= lo`` (a long's stop, a
            short's target and a short's water mark); None when nothing fires downward.
        hi: a candidate when ``ceil(exit x 10^6) >= hi`` (a long's target and water mark, a
            short's stop); None when nothing fires upward.
    """

    lo: int | None
    hi: int | None


def trailing_percent_valid(percent: Decimal) -> bool:
    """True when a trailing percent is usable: finite, > 0 and < :data:`MAX_TRAILING_PERCENT`."""
    return percent.is_finite() and Decimal(0) < percent < MAX_TRAILING_PERCENT


def stop_on_right_side(side: str, entry: Decimal, stop: Decimal) -> bool:
    """True when a stop is on the losing side of the entry fill: a long's below it, a
    short's above it (equal is refused: it would exit at once).

    Args:
        side: ``"BUY"`` or ``"SELL"``; entry, stop: USD per unit.
    """
    return stop < entry if normalize_side(side) == BUY else stop > entry


def target_on_right_side(side: str, entry: Decimal, target: Decimal) -> bool:
    """True when a target is on the winning side of the entry fill: a long's above it, a
    short's below it.

    Args:
        side: ``"BUY"`` or ``"SELL"``; entry, target: USD per unit.
    """
    return target > entry if normalize_side(side) == BUY else target < entry


def trailing_stop_price(side: str, water_mark: Decimal, percent: Decimal) -> Decimal:
    """The trailing stop of a water mark: ``mark x (1 - p/100)`` for a long,
    ``mark x (1 + p/100)`` for a short, to :data:`TRIGGER_PRICE_QUANTUM` (finer for a mark
    below 0.1 USD, :func:`~.money.price_quantum`), ``ROUND_HALF_UP``.

    Args:
        side: ``"BUY"`` or ``"SELL"``; water_mark: USD per unit; percent: 0 < p < 100.

    Returns:
        The stop, USD per unit.

    Raises:
        ValueError: for a percent out of range or a malformed side.
    """
    if not trailing_percent_valid(percent):
        raise ValueError(f"trailing percent must be > 0 and < 100, got {percent}")
    sign = -1 if normalize_side(side) == BUY else 1
    with localcontext(MONEY_CONTEXT):
        stop = water_mark * (1 + sign * percent / HUNDRED)
        return stop.quantize(min(TRIGGER_PRICE_QUANTUM, price_quantum(water_mark)), rounding=ROUNDING)


def effective_stop(plan: ExitPlan) -> tuple[Decimal, str] | None:
    """The stop in force and its exit reason: the tighter of the fixed and the trailing
    stop (a long's higher, a short's lower; the fixed one on a tie), or None.

    Raises:
        ValueError: a trailing percent without a water mark, or out of range.
    """
    stops: list[tuple[Decimal, str]] = []
    if plan.stop_loss is not None:
        stops.append((plan.stop_loss, STOP_LOSS))
    if plan.trailing_percent is not None:
        if plan.water_mark is None:
            raise ValueError("a trailing stop needs a water mark")
        stops.append((trailing_stop_price(plan.side, plan.water_mark, plan.trailing_percent), TRAILING_STOP))
    if not stops:
        return None
    if plan.is_long:
        return max(stops, key=lambda s: s[0])  # max keeps the first (fixed) on a tie
    return min(stops, key=lambda s: s[0])


def evaluate(plan: ExitPlan, exit_price: Decimal) -> Decision:
    """What a quote whose exit side is ``exit_price`` does to a position (the rule of the
    module docstring).

    Args:
        plan: the position's exits.
        exit_price: the quote's exit side for this position, USD per unit (> 0).

    Returns:
        A :class:`Decision`: the exit that fires (stop first, then target), else the new
        water mark when the price improved on it, else nothing.

    Raises:
        ValueError: a trailing percent without a water mark, or out of range.
    """
    stop = effective_stop(plan)
    if stop is not None:
        price, reason = stop
        if (exit_price <= price) if plan.is_long else (exit_price >= price):
            return Decision(exit=Exit(reason, exit_price))  # at the quote: the stop, or worse on a gap
    target = plan.take_profit
    if target is not None and ((exit_price >= target) if plan.is_long else (exit_price <= target)):
        return Decision(exit=Exit(TAKE_PROFIT, target))
    if plan.trailing_percent is not None and plan.water_mark is not None:
        if (exit_price > plan.water_mark) if plan.is_long else (exit_price < plan.water_mark):
            return Decision(water_mark=exit_price)
    return Decision()


def scaled_floor(price: Decimal) -> int:
    """``floor(price x 10^6)``: a price, USD per unit, as an integer of :data:`PRICE_SCALE`."""
    with localcontext(MONEY_CONTEXT):
        return int((price * PRICE_SCALE).to_integral_value(rounding=ROUND_FLOOR))


def scaled_ceil(price: Decimal) -> int:
    """``ceil(price x 10^6)``: a price, USD per unit, as an integer of :data:`PRICE_SCALE`."""
    with localcontext(MONEY_CONTEXT):
        return int((price * PRICE_SCALE).to_integral_value(rounding=ROUND_CEILING))


def thresholds(plan: ExitPlan) -> Thresholds:
    """The integer thresholds of a position (see :class:`Thresholds`), rounded outward.

    - long: ``lo = ceil(stop)``; ``hi = min(floor(target), floor(water mark) + 1)``;
    - short: ``hi = floor(stop)``; ``lo = max(ceil(target), ceil(water mark) - 1)``;

    each in units of 10^-6 USD, the water mark's term only with a trailing stop. Then
    :func:`is_candidate` holds for every exit price at which :func:`evaluate` fires or moves
    the water mark (proved term by term in ``docs/decisions.md`` D23; checked by a property
    test).

    Raises:
        ValueError: a trailing percent without a water mark, or out of range.
    """
    stop = effective_stop(plan)
    trailing = plan.trailing_percent is not None and plan.water_mark is not None
    if plan.is_long:
        lo = scaled_ceil(stop[0]) if stop else None
        highs = [scaled_floor(plan.take_profit)] if plan.take_profit is not None else []
        if trailing:
            highs.append(scaled_floor(plan.water_mark) + 1)  # type: ignore[arg-type]
        return Thresholds(lo=lo, hi=min(highs) if highs else None)
    hi = scaled_floor(stop[0]) if stop else None
    lows = [scaled_ceil(plan.take_profit)] if plan.take_profit is not None else []
    if trailing:
        lows.append(scaled_ceil(plan.water_mark) - 1)  # type: ignore[arg-type]
    return Thresholds(lo=max(lows) if lows else None, hi=hi)


def is_candidate(limits: Thresholds, exit_price: Decimal) -> bool:
    """True when the storage query for ``exit_price`` returns a position with ``limits``:
    ``lo >= floor(exit x 10^6)`` or ``hi <= ceil(exit x 10^6)``."""
    return ((limits.lo is not None and limits.lo >= scaled_floor(exit_price))
            or (limits.hi is not None and limits.hi <= scaled_ceil(exit_price)))
