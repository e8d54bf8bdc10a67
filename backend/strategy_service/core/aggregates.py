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
    """What one CLOSED trade contributes to the aggregates, in integers.

    Attributes:
        trade_id: the shadow id (breaks ties of equal close times).
        closed_at_us: close time, microseconds since the epoch (UTC).
        day: close date in the user's trading time zone.
        source, strategy_id, symbol: the filter dimensions.
        pnl_cents: realized P&L, cents.
        r_units: R-multiple in 0.0001 R, or None without a positive risk.
        risk_cents: initial risk, cents, when positive (else None).
        hold_us: holding time (close - entry), microseconds, or None without an entry time.
        minute: minutes since the start of the close day (:func:`minute_of_day`).
        commission_cents: commissions of the trade (entry + exit), cents; ``pnl_cents`` is
            net of them, so the gross P&L is ``pnl_cents + commission_cents``.
        slippage_cents: slippage inside its fill prices (entry + exit), cents.
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
        """The compact per-day sequence entry ``[closed_at_us, pnl_cents, source,
        strategy_id, symbol]`` (keyed by trade id in storage)."""
        return [self.closed_at_us, self.pnl_cents, self.source, self.strategy_id, self.symbol]

    @classmethod
    def from_seq_entry(cls, trade_id: str, day: date, entry: list[Any]) -> TradeFacts:
        """Inverse of :meth:`seq_entry` (only the fields the order fold needs)."""
        closed_at_us, pnl_cents, source, strategy_id, symbol = entry
        return cls(trade_id, int(closed_at_us), day, source, strategy_id, symbol, int(pnl_cents))


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
) -> TradeFacts:
    """Integer facts of a closed trade; ``pnl`` (net), ``risk``, ``commission`` and
    ``slippage`` in USD (whole cents; None counts as 0).

    Raises:
        ValueError: an amount not in whole cents.
    """
    positive_risk = risk if risk is not None and risk > 0 else None
    return TradeFacts(
        trade_id=trade_id,
        closed_at_us=epoch_us(closed_at),
        day=closed_at.astimezone(tz).date(),
        source=source,
        strategy_id=strategy_id,
        symbol=symbol,
        pnl_cents=cents_of(pnl),
        r_units=r_units_of(pnl, positive_risk),
        risk_cents=cents_of(positive_risk) if positive_risk is not None else None,
        hold_us=epoch_us(closed_at) - epoch_us(opened_at) if opened_at is not None else None,
        minute=minute_of_day(closed_at, tz),
        commission_cents=cents_of(commission) if commission is not None else 0,
        slippage_cents=cents_of(slippage) if slippage is not None else 0,
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

    @property
    def r_multiple(self) -> Decimal | None:
        """``pnl / risk`` rounded half up to 0.0001 R, or None without a positive risk."""
        units = r_units_of(self.pnl, self.risk)
        return None if units is None else Decimal(units) / R_SCALE

    def facts(self, tz: ZoneInfo) -> TradeFacts:
        """Its integer :class:`TradeFacts` (close day in ``tz``).

        Raises:
            ValueError: P&L or risk not in whole cents.
        """
        return facts_of(
            trade_id=self.trade_id, pnl=self.pnl, closed_at=self.closed_at, opened_at=self.opened_at,
            source=self.source, strategy_id=self.strategy_id, symbol=self.symbol, risk=self.risk, tz=tz,
            commission=self.commission, slippage=self.slippage,
        )


#: Additive integer counters of a cell, with their storage names.
COUNTERS = ("n", "w", "l", "e", "pnl", "gp", "gl", "rn", "rs", "rq", "rk", "hn", "hs", "cm", "sl")
#: The counters of the user's summary (``/trades/shadow/metrics``): counts, net P&L, costs.
SUMMARY_COUNTERS = ("n", "w", "l", "e", "pnl", "cm", "sl")
#: The counters a breakdown group needs (counts, P&L, gross profit and loss).
GROUP_COUNTERS = ("n", "w", "l", "e", "pnl", "gp", "gl")


@dataclass
class CellStats:
    """Sums over the trades of one cell (or of any union of cells).

    Attributes:
        n: trades; w, l, e: wins (P&L > 0), losses (< 0), break-even (== 0).
        pnl: net realized P&L, cents; gp: gross profit (sum of wins), cents; gl: gross
            loss (minus the sum of losses, >= 0), cents.
        rn: trades with a risk; rs: sum of their R (0.0001 R units); rq: sum of squared
            R (0.00000001 R^2 units); rk: sum of their risk, cents.
        hn: trades with an entry time; hs: sum of their holding times, microseconds.
        cm: commissions, cents (``pnl`` is net of them: gross P&L is ``pnl + cm``);
            sl: slippage inside the fill prices, cents.
        mx: largest single P&L, cents (None for no trade); mn: smallest, cents.
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
    mx: int | None = None
    mn: int | None = None
    fo: int | None = None

    @staticmethod
    def delta_of(t: TradeFacts) -> dict[str, int]:
        """The counter increments of one trade (``mx``/``mn`` are its P&L)."""
        p = t.pnl_cents
        d = {
            "n": 1, "w": int(p > 0), "l": int(p < 0), "e": int(p == 0), "pnl": p,
            "gp": p if p > 0 else 0, "gl": -p if p < 0 else 0,
            "rn": 0, "rs": 0, "rq": 0, "rk": 0, "hn": 0, "hs": 0,
            "cm": t.commission_cents, "sl": t.slippage_cents,
        }
        if t.r_units is not None:
            d.update(rn=1, rs=t.r_units, rq=t.r_units * t.r_units, rk=t.risk_cents or 0)
        if t.hold_us is not None:
            d.update(hn=1, hs=t.hold_us)
        return d

    def add_trade(self, t: TradeFacts) -> None:
        """Add one trade."""
        for name, value in self.delta_of(t).items():
            setattr(self, name, getattr(self, name) + value)
        self.mx = t.pnl_cents if self.mx is None else max(self.mx, t.pnl_cents)
        self.mn = t.pnl_cents if self.mn is None else min(self.mn, t.pnl_cents)
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
        count: trades folded.
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

    def add(self, pnl_cents: int | Decimal) -> None:
        """Fold one trade's realized P&L (integer cents, or a ``Decimal`` amount)."""
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
        self.run_w = self.run_w + 1 if pnl_cents > 0 else 0
        self.run_l = self.run_l + 1 if pnl_cents < 0 else 0
        if self.run_w > self.best_w:
            self.best_w = self.run_w
        if self.run_l > self.best_l:
            self.best_l = self.run_l

    def extend(self, trades: Iterable[TradeFacts]) -> OrderFold:
        """Fold trades (already in close order); returns self."""
        for t in trades:
            self.add(t.pnl_cents)
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
