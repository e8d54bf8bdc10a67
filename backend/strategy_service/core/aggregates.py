"""Exact, additive aggregates of closed trades: what the close writes and the metrics read.

Pure code, no I/O (``performance/repository.py`` stores these shapes,
``performance/service.py`` reads them). Every number is an integer, so Firestore ``Increment`` adds them exactly:

- money in cents (realized P&L is quantized to 0.01 USD before it is stored);
- R-multiples in units of :data:`R_QUANTUM` (0.0001 R, half up, per trade);
- holding times in microseconds.

A **cell** is the sum over the trades sharing a close day (in the user's time zone), a
``source``, a ``strategy_id`` and a ``symbol``: every filter of the metrics endpoints is
a union of cells, so filtered metrics are sums of cells.

The two order-dependent figures, the trade-level drawdown of the shadow-mode trade
metrics specification and the win/loss
streaks, are a left fold over the trades in close order (:class:`OrderFold`). Trades are
ordered by ``(closed_at, trade id)``, to the microsecond, in the full recomputation and
in the incremental path alike. See ``docs/aggregates.md`` for the storage design.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from .money import HUNDRED, MONEY_CONTEXT, ZERO, cents_of, localcontext, quantize

#: Per-trade R-multiple quantum: R = P&L / risk, rounded half up to 0.0001 R.
R_QUANTUM = Decimal("0.0001")
#: R units per 1 R.
R_SCALE = 10_000
#: Separator of a cell key ``day|source|strategy_id|symbol`` (never in ids or symbols).
CELL_SEP = "|"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def epoch_us(moment: datetime) -> int:
    """Microseconds since the Unix epoch of a timezone-aware datetime (exact)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def minute_of_day(moment: datetime, tz: ZoneInfo) -> int:
    """Minutes since the start of ``moment``'s day in ``tz`` (0 to 1,499: a day of a DST
    change may last 25 hours), counted on the UTC clock, so that it grows with the close
    order within a day even when the local clock repeats an hour."""
    local = moment.astimezone(tz)
    midnight = datetime.combine(local.date(), datetime.min.time(), tzinfo=tz)
    return int((moment - midnight).total_seconds() // 60)


def r_units_of(pnl: Decimal, risk: Decimal | None) -> int | None:
    """The trade's R-multiple ``pnl / risk`` in units of 0.0001 R (half up), or None
    without a positive risk (dashboard metrics specification, "R-Return")."""
    if risk is None or risk <= 0:
        return None
    with localcontext(MONEY_CONTEXT):
        return int(quantize(pnl / risk, R_QUANTUM) * R_SCALE)


def outcome_of(pnl: Any, *, final: bool, position: Any = None) -> Any:
    """A realization's outcome: the position's total net P&L (``position``, or ``pnl`` for a
    position closed in one go) when it closes the position, None for a partial close. Cents
    or USD alike."""
    if not final:
        return None
    return pnl if position is None else position


def cell_key(day: date, source: str, strategy_id: str, symbol: str) -> str:
    """``YYYY-MM-DD|source|strategy_id|symbol``."""
    return CELL_SEP.join((day.isoformat(), source, strategy_id, symbol))


@dataclass(frozen=True)
class CellId:
    """The coordinates of a cell."""

    day: date
    source: str
    strategy_id: str
    symbol: str

    @classmethod
    def parse(cls, key: str) -> CellId:
        """Inverse of :func:`cell_key`."""
        day, source, strategy_id, symbol = key.split(CELL_SEP)
        return cls(date.fromisoformat(day), source, strategy_id, symbol)


@dataclass(frozen=True)
class TradeFacts:
    """What one realization (a close, or a partial close) contributes to the aggregates, in
    integers.

    A position closed in one go is one realization. A position closed in parts realizes
    each part on its own day (daily P&L, the equity curve, the drawdown), and counts once,
    on its final part, with its total net P&L as its outcome (trade counts, wins and losses,
    gross profit and loss, extremes, R, holding time, streaks).

    Attributes:
        trade_id: the realization id: the shadow id for a position closed in one go,
            ``{shadow_id}~{k}`` for its k-th exit otherwise (breaks ties of equal close times).
        closed_at_us: close time, microseconds since the epoch (UTC).
        day: close date in the user's trading time zone.
        source, strategy_id, symbol: the filter dimensions.
        pnl_cents: this realization's net P&L, cents.
        r_units: the position's R-multiple (its outcome / risk) in 0.0001 R, or None without a
            positive risk or for a partial realization.
        risk_cents: initial risk, cents, when positive (else None).
        hold_us: holding time (close - entry), microseconds, or None without an entry time.
        minute: minutes since the start of the close day (:func:`minute_of_day`).
        commission_cents: commissions of the trade (entry + exit), cents; ``pnl_cents`` is
            net of them, so the gross P&L is ``pnl_cents + commission_cents``.
        slippage_cents: slippage inside its fill prices (entry + exit), cents.
        final: False for a partial realization (the position stays open: it is not counted).
        position_cents: the position's total net P&L, cents, on a final realization that
            followed partial ones (None: the outcome is ``pnl_cents``).
    """

    trade_id: str
    closed_at_us: int
    day: date
    source: str
    strategy_id: str
    symbol: str
    pnl_cents: int
    r_units: int | None = None
    risk_cents: int | None = None
    hold_us: int | None = None
    minute: int = 0
    commission_cents: int = 0
    slippage_cents: int = 0
    final: bool = True
    position_cents: int | None = None

    @property
    def outcome(self) -> int | None:
        """The position's total net P&L in cents when this realization closes it, else None."""
        return outcome_of(self.pnl_cents, final=self.final, position=self.position_cents)

    @property
    def cell(self) -> str:
        """Its cell key."""
        return cell_key(self.day, self.source, self.strategy_id, self.symbol)

    @property
    def opened_us(self) -> int | None:
        """Entry time, microseconds since the epoch, or None without one."""
        return None if self.hold_us is None else self.closed_at_us - self.hold_us

    @property
    def order_key(self) -> tuple[int, str]:
        """Close order: ``(closed_at_us, trade_id)``."""
        return self.closed_at_us, self.trade_id

    def seq_entry(self) -> list[Any]:
        """The compact per-day sequence entry ``[closed_at_us, pnl, source, strategy_id,
        symbol]`` (keyed by realization id in storage): ``pnl`` is the integer cents of a
        position closed in one go, else a map ``{"p": cents}`` for a partial realization and
        ``{"p": cents, "o": position cents}`` for the final one (Firestore arrays hold maps,
        not arrays)."""
        pnl: Any = self.pnl_cents
        if not self.final:
            pnl = {"p": self.pnl_cents}
        elif self.position_cents is not None:
            pnl = {"p": self.pnl_cents, "o": self.position_cents}
        return [self.closed_at_us, pnl, self.source, self.strategy_id, self.symbol]

    @classmethod
    def from_seq_entry(cls, trade_id: str, day: date, entry: list[Any]) -> TradeFacts:
        """Inverse of :meth:`seq_entry` (only the fields the order fold needs)."""
        closed_at_us, pnl, source, strategy_id, symbol = entry[:5]
        if isinstance(pnl, dict):
            outcome = pnl.get("o")
            return cls(trade_id, int(closed_at_us), day, source, strategy_id, symbol, int(pnl["p"]),
                       final=outcome is not None, position_cents=None if outcome is None else int(outcome))
        return cls(trade_id, int(closed_at_us), day, source, strategy_id, symbol, int(pnl))


def facts_of(
    *,
    trade_id: str,
    pnl: Decimal,
    closed_at: datetime,
    opened_at: datetime | None,
    source: str,
    strategy_id: str,
    symbol: str,
    risk: Decimal | None,
    tz: ZoneInfo,
    commission: Decimal | None = None,
    slippage: Decimal | None = None,
    final: bool = True,
    position_pnl: Decimal | None = None,
) -> TradeFacts:
    """Integer facts of a realization; ``pnl`` (its net P&L), ``risk``, ``commission`` and
    ``slippage`` in USD (whole cents; None counts as 0). ``final`` False marks a partial
    close; ``position_pnl`` is the position's total net P&L (USD) on a final close that
    followed partial ones.

    Raises:
        ValueError: an amount not in whole cents.
    """
    positive_risk = risk if risk is not None and risk > 0 else None
    outcome = outcome_of(pnl, final=final, position=position_pnl)
    return TradeFacts(
        trade_id=trade_id,
        closed_at_us=epoch_us(closed_at),
        day=closed_at.astimezone(tz).date(),
        source=source,
        strategy_id=strategy_id,
        symbol=symbol,
        pnl_cents=cents_of(pnl),
        r_units=r_units_of(outcome, positive_risk) if outcome is not None else None,
        risk_cents=cents_of(positive_risk) if positive_risk is not None else None,
        hold_us=epoch_us(closed_at) - epoch_us(opened_at) if opened_at is not None else None,
        minute=minute_of_day(closed_at, tz),
        commission_cents=cents_of(commission) if commission is not None else 0,
        slippage_cents=cents_of(slippage) if slippage is not None else 0,
        final=final,
        position_cents=cents_of(position_pnl) if final and position_pnl is not None else None,
    )


@dataclass(frozen=True)
class ClosedTrade:
    """One realized trade, the input of every metric's full recomputation.

    Attributes:
        pnl: realized P&L net of commissions, USD.
        closed_at: when it was realized (timezone-aware).
        opened_at: when it was entered (timezone-aware), or None.
        symbol, strategy_id, source: for breakdowns and filters (source: paper, backtest, live).
        risk: initial risk in USD (``risk_amount``, or ``|entry - stop_loss| x quantity``),
            or None when the trade had neither; only trades with a risk have an R-multiple.
        trade_id: the shadow id; it orders trades closed in the same microsecond.
        commission: its commissions (entry + exit), USD; gross P&L is ``pnl + commission``.
        slippage: slippage inside its fill prices, USD.
        final: False for a partial close (the position stays open and is not counted).
        position_pnl: the position's total net P&L, USD, on a final close that followed
            partial ones (None: ``pnl``).
    """

    pnl: Decimal
    closed_at: datetime
    opened_at: datetime | None = None
    symbol: str = ""
    strategy_id: str = ""
    source: str = "paper"
    risk: Decimal | None = None
    trade_id: str = ""
    commission: Decimal = ZERO
    slippage: Decimal = ZERO
    final: bool = True
    position_pnl: Decimal | None = None

    @property
    def outcome(self) -> Decimal | None:
        """The position's total net P&L (USD) when this closes it, else None."""
        return outcome_of(self.pnl, final=self.final, position=self.position_pnl)

    @property
    def r_multiple(self) -> Decimal | None:
        """``outcome / risk`` rounded half up to 0.0001 R, or None without a positive risk
        (or for a partial close)."""
        if self.outcome is None:
            return None
        units = r_units_of(self.outcome, self.risk)
        return None if units is None else Decimal(units) / R_SCALE

    def facts(self, tz: ZoneInfo) -> TradeFacts:
        """Its integer :class:`TradeFacts` (close day in ``tz``).

        Raises:
            ValueError: P&L or risk not in whole cents.
        """
        return facts_of(
            trade_id=self.trade_id, pnl=self.pnl, closed_at=self.closed_at, opened_at=self.opened_at,
            source=self.source, strategy_id=self.strategy_id, symbol=self.symbol, risk=self.risk, tz=tz,
            commission=self.commission, slippage=self.slippage, final=self.final, position_pnl=self.position_pnl,
        )


#: Additive integer counters of a cell, with their storage names.
COUNTERS = ("n", "w", "l", "e", "pnl", "gp", "gl", "rn", "rs", "rq", "rk", "hn", "hs", "cm", "sl", "np")
#: The counters of the user's summary (``/api/metrics``): counts, net P&L, the closed
#: positions' outcomes (gp - gl), costs.
SUMMARY_COUNTERS = ("n", "w", "l", "e", "pnl", "gp", "gl", "cm", "sl")
#: The counters a breakdown group needs (counts, P&L, gross profit and loss).
GROUP_COUNTERS = ("n", "w", "l", "e", "pnl", "gp", "gl")


@dataclass
class CellStats:
    """Sums over the realizations of one cell (or of any union of cells).

    ``pnl``, ``cm`` and ``sl`` add every realization (a partial close on its own day); the
    other figures count positions once, on their final realization, by their outcome (total
    net P&L).

    Attributes:
        n: positions closed; w, l, e: wins (outcome > 0), losses (< 0), break-even (== 0).
        pnl: net realized P&L, cents; gp: gross profit (sum of winning outcomes), cents; gl:
            gross loss (minus the sum of losing outcomes, >= 0), cents.
        rn: trades with a risk; rs: sum of their R (0.0001 R units); rq: sum of squared
            R (0.00000001 R^2 units); rk: sum of their risk, cents.
        hn: trades with an entry time; hs: sum of their holding times, microseconds.
        cm: commissions, cents (``pnl`` is net of them: gross P&L is ``pnl + cm``);
            sl: slippage inside the fill prices, cents.
        np: partial closes (realizations that left their position open): with ``n``, the
            realizations (``n + np``: the entries of the close sequences).
        mx: largest outcome, cents (None for no closed position); mn: smallest, cents.
        fo: the earliest entry (fill) time, microseconds since the epoch (None without one).
    """

    n: int = 0
    w: int = 0
    l: int = 0  # noqa: E741 - storage name
    e: int = 0
    pnl: int = 0
    gp: int = 0
    gl: int = 0
    rn: int = 0
    rs: int = 0
    rq: int = 0
    rk: int = 0
    hn: int = 0
    hs: int = 0
    cm: int = 0
    sl: int = 0
    np: int = 0
    mx: int | None = None
    mn: int | None = None
    fo: int | None = None

    @staticmethod
    def delta_of(t: TradeFacts) -> dict[str, int]:
        """The counter increments of one realization (``mx``/``mn`` are its outcome)."""
        d = dict.fromkeys(COUNTERS, 0)
        d.update(pnl=t.pnl_cents, cm=t.commission_cents, sl=t.slippage_cents)
        o = t.outcome
        if o is None:  # a partial close: P&L and costs only
            d["np"] = 1
            return d
        d.update(n=1, w=int(o > 0), l=int(o < 0), e=int(o == 0), gp=o if o > 0 else 0, gl=-o if o < 0 else 0)
        if t.r_units is not None:
            d.update(rn=1, rs=t.r_units, rq=t.r_units * t.r_units, rk=t.risk_cents or 0)
        if t.hold_us is not None:
            d.update(hn=1, hs=t.hold_us)
        return d

    @property
    def realizations(self) -> int:
        """Closes and partial closes summed (``n + np``)."""
        return self.n + self.np

    def add_trade(self, t: TradeFacts) -> None:
        """Add one realization."""
        for name, value in self.delta_of(t).items():
            setattr(self, name, getattr(self, name) + value)
        o = t.outcome
        if o is not None:
            self.mx = o if self.mx is None else max(self.mx, o)
            self.mn = o if self.mn is None else min(self.mn, o)
        if t.opened_us is not None:
            self.fo = t.opened_us if self.fo is None else min(self.fo, t.opened_us)

    def add(self, other: CellStats) -> None:
        """Add another cell (sums add, extremes combine)."""
        self.n += other.n
        self.w += other.w
        self.l += other.l
        self.e += other.e
        self.pnl += other.pnl
        self.gp += other.gp
        self.gl += other.gl
        self.rn += other.rn
        self.rs += other.rs
        self.rq += other.rq
        self.rk += other.rk
        self.hn += other.hn
        self.hs += other.hs
        self.cm += other.cm
        self.sl += other.sl
        self.np += other.np
        if other.mx is not None:
            self.mx = other.mx if self.mx is None else max(self.mx, other.mx)
        if other.mn is not None:
            self.mn = other.mn if self.mn is None else min(self.mn, other.mn)
        if other.fo is not None:
            self.fo = other.fo if self.fo is None else min(self.fo, other.fo)

    def to_doc(self, counters: tuple[str, ...] = COUNTERS, *, extremes: bool = True) -> dict[str, int]:
        """Storage shape: ``counters`` and (``extremes``) ``mx``/``mn``/``fo``, left out while None."""
        out = {name: getattr(self, name) for name in counters}
        if not extremes:
            return out
        if self.mx is not None:
            out["mx"], out["mn"] = self.mx, self.mn  # type: ignore[assignment]
        if self.fo is not None:
            out["fo"] = self.fo
        return out

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> CellStats:
        """Inverse of :meth:`to_doc` (missing counters are 0)."""
        stats = cls(**{name: int(doc.get(name, 0)) for name in COUNTERS})
        if doc.get("mx") is not None:
            stats.mx, stats.mn = int(doc["mx"]), int(doc["mn"])
        if doc.get("fo") is not None:
            stats.fo = int(doc["fo"])
        return stats


@dataclass
class OrderFold:
    """Left fold over trades in close order: the drawdown of the cumulative realized P&L
    (shadow-mode trade metrics specification, ``compute_max_drawdown_from_realized_pnls``)
    and the longest runs of wins and losses (a break-even trade ends both runs).

    The one implementation of that drawdown: the aggregates fold integer cents, the
    specification's function folds ``Decimal`` USD through the same :meth:`add`.

    Attributes:
        count: realizations folded (a position closed in parts counts each part).
        cum: cumulative P&L (cents, or USD when folding Decimals); peak: its running
            maximum (from 0).
        worst_usd: most negative ``cum - peak`` (<= 0), in the unit folded.
        worst_pct: most negative ``(cum - peak) / peak x 100`` while ``peak > 0``, percent,
            unrounded (<= 0).
        run_w, run_l: current runs; best_w, best_l: longest runs.
    """

    count: int = 0
    cum: int | Decimal = 0
    peak: int | Decimal = 0
    worst_usd: int | Decimal = 0
    worst_pct: Decimal = field(default=ZERO)
    run_w: int = 0
    run_l: int = 0
    best_w: int = 0
    best_l: int = 0

    def add(self, pnl_cents: int | Decimal, outcome: int | Decimal | None = None, *, partial: bool = False) -> None:
        """Fold one realization's P&L (integer cents, or a ``Decimal`` amount) into the
        cumulative P&L, and its position's outcome into the streaks: ``outcome`` (the
        position's total P&L) when given, else the P&L itself; a ``partial`` close leaves
        the streaks alone."""
        self.count += 1
        with localcontext(MONEY_CONTEXT):
            self.cum += pnl_cents
        if self.cum > self.peak:
            self.peak = self.cum
        dd = self.cum - self.peak
        if dd < self.worst_usd:
            self.worst_usd = dd
        if dd < 0 and self.peak > 0:
            with localcontext(MONEY_CONTEXT):
                pct = Decimal(dd) / Decimal(self.peak) * HUNDRED
            if pct < self.worst_pct:
                self.worst_pct = pct
        if partial:
            return
        result = pnl_cents if outcome is None else outcome
        self.run_w = self.run_w + 1 if result > 0 else 0
        self.run_l = self.run_l + 1 if result < 0 else 0
        if self.run_w > self.best_w:
            self.best_w = self.run_w
        if self.run_l > self.best_l:
            self.best_l = self.run_l

    def extend(self, trades: Iterable[TradeFacts]) -> OrderFold:
        """Fold trades (already in close order); returns self."""
        for t in trades:
            self.add(t.pnl_cents, t.position_cents, partial=not t.final)
        return self

    def copy(self) -> OrderFold:
        """An independent copy."""
        return OrderFold(**{f.name: getattr(self, f.name) for f in fields(self)})

    def to_doc(self) -> dict[str, Any]:
        """Storage shape (``worst_pct`` as its exact decimal string)."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["worst_pct"] = str(self.worst_pct)
        return out

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> OrderFold:
        """Inverse of :meth:`to_doc`."""
        return cls(
            **{f.name: int(doc[f.name]) for f in fields(cls) if f.name != "worst_pct"},
            worst_pct=Decimal(str(doc["worst_pct"])),
        )


#: The filter dimensions with a per-month rollup (``b.{dimension}|{value}``).
DIMENSIONS = ("source", "strategy_id", "symbol")


def group_key(dimension: str, value: str) -> str:
    """``dimension|value``: the key of a per-month breakdown rollup."""
    return f"{dimension}{CELL_SEP}{value}"


def parse_group_key(key: str) -> tuple[str, str]:
    """Inverse of :func:`group_key`: ``(dimension, value)``."""
    dimension, value = key.split(CELL_SEP, 1)
    return dimension, value


@dataclass
class Rollup:
    """Cells summed the two ways the metrics need them.

    Attributes:
        by_day: per close day (the daily P&L, the equity curve, the totals).
        groups: per ``(dimension, value)`` (the breakdowns by source, strategy, symbol).
    """

    by_day: dict[date, CellStats] = field(default_factory=dict)
    groups: dict[tuple[str, str], CellStats] = field(default_factory=dict)

    def add_cell(self, cell: CellId, stats: CellStats) -> None:
        """Add one cell to its day and to its three groups."""
        day = self.by_day.get(cell.day)
        if day is None:
            day = self.by_day[cell.day] = CellStats()
        day.add(stats)
        for dimension in DIMENSIONS:
            key = (dimension, getattr(cell, dimension))
            group = self.groups.get(key)
            if group is None:
                group = self.groups[key] = CellStats()
            group.add(stats)

    @classmethod
    def of_cells(cls, cells: Mapping[CellId, CellStats]) -> Rollup:
        """The rollup of a set of cells."""
        out = cls()
        for cell, stats in cells.items():
            out.add_cell(cell, stats)
        return out

    def total(self) -> CellStats:
        """Every trade summed."""
        out = CellStats()
        for stats in self.by_day.values():
            out.add(stats)
        return out


def aggregate(trades: Iterable[TradeFacts]) -> dict[str, CellStats]:
    """Cells of a set of trades: ``cell key -> CellStats``."""
    cells: dict[str, CellStats] = {}
    for t in trades:
        stats = cells.get(t.cell)
        if stats is None:
            stats = cells[t.cell] = CellStats()
        stats.add_trade(t)
    return cells


def fold_in_order(trades: Iterable[TradeFacts]) -> OrderFold:
    """The :class:`OrderFold` of trades sorted by ``(closed_at_us, trade_id)``."""
    return OrderFold().extend(sorted(trades, key=lambda t: t.order_key))
