"""Implementation shortfall of a signal: its shadow fill and its live fills against the
decision price. Pure ``Decimal`` math, no I/O (definitions and a worked example:
docs/shortfall.md).

A signal is a strategy's decision (``strategy_id``, ``signal_id``), taken at the decision
time at the decision price: the quote when it arrived (the mid of bid and ask, else the
last price; a backtest's bar price). Its shadow fill is the service's paper (or backtest)
execution of it; its live fills are the broker's executions of it, added up.

Signs: positive = worse for the trader. With ``d = +1`` for a BUY and ``-1`` for a SELL:

- slippage of a fill, bps: ``(fill - decision) / decision x 10,000 x d``;
- slippage, USD: ``(fill - decision) x quantity x d``;
- shortfall live vs shadow, bps: ``(live - shadow) / decision x 10,000 x d`` (= live bps -
  shadow bps); USD: ``(live - shadow) x live quantity x d``.

Fill prices of several fills are their quantity-weighted average (VWAP), computed from
unrounded (the price shown is rounded to 6 significant digits at least,
:func:`~.money.price_quantum`). bps are rounded half up to 0.01, USD to the cent; latencies
are whole milliseconds, rounded down. The reference is Perold's implementation shortfall (the
decision price as the benchmark, "The Implementation Shortfall: Paper versus Reality",
1988).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from .money import (
    HUNDRED,
    MONEY_CONTEXT,
    ZERO,
    localcontext,
    quantize,
    quantize_usd,
    cents_of,
    usd_from_cents,
)
from .costs import BPS
from .pnl import BUY, average_price, normalize_side

#: Basis points are kept to 0.01 bps, half up.
BPS_QUANTUM = Decimal("0.01")
TWO = Decimal(2)


@dataclass(frozen=True)
class SignalFill:
    """One execution of a signal.

    Attributes:
        trade_id: the trade it opened; price: USD per unit; quantity: units;
        filled_at: when it filled; commission: USD.
    """

    trade_id: str
    price: Decimal
    quantity: Decimal
    filled_at: datetime
    commission: Decimal = ZERO


@dataclass(frozen=True)
class Leg:
    """The fills of one side (shadow or live) of a signal, added up.

    Attributes:
        price: quantity-weighted average fill price, USD per unit.
        quantity: units; commission: USD; fills: how many.
        first_at: the first fill's time; latency_ms: from the decision to the first fill,
            milliseconds (None without a decision time).
        slippage_bps, slippage_usd: against the decision price (positive = worse), or None
            without a decision price.
        exact_price: the unrounded average (what every figure is computed from; ``price``
            is it rounded for display).
    """

    price: Decimal
    quantity: Decimal
    commission: Decimal
    fills: int
    first_at: datetime
    latency_ms: int | None
    slippage_bps: Decimal | None
    slippage_usd: Decimal | None
    exact_price: Decimal = ZERO


@dataclass(frozen=True)
class SignalShortfall:
    """Every figure of one signal (docs/shortfall.md).

    Attributes:
        strategy_id, signal_id, symbol, side: the signal.
        decision_price (USD per unit), decided_at: the benchmark, or None until its shadow
            fill arrived.
        shadow, live: the two legs, each None while it has no fill.
        shortfall_bps, shortfall_usd: live against shadow (positive = the live fill was
            worse), None unless both legs and the decision price are there.
    """

    strategy_id: str
    signal_id: str
    symbol: str
    side: str
    decision_price: Decimal | None
    decided_at: datetime | None
    shadow: Leg | None
    live: Leg | None
    shortfall_bps: Decimal | None
    shortfall_usd: Decimal | None

    @property
    def linked(self) -> bool:
        """True when both a shadow and a live fill are there."""
        return self.shadow is not None and self.live is not None

    @property
    def first_seen(self) -> datetime | None:
        """The signal's first time: the earliest of its decision and its fills (its day in
        the groups and the date filter)."""
        times = [t for t in (self.decided_at, self.shadow.first_at if self.shadow else None,
                             self.live.first_at if self.live else None) if t is not None]
        return min(times) if times else None


def decision_price_of(*, bid: Decimal | None, ask: Decimal | None, price: Decimal | None) -> Decimal | None:
    """The decision price of a quote: the mid of bid and ask when both are there, else the
    last price (USD per unit, exact), else None."""
    if bid is not None and ask is not None:
        with localcontext(MONEY_CONTEXT):
            return (bid + ask) / TWO
    return price


def _direction(side: str) -> int:
    return 1 if normalize_side(side) == BUY else -1


def slippage_bps(side: str, decision: Decimal, fill: Decimal) -> Decimal:
    """``(fill - decision) / decision x 10,000 x d``, bps to 0.01 half up (positive = worse).

    Raises:
        ValueError: a decision price of 0 or less, or a malformed side.
    """
    if decision <= 0:
        raise ValueError(f"decision price must be above 0, got {decision}")
    with localcontext(MONEY_CONTEXT):
        return quantize((fill - decision) / decision * BPS * _direction(side), BPS_QUANTUM)


def leg_of(side: str, fills: Sequence[SignalFill], decision: Decimal | None,
           decided_at: datetime | None) -> Leg | None:
    """The fills of one side added up, against ``decision`` (None: no slippage figures).

    Returns:
        The :class:`Leg`, or None without fills.
    """
    if not fills:
        return None
    with localcontext(MONEY_CONTEXT):
        quantity = sum((f.quantity for f in fills), ZERO)
        commission = sum((f.commission for f in fills), ZERO)
    average, price = average_price((f.price, f.quantity) for f in fills)
    first = min(f.filled_at for f in fills)
    latency = None if decided_at is None else (first - decided_at) // timedelta(milliseconds=1)
    bps = usd = None
    if decision is not None and decision > 0:
        bps = slippage_bps(side, decision, average)
        with localcontext(MONEY_CONTEXT):  # sum of (fill - decision) x quantity: exact
            usd = quantize_usd((average - decision) * quantity * _direction(side))
    return Leg(price=price, quantity=quantity, commission=quantize_usd(commission), fills=len(fills), first_at=first,
               latency_ms=latency, slippage_bps=bps, slippage_usd=usd, exact_price=average)


def signal_shortfall(*, strategy_id: str, signal_id: str, symbol: str, side: str, decision_price: Decimal | None,
                     decided_at: datetime | None, shadow: Sequence[SignalFill],
                     live: Sequence[SignalFill]) -> SignalShortfall:
    """Every figure of one signal from its fills (formulas: module docstring).

    Raises:
        ValueError: a malformed side.
    """
    s = leg_of(side, shadow, decision_price, decided_at)
    v = leg_of(side, live, decision_price, decided_at)
    bps = usd = None
    if s is not None and v is not None and decision_price is not None and decision_price > 0:
        with localcontext(MONEY_CONTEXT):
            bps = quantize((v.exact_price - s.exact_price) / decision_price * BPS * _direction(side), BPS_QUANTUM)
            usd = quantize_usd((v.exact_price - s.exact_price) * v.quantity * _direction(side))
    return SignalShortfall(strategy_id=strategy_id, signal_id=signal_id, symbol=symbol, side=normalize_side(side),
                           decision_price=decision_price, decided_at=decided_at, shadow=s, live=v,
                           shortfall_bps=bps, shortfall_usd=usd)


@dataclass(frozen=True)
class ShortfallSummary:
    """Figures over a set of signals.

    Attributes:
        signals: signals with a shadow fill; linked: those also filled live;
        filled_live_percent: linked / signals x 100 (percent, 0.01; None without signals);
        live_only: signals filled live without a shadow fill (yet).
        mean_bps, median_bps: of the linked signals' shortfall (0.01 bps; None without any);
        total_usd: sum of their shortfall, USD.
        shadow_commission, live_commission: USD, over the signals' fills.
    """

    signals: int
    linked: int
    filled_live_percent: Decimal | None
    live_only: int
    mean_bps: Decimal | None
    median_bps: Decimal | None
    total_usd: Decimal
    shadow_commission: Decimal
    live_commission: Decimal


def summarize(rows: Iterable[SignalShortfall]) -> ShortfallSummary:
    """The :class:`ShortfallSummary` of ``rows`` (the median of an even count is the mean of
    the two middle values, rounded half up to 0.01 bps)."""
    rows = list(rows)
    shadowed = [r for r in rows if r.shadow is not None]
    values = sorted(r.shortfall_bps for r in rows if r.shortfall_bps is not None)
    with localcontext(MONEY_CONTEXT):
        total = sum((r.shortfall_usd for r in rows if r.shortfall_usd is not None), ZERO)
        mean = quantize(sum(values, ZERO) / len(values), BPS_QUANTUM) if values else None
        median = None
        if values:
            mid = len(values) // 2
            median = values[mid] if len(values) % 2 else quantize((values[mid - 1] + values[mid]) / TWO, BPS_QUANTUM)
        linked = sum(1 for r in shadowed if r.live is not None)
        share = quantize(Decimal(linked) / len(shadowed) * HUNDRED, Decimal("0.01")) if shadowed else None
        shadow_fee = sum((r.shadow.commission for r in rows if r.shadow is not None), ZERO)
        live_fee = sum((r.live.commission for r in rows if r.live is not None), ZERO)
    return ShortfallSummary(signals=len(shadowed), linked=linked, filled_live_percent=share,
                            live_only=sum(1 for r in rows if r.shadow is None and r.live is not None),
                            mean_bps=mean, median_bps=median, total_usd=quantize_usd(total),
                            shadow_commission=quantize_usd(shadow_fee), live_commission=quantize_usd(live_fee))


#: ``ShortfallCounters`` fields and their stored names.
COUNTER_NAMES = {"signals": "s", "linked": "k", "live_only": "o", "bps": "b", "usd": "u", "shadow_fee": "sc",
                 "live_fee": "lc"}


@dataclass
class ShortfallCounters:
    """The additive figures of a set of signals: what the service keeps per strategy, symbol
    and day on the write (integers, so sums and differences are exact), and from which
    :func:`summary_of` gives the same :class:`ShortfallSummary` as :func:`summarize` of the
    signals.

    Attributes:
        signals, linked, live_only: as in :class:`ShortfallSummary` (counts).
        bps: the sum of the linked signals' shortfall, in 0.01 bps.
        usd: the sum of their shortfall, cents.
        shadow_fee, live_fee: commissions of the shadow and live fills, cents.
        histogram: shortfall in 0.01 bps -> signals with that shortfall (the exact median).
    """

    signals: int = 0
    linked: int = 0
    live_only: int = 0
    bps: int = 0
    usd: int = 0
    shadow_fee: int = 0
    live_fee: int = 0
    histogram: dict[int, int] = field(default_factory=dict)

    def add(self, other: ShortfallCounters, sign: int = 1) -> None:
        """Add ``other`` (``sign`` -1: subtract it) in place; zero histogram entries go."""
        for name in COUNTER_NAMES:
            setattr(self, name, getattr(self, name) + sign * getattr(other, name))
        for value, n in other.histogram.items():
            total = self.histogram.get(value, 0) + sign * n
            if total:
                self.histogram[value] = total
            else:
                self.histogram.pop(value, None)

    def is_zero(self) -> bool:
        """True when every counter is 0 (a set of no signals)."""
        return not self.histogram and not any(getattr(self, name) for name in COUNTER_NAMES)

    def to_doc(self) -> dict[str, object]:
        """The stored map: the non-zero counters by their short names, and ``h`` (the
        histogram keyed by the decimal string of the 0.01 bps value)."""
        doc: dict[str, object] = {short: getattr(self, name) for name, short in COUNTER_NAMES.items()
                                  if getattr(self, name)}
        if self.histogram:
            doc["h"] = {str(value): n for value, n in sorted(self.histogram.items())}
        return doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, object]) -> ShortfallCounters:
        """Decode :meth:`to_doc` (missing counters are 0; zero histogram entries dropped)."""
        histogram = {int(k): int(v) for k, v in dict(doc.get("h") or {}).items() if int(v)}  # type: ignore[call-overload]
        return cls(histogram=histogram, **{name: int(doc.get(short, 0) or 0)  # type: ignore[call-overload]
                                           for name, short in COUNTER_NAMES.items()})


def counters_of(row: SignalShortfall) -> ShortfallCounters:
    """What one signal adds to :class:`ShortfallCounters`."""
    out = ShortfallCounters()
    if row.shadow is not None:
        out.signals = 1
        out.shadow_fee = cents_of(row.shadow.commission)
        out.linked = 1 if row.live is not None else 0
    elif row.live is not None:
        out.live_only = 1
    if row.live is not None:
        out.live_fee = cents_of(row.live.commission)
    if row.shortfall_bps is not None and row.shortfall_usd is not None:
        with localcontext(MONEY_CONTEXT):
            hundredths = int(row.shortfall_bps / BPS_QUANTUM)
        out.bps, out.usd, out.histogram = hundredths, cents_of(row.shortfall_usd), {hundredths: 1}
    return out


def _median_hundredths(histogram: Mapping[int, int]) -> tuple[int, int] | None:
    """The two middle values (equal for an odd count) of a histogram, 0.01 bps."""
    count = sum(histogram.values())
    if count <= 0:
        return None
    wanted = [(count - 1) // 2, count // 2]
    found: list[int] = []
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        while len(found) < 2 and wanted[len(found)] < seen:
            found.append(value)
        if len(found) == 2:
            break
    return found[0], found[1]


def summary_of(counters: ShortfallCounters) -> ShortfallSummary:
    """The :class:`ShortfallSummary` of a set of signals from their counters: equal to
    :func:`summarize` of the signals themselves (a property test checks it)."""
    values = sum(counters.histogram.values())
    with localcontext(MONEY_CONTEXT):
        mean = quantize(Decimal(counters.bps) * BPS_QUANTUM / values, BPS_QUANTUM) if values > 0 else None
        middle = _median_hundredths(counters.histogram)
        median = None
        if middle is not None:
            median = quantize((Decimal(middle[0]) + Decimal(middle[1])) * BPS_QUANTUM / TWO, BPS_QUANTUM)
        share = (quantize(Decimal(counters.linked) / counters.signals * HUNDRED, Decimal("0.01"))
                 if counters.signals > 0 else None)
    return ShortfallSummary(signals=counters.signals, linked=counters.linked, filled_live_percent=share,
                            live_only=counters.live_only, mean_bps=mean, median_bps=median,
                            total_usd=quantize_usd(usd_from_cents(counters.usd)),
                            shadow_commission=quantize_usd(usd_from_cents(counters.shadow_fee)),
                            live_commission=quantize_usd(usd_from_cents(counters.live_fee)))


def merge_counter_docs(docs: Iterable[Mapping[str, object]]) -> dict[str, object]:
    """One stored counters document (``{"c": {strategy|symbol: counters}}``) holding the
    sum of the documents ``docs`` (write shards of one day's partition); keys whose sum is
    zero are dropped."""
    merged: dict[str, ShortfallCounters] = {}
    for doc in docs:
        for key, counters in dict(doc.get("c") or {}).items():  # type: ignore[call-overload]
            merged.setdefault(key, ShortfallCounters()).add(ShortfallCounters.from_doc(counters))
    return {"c": {k: v.to_doc() for k, v in sorted(merged.items()) if not v.is_zero()}}
