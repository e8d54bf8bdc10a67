"""Serving the dashboard: user settings, trade filters, the story's per-user metrics record."""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from google.api_core import exceptions as gexc

from .aggregates import (
    CellId,
    CellStats,
    OrderFold,
    Rollup,
    TradeFacts,
    aggregate,
    month_documents,
    parse_group_key,
    summary_counters,
)
from .dashboard_metrics import ClosedTrade, compute_dashboard, dashboard_from_aggregates, q2
from .errors import InvalidRequest
from .money import HUNDRED, MONEY_CONTEXT, ZERO, localcontext, to_decimal, to_plain_str
from .quotes import Quote
from .repository import Store
from .shadow_metrics import ShadowMetrics, compute_shadow_metrics, realized_pnl_of, shadow_metrics_from_aggregates

log = logging.getLogger(__name__)

DEFAULT_STARTING_CAPITAL = Decimal("100000.00")
DEFAULT_TIMEZONE = "America/New_York"
SOURCES = ("paper", "backtest", "live")


@dataclass(frozen=True)
class UserSettings:
    """A user's dashboard settings: starting capital (USD) and trading time zone."""

    starting_capital: Decimal
    timezone: ZoneInfo

    def as_json(self) -> dict[str, str]:
        """API shape."""
        return {"starting_capital": to_plain_str(q2(self.starting_capital)), "timezone": self.timezone.key}


def parse_timezone(name: str) -> ZoneInfo:
    """An IANA time zone.

    Raises:
        InvalidRequest: ``invalid_timezone``.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRequest(f"{name!r} is not an IANA time zone (e.g. America/New_York).", code="invalid_timezone") from None


async def load_user_settings(store: Store, uid: str) -> UserSettings:
    """Stored settings with defaults (100,000.00 USD, America/New_York)."""
    doc = await store.get_user_settings(uid)
    capital = doc.get("starting_capital")
    return UserSettings(
        starting_capital=to_decimal(capital, field="starting_capital") if capital else DEFAULT_STARTING_CAPITAL,
        timezone=parse_timezone(doc.get("timezone") or DEFAULT_TIMEZONE),
    )


async def update_user_settings(
    store: Store, uid: str, *, starting_capital: Decimal | None, timezone: str | None
) -> UserSettings:
    """Change a user's starting capital and/or time zone; returns the result. A new time
    zone moves trades to other days, so it rebuilds the user's aggregates (O(history)).

    Raises:
        InvalidRequest: ``invalid_timezone``.
    """
    fields: dict[str, Any] = {}
    if starting_capital is not None:
        fields["starting_capital"] = to_plain_str(q2(starting_capital))
    before = await load_user_settings(store, uid)
    if timezone is not None:
        fields["timezone"] = parse_timezone(timezone).key
    if fields:
        await store.merge_user_settings(uid, fields)
    if timezone is not None and fields["timezone"] != before.timezone.key:
        await rebuild_aggregates(store, uid)  # days are dates in the trading time zone
    return await load_user_settings(store, uid)


@dataclass(frozen=True)
class TradeFilter:
    """Filters of the metrics endpoints. Dates are inclusive close dates in the user's time
    zone (a trade's P&L belongs to the day it is realized); they apply to CLOSED trades.

    Raises (on construction):
        InvalidRequest: ``invalid_date_range`` when ``start_date > end_date``.
    """

    start_date: date | None = None
    end_date: date | None = None
    source: str | None = None
    strategy_id: str | None = None
    symbol: str | None = None

    def __post_init__(self) -> None:
        if self.start_date and self.end_date and self.start_date > self.end_date:
            raise InvalidRequest("start_date is after end_date.", code="invalid_date_range")

    def matches_attributes(self, doc: dict[str, Any]) -> bool:
        """Source, strategy and symbol match (trades without ``source`` are paper)."""
        return (
            (self.source is None or (doc.get("source") or "paper") == self.source)
            and (self.strategy_id is None or doc.get("strategy_id") == self.strategy_id)
            and (self.symbol is None or doc.get("symbol") == self.symbol)
        )

    def matches_cell(self, cell: CellId) -> bool:
        """A cell (day, source, strategy, symbol) is selected."""
        return (
            (self.source is None or cell.source == self.source)
            and (self.strategy_id is None or cell.strategy_id == self.strategy_id)
            and (self.symbol is None or cell.symbol == self.symbol)
            and (self.start_date is None or cell.day >= self.start_date)
            and (self.end_date is None or cell.day <= self.end_date)
        )

    def fold_key(self) -> str:
        """Id of the order-fold checkpoint of this selection: everything but ``end_date``
        (a fold through a day depends only on the trades up to that day)."""
        parts = [self.start_date.isoformat() if self.start_date else None, self.source, self.strategy_id, self.symbol]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]

    def as_json(self) -> dict[str, str | None]:
        """The filters as the API echoes them."""
        return {
            "start_date": self.start_date.isoformat() if self.start_date else None,
            "end_date": self.end_date.isoformat() if self.end_date else None,
            "source": self.source, "strategy_id": self.strategy_id, "symbol": self.symbol,
        }

    def matches_closed(self, doc: dict[str, Any], tz: ZoneInfo) -> bool:
        """A CLOSED trade document (``closed_at`` set) passes every filter: its cell does."""
        day = doc["closed_at"].astimezone(tz).date()
        return self.matches_cell(CellId(day, doc.get("source") or "paper", doc.get("strategy_id", ""), doc.get("symbol", "")))


def closed_trade_of(doc: dict[str, Any]) -> ClosedTrade:
    """The metric input of a CLOSED trade document."""
    risk = doc.get("risk_amount")
    created = doc.get("created_at")
    return ClosedTrade(
        pnl=realized_pnl_of(doc),
        closed_at=doc["closed_at"],
        opened_at=created if isinstance(created, datetime) else None,
        symbol=doc.get("symbol", ""),
        strategy_id=doc.get("strategy_id", ""),
        source=doc.get("source") or "paper",
        risk=to_decimal(risk, field="risk_amount") if risk else None,
        trade_id=doc.get("shadow_id", ""),
    )


@dataclass
class Selection:
    """The aggregates of the CLOSED trades a filter selects, as the metrics read them.

    Attributes:
        rollup: the selected trades summed per day and per breakdown group.
        fold: the order fold of the selected trades.
        documents_read: documents read to build it (months, the checkpoint, days).
    """

    rollup: Rollup
    fold: OrderFold
    documents_read: int


def _whole_months(flt: TradeFilter) -> bool:
    """No attribute filter, and dates (if any) on month boundaries: the month rollups
    answer it without reading the cells."""
    if flt.source or flt.strategy_id or flt.symbol:
        return False
    if flt.start_date and flt.start_date.day != 1:
        return False
    return not flt.end_date or (flt.end_date + timedelta(days=1)).day == 1


def _fold_days(fold: OrderFold, flt: TradeFilter, days: list[date], docs: dict[str, dict[str, Any]],
               counts: dict[date, int]) -> None:
    for day in days:
        entries = (docs.get(day.isoformat()) or {}).get("t") or {}
        facts = [TradeFacts.from_seq_entry(tid, day, e) for tid, e in entries.items()]
        chosen = sorted((f for f in facts if flt.matches_cell(CellId(day, f.source, f.strategy_id, f.symbol))),
                        key=lambda f: f.order_key)
        if len(chosen) != counts[day]:
            log.error("aggregates disagree on %s: %d sequence entries, %d in cells", day, len(chosen), counts[day])
        fold.extend(chosen)


async def load_selection(store: Store, uid: str, flt: TradeFilter) -> Selection:
    """Read the selected cells and fold them in close order, at a bounded cost.

    Reads, in one read-only transaction (one consistent snapshot): the month documents of
    the date range, the selection's fold checkpoint, and the close sequences of the days
    after the checkpoint (normally only the latest trading day). The checkpoint is valid
    when the cells still count as many trades up to its day as it folded (trades are never
    removed, so the same count means the same trades); otherwise every selected day is
    folded again. A newer checkpoint (through the day before the latest trading day) is
    then stored, best effort.
    """
    key = flt.fold_key()
    rollups = _whole_months(flt)

    async def read(tx: Any) -> tuple[Rollup, OrderFold, list[date], dict[str, dict[str, Any]], int]:
        months = await store.months_in(
            tx, uid,
            flt.start_date.isoformat()[:7] if flt.start_date else None,
            flt.end_date.isoformat()[:7] if flt.end_date else None,
            fields=["d", "b"] if rollups else ["c"],
        )
        rollup = Rollup()
        for month in months:
            if rollups:
                for day, doc in (month.get("d") or {}).items():
                    rollup.by_day[date.fromisoformat(day)] = CellStats.from_doc(doc)
                for group, doc in (month.get("b") or {}).items():
                    rollup.groups.setdefault(parse_group_key(group), CellStats()).add(CellStats.from_doc(doc))
                continue
            for cell_key, doc in (month.get("c") or {}).items():
                cell = CellId.parse(cell_key)
                if flt.matches_cell(cell):
                    rollup.add_cell(cell, CellStats.from_doc(doc))
        counts = {day: stats.n for day, stats in rollup.by_day.items()}
        cached = await store.get_in(tx, store.fold_ref(uid, key))
        fold, through = OrderFold(), None
        if cached:
            day = date.fromisoformat(cached["through"])
            if (flt.end_date is None or day <= flt.end_date) and sum(
                c for d, c in counts.items() if d <= day
            ) == int(cached["fold"]["count"]):
                fold, through = OrderFold.from_doc(cached["fold"]), day
        todo = [d for d in sorted(counts) if through is None or d > through]
        docs = await store.days_in(tx, uid, [d.isoformat() for d in todo])
        return rollup, fold, todo, docs, len(months) + 1 + len(todo)

    rollup, fold, todo, docs, reads = await store.read_snapshot(read)
    counts = {day: stats.n for day, stats in rollup.by_day.items()}
    if len(todo) >= 2:  # settle every day but the latest one into a new checkpoint
        _fold_days(fold, flt, todo[:-1], docs, counts)
        try:
            await store.set_fold(uid, key, {"through": todo[-2].isoformat(), "fold": fold.to_doc(), "filters": flt.as_json()})
        except gexc.GoogleAPIError as exc:  # a cache: the answer does not depend on it
            log.warning("fold checkpoint not stored: %s", type(exc).__name__)
        todo = todo[-1:]
    _fold_days(fold, flt, todo, docs, counts)
    return Selection(rollup=rollup, fold=fold, documents_read=reads)


async def dashboard_for(store: Store, *, uid: str, flt: TradeFilter) -> dict[str, Any]:
    """``GET /trades/shadow/dashboard``: seed 002's response plus the extra metrics, for the
    user's CLOSED trades passing ``flt``, with their settings, from the aggregates."""
    settings = await load_user_settings(store, uid)
    selection = await load_selection(store, uid, flt)
    result = dashboard_from_aggregates(
        selection.rollup, selection.fold, starting_capital=settings.starting_capital, tz=settings.timezone
    )
    result["filters"] = flt.as_json()
    return result


async def shadow_metrics_filtered(store: Store, *, uid: str, flt: TradeFilter) -> ShadowMetrics:
    """Seed 001's aggregate over the trades passing ``flt`` (OPEN trades: attribute filters
    only, as they have no close date), from the aggregates and the OPEN trades."""
    selection = await load_selection(store, uid, flt)
    open_trades = [t for t in await store.open_trades(uid) if flt.matches_attributes(t)]
    docs = await store.get_quotes(t["symbol"] for t in open_trades)
    marks = {sym: Quote.from_document(sym, d).as_mark() for sym, d in docs.items()}
    total, fold = selection.rollup.total(), selection.fold
    with localcontext(MONEY_CONTEXT):
        return shadow_metrics_from_aggregates(
            realized_pnl=Decimal(total.pnl) / HUNDRED, closed_trades=total.n, wins=total.w,
            max_drawdown_usd=Decimal(fold.worst_usd) / HUNDRED, max_drawdown_percent=fold.worst_pct,
            open_trades=open_trades, live_prices_by_symbol=marks,
        )


def metrics_record_view(record: dict[str, Any] | None) -> dict[str, Decimal | int]:
    """The story's ``metrics.json`` shape from the stored counters: ``totalTrades``,
    ``winRate`` (percent), ``totalPnl`` (USD), ``averagePnlPerTrade`` (USD), 0.01 half up;
    plus ``wins``, ``losses``, ``breakEven``."""
    record = record or {}
    total = int(record.get("totalTrades", 0))
    wins = int(record.get("wins", 0))
    with localcontext(MONEY_CONTEXT):
        total_pnl = Decimal(int(record.get("totalPnlCents", 0))) / HUNDRED
        return {
            "totalTrades": total,
            "winRate": q2(Decimal(wins) / total * HUNDRED if total else ZERO),
            "totalPnl": q2(total_pnl),
            "averagePnlPerTrade": q2(total_pnl / total if total else ZERO),
            "wins": wins,
            "losses": int(record.get("losses", 0)),
            "breakEven": int(record.get("breakEven", 0)),
        }


# ----------------------------------------------------------------- rebuild and verify
@dataclass
class Recomputed:
    """A user's aggregates recomputed from the trade history (every trade document).

    Attributes:
        settings: the user's settings (the time zone defines the days).
        closed: the CLOSED trade documents; open_trades: the OPEN ones.
        months: ``YYYY-MM -> {"c": {cell key: counters}}``; days: ``YYYY-MM-DD ->
            {"t": {shadow id: sequence entry}}``; summary: the ``/api/metrics`` counters.
    """

    settings: UserSettings
    closed: list[dict[str, Any]]
    open_trades: list[dict[str, Any]]
    months: dict[str, dict[str, Any]]
    days: dict[str, dict[str, Any]]
    summary: dict[str, int]


async def recompute_aggregates(store: Store, uid: str) -> Recomputed:
    """Read every trade of the user and compute the aggregates they imply (O(history))."""
    settings = await load_user_settings(store, uid)
    tz = settings.timezone
    closed, open_trades = [], []
    async for doc in store.stream_trades(uid):
        (closed if doc.get("status") == "CLOSED" else open_trades).append(doc)
    facts = [closed_trade_of(d).facts(tz) for d in closed]
    cells = aggregate(facts)
    days: dict[str, dict[str, Any]] = defaultdict(lambda: {"t": {}})
    for f in facts:
        days[f.day.isoformat()]["t"][f.trade_id] = f.seq_entry()
    total = CellStats()
    for stats in cells.values():
        total.add(stats)
    return Recomputed(settings, closed, open_trades, month_documents(cells), dict(days), summary_counters(total))


async def rebuild_aggregates(store: Store, uid: str) -> dict[str, int]:
    """Replace a user's aggregates with a recomputation from history (``rebuild``).

    Run it while the user closes no trade: a close that lands between the recomputation
    and the write is lost from the aggregates (``verify`` would then report it).

    Returns:
        ``{"closed_trades", "months", "days", "documents_written"}``.
    """
    rec = await recompute_aggregates(store, uid)
    written = await store.replace_aggregates(uid, months=rec.months, days=rec.days, summary=rec.summary)
    return {"closed_trades": len(rec.closed), "months": len(rec.months), "days": len(rec.days),
            "documents_written": written}


def _diff(name: str, stored: Any, expected: Any, out: list[str]) -> None:
    if stored != expected:
        out.append(f"{name}: stored {stored!r} != recomputed {expected!r}")


async def verify_aggregates(store: Store, uid: str) -> list[str]:
    """Compare a user's stored aggregates and served metrics with a full recomputation
    (``verify``): every cell counter, every day's close sequence, the ``/api/metrics``
    counters, and the dashboard and shadow metrics, unfiltered and filtered by each
    source, strategy and symbol, to the last digit.

    Returns:
        One line per difference; empty when everything agrees.
    """
    rec = await recompute_aggregates(store, uid)
    settings = rec.settings
    out: list[str] = []
    stored_months = await store.aggregate_documents(uid, "pnlMonths")
    for part, label in (("c", "cell"), ("d", "day total"), ("b", "group")):
        stored = {(m, k): CellStats.from_doc(v).to_doc() for m, doc in stored_months.items() for k, v in (doc.get(part) or {}).items()}
        expected = {(m, k): v for m, doc in rec.months.items() for k, v in doc[part].items()}
        for month, key in sorted(set(stored) | set(expected)):
            _diff(f"{label} {key}", stored.get((month, key)), expected.get((month, key)), out)
    stored_days = await store.aggregate_documents(uid, "pnlDays")
    for day in sorted(set(stored_days) | set(rec.days)):
        _diff(f"day {day}", (stored_days.get(day) or {}).get("t") or {}, (rec.days.get(day) or {}).get("t") or {}, out)
    record = await store.get_metrics_record(uid) or {}
    for name, value in rec.summary.items():
        _diff(f"summary {name}", int(record.get(name, 0)), value, out)

    filters = [TradeFilter()]
    for group in sorted({k for doc in rec.months.values() for k in doc["b"]}):  # each source, strategy, symbol
        dimension, value = parse_group_key(group)
        filters.append(TradeFilter(**{dimension: value}))
    for flt in filters:
        label = json.dumps({k: v for k, v in flt.as_json().items() if v})
        chosen = [d for d in rec.closed if flt.matches_closed(d, settings.timezone)]
        expected = compute_dashboard([closed_trade_of(d) for d in chosen],
                                     starting_capital=settings.starting_capital, tz=settings.timezone)
        served = await dashboard_for(store, uid=uid, flt=flt)
        served.pop("filters")
        for key in sorted(set(served) | set(expected)):
            _diff(f"dashboard {label} {key}", served.get(key), expected.get(key), out)
        served_m = (await shadow_metrics_filtered(store, uid=uid, flt=flt)).as_json()
        expected_m = compute_shadow_metrics(
            open_trades=[], closed_trades=chosen).as_json()
        for key in ("realized_pnl", "win_rate", "closed_trades", "wins", "max_drawdown_usd", "max_drawdown_percent"):
            _diff(f"shadow metrics {label} {key}", served_m[key], expected_m[key], out)
    return out
