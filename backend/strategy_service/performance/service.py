"""Performance use cases: the dashboard, the shadow-mode metrics and ``/api/metrics``,
served from the aggregates every close maintains (never from the trade history)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ..core.aggregates import CellId, CellStats, OrderFold, Rollup, TradeFacts
from ..core.dashboard import Dashboard, dashboard_from_aggregates, q2
from ..core.errors import StorageUnavailable
from ..core.formulas import average, win_rate
from ..core.money import usd_from_cents
from ..core.pnl import OpenPosition
from ..core.shadow import ShadowMetrics, shadow_metrics_from_aggregates
from ..quotes.repository import QuoteRepository
from ..trades.repository import TradeRepository
from ..users.service import UserService
from .filters import TradeFilter
from .repository import AggregateRepository, parse_group_key

log = logging.getLogger(__name__)


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


def _fold_days(fold: OrderFold, flt: TradeFilter, days: list[date], sequences: dict[date, list[TradeFacts]],
               counts: dict[date, int]) -> None:
    for day in days:
        chosen = sorted((t for t in sequences.get(day, []) if flt.matches_cell(CellId(day, t.source, t.strategy_id, t.symbol))),
                        key=lambda t: t.order_key)
        if len(chosen) != counts[day]:
            log.error("aggregates disagree on %s: %d sequence entries, %d in cells", day, len(chosen), counts[day])
        fold.extend(chosen)


class PerformanceService:
    """Metrics of a user's trades from the aggregates.

    Args:
        aggregates: the aggregates repository; trades: for the OPEN positions; quotes:
        their marks; users: the settings (starting capital, time zone).
    """

    def __init__(self, aggregates: AggregateRepository, trades: TradeRepository, quotes: QuoteRepository,
                 users: UserService) -> None:
        self.aggregates = aggregates
        self.trades = trades
        self.quotes = quotes
        self.users = users

    async def load_selection(self, uid: str, flt: TradeFilter) -> Selection:
        """Read the selected cells and fold them in close order, at a bounded cost.

        Reads, in one read-only transaction (one consistent snapshot): the month documents
        of the date range, the selection's fold checkpoint, and the close sequences of the
        days after the checkpoint (normally only the latest trading day). The checkpoint
        is valid when the cells still count as many trades up to its day as it folded
        (trades are never removed, so the same count means the same trades); otherwise
        every selected day is folded again. A newer checkpoint (through the day before the
        latest trading day) is then stored, best effort.
        """
        key = flt.fold_key()
        rollups = flt.whole_months()

        async def read(tx: Any) -> tuple[Rollup, OrderFold, list[date], dict[date, list[TradeFacts]], int]:
            months = await self.aggregates.months_in(
                tx, uid, flt.start_date.isoformat()[:7] if flt.start_date else None,
                flt.end_date.isoformat()[:7] if flt.end_date else None, rollups=rollups)
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
            cached = await self.aggregates.checkpoint(tx, uid, key)
            fold, through = OrderFold(), None
            if cached:
                day, stored = cached
                if (flt.end_date is None or day <= flt.end_date) and sum(
                        c for d, c in counts.items() if d <= day) == stored.count:
                    fold, through = stored, day
            todo = [d for d in sorted(counts) if through is None or d > through]
            sequences = await self.aggregates.day_sequences(tx, uid, todo)
            return rollup, fold, todo, sequences, len(months) + 1 + len(todo)

        rollup, fold, todo, sequences, reads = await self.aggregates.read_snapshot(read)
        counts = {day: stats.n for day, stats in rollup.by_day.items()}
        if len(todo) >= 2:  # settle every day but the latest one into a new checkpoint
            _fold_days(fold, flt, todo[:-1], sequences, counts)
            try:
                await self.aggregates.store_checkpoint(uid, key, todo[-2], fold, flt.as_json())
            except StorageUnavailable:  # a cache: the answer does not depend on it
                log.warning("fold checkpoint not stored")
            todo = todo[-1:]
        _fold_days(fold, flt, todo, sequences, counts)
        return Selection(rollup=rollup, fold=fold, documents_read=reads)

    async def dashboard(self, uid: str, flt: TradeFilter) -> Dashboard:
        """``GET /trades/shadow/dashboard``: every dashboard figure for the user's CLOSED
        trades passing ``flt``, with their settings, from the aggregates."""
        settings = await self.users.get(uid)
        selection = await self.load_selection(uid, flt)
        return dashboard_from_aggregates(selection.rollup, selection.fold,
                                         starting_capital=settings.starting_capital, tz=settings.timezone)

    async def shadow_metrics(self, uid: str, flt: TradeFilter) -> ShadowMetrics:
        """``GET /trades/shadow/metrics`` over the trades passing ``flt`` (OPEN trades:
        attribute filters only, as they have no close date), from the aggregates and the
        OPEN trades marked at their quotes."""
        selection = await self.load_selection(uid, flt)
        open_trades = [t for t in await self.trades.open_trades(uid)
                       if flt.matches_attributes(t.source, t.strategy_id, t.symbol)]
        quotes = await self.quotes.get_many(t.symbol for t in open_trades)
        marks = {sym: q.as_mark() for sym, q in quotes.items()}
        total, fold = selection.rollup.total(), selection.fold
        return shadow_metrics_from_aggregates(
            realized_pnl=usd_from_cents(total.pnl), closed_trades=total.n, wins=total.w,
            max_drawdown_usd=usd_from_cents(fold.worst_usd), max_drawdown_percent=fold.worst_pct,
            open_trades=[OpenPosition(t.symbol, t.side, t.entry_price, t.quantity, t.current_pnl) for t in open_trades],
            live_prices_by_symbol=marks,
        )

    async def api_metrics(self, uid: str) -> dict[str, Decimal | int]:
        """``GET /api/metrics``: the incremental per-trade record (``totalTrades``,
        ``winRate`` percent, ``totalPnl`` USD, ``averagePnlPerTrade`` USD, 0.01 half up;
        plus ``wins``, ``losses``, ``breakEven``) from its stored counters."""
        return metrics_record_view(await self.aggregates.summary(uid))


def metrics_record_view(record: dict[str, int]) -> dict[str, Decimal | int]:
    """The ``metrics.json`` shape of the per-trade metrics record from its counters."""
    total, wins = record["totalTrades"], record["wins"]
    total_pnl = usd_from_cents(record["totalPnlCents"])
    return {
        "totalTrades": total,
        "winRate": q2(win_rate(wins, total)),
        "totalPnl": q2(total_pnl),
        "averagePnlPerTrade": q2(average(total_pnl, total)),
        "wins": wins,
        "losses": record["losses"],
        "breakEven": record["breakEven"],
    }
