"""Performance use cases: the dashboard, the shadow-mode metrics and ``/api/metrics``,
served from the aggregates every close maintains (never from the trade history)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from collections.abc import Mapping
from typing import Any

from ..core.aggregates import CellId, OrderFold, Rollup, TradeFacts, minute_of_day
from ..core.dashboard import Basis, Dashboard, dashboard_from_aggregates, q2
from ..core.errors import StorageUnavailable
from ..core.formulas import average, win_rate
from ..core.money import usd_from_cents
from ..core.shadow import ShadowMetrics, shadow_metrics_from_aggregates
from ..quotes.repository import QuoteRepository
from ..strategies.service import StrategyService
from ..trades.repository import TradeRepository
from ..users.models import UserSettings
from ..users.service import UserService
from .filters import TradeFilter
from .repository import (
    AGG_CELLS,
    AGG_SIGNALS,
    AGG_DAYS,
    AGG_GROUPS,
    AGG_SEQ,
    BATCH_WRITES,
    CHUNK,
    MONTH_CHUNK,
    WHOLE_DAY,
    AggregateRepository,
    Checkpoint,
)

log = logging.getLogger(__name__)

#: Minutes of the latest day that a checkpoint leaves open (closes may still commit there).
SETTLE_MINUTES = 2
#: Documents whose shards one read merges, at most (each is one transaction).
COMPACTIONS_PER_READ = 64
#: A write shard of the current period no close has written for this long is merged into
#: shard 00 by the next read (the shard policy's window: the load that chose it has gone).
IDLE_SHARD_SECONDS = 10.0
#: A current-period document's idle shards are merged at most this often per process, so
#: that reads add about one write per this many seconds to its shard 00, whatever their rate.
ROLLUP_SECONDS = 10.0


@dataclass
class Selection:
    """The aggregates of the CLOSED trades a filter selects, as the metrics read them.

    Attributes:
        rollup: the selected trades summed per day and per breakdown group.
        fold: the order fold of the selected trades.
        folded: close-sequence entries this read folded (what a checkpoint saves).
        prior_pnl_cents: P&L the selection realized before ``start_date``, cents.
    """

    rollup: Rollup
    fold: OrderFold
    folded: int = 0
    prior_pnl_cents: int = 0


async def compact_spread(aggregates: AggregateRepository, uid: str, seen: Mapping[str, Mapping[str, float]],
                         today: date, limit: int | None) -> int:
    """Merge the documents a read found spread over several (``seen``: collection -> id
    -> idle seconds, see :func:`~.repository.idle_seconds`):

    - a settled period's: the write shards of day totals and groups (a past month) and of
      cells (a past day) into shard ``00``, a past month's cells into month chunks, a past
      day's close-sequence documents into chunks;
    - a settled day's shortfall counters (``aggSignals``) into shard ``00``;
    - the current period's (this month's day totals and groups, today's cells and
      shortfall counters): the write
      shards idle for :data:`IDLE_SHARD_SECONDS` or more, into shard ``00``, at most once
      per :data:`ROLLUP_SECONDS` per document in this process. A burst of closes spreads
      them over up to 64 shards; once it has passed, the next read folds them back, so a
      read of today costs about the same after 5,000 closes as after 50. Shards still
      being written stay, so the merge competes with no close for long.

    Up to ``limit`` merges (None: all). Best effort: the answers do not depend on it, only
    the number of documents later reads fetch.

    Returns:
        The number of merges done.
    """
    month, day = today.isoformat()[:7], today.isoformat()
    done = 0
    for collection, ids in seen.items():
        groups: dict[str, list[str]] = {}
        for doc_id in ids:
            parts = doc_id.split("~")
            if collection == AGG_SEQ:
                key = "~".join(parts[:2])  # a day's sequence documents
            elif collection == AGG_CELLS and parts[1][:7] < month:
                key = f"{parts[0]}~{parts[1][:7]}"  # a settled month's cell documents
            else:
                key = doc_id.rsplit("~", 1)[0]  # the write shards of one document
            groups.setdefault(key, []).append(doc_id)
        for key, group in sorted(groups.items()):
            period = key.split("~")[1]
            month_cells = collection == AGG_CELLS and len(period) == 7
            settled = period < (day if collection in (AGG_CELLS, AGG_SEQ, AGG_SIGNALS) and not month_cells else month)
            if collection == AGG_SEQ:
                loose = [g for g in group if g.split("~")[2] != CHUNK]
                worth = bool(loose) and 2 <= len(group) <= BATCH_WRITES
            elif month_cells:
                loose = [g for g in group if g.split("~")[2] != MONTH_CHUNK]
                worth = bool(loose) and 2 <= len(group) <= BATCH_WRITES
            else:
                worth = len(group) >= 2
            if not settled and collection != AGG_SEQ and not month_cells:
                # the current period: only the shards no close has written for a while
                group = [g for g in group if not g.endswith("~00") and ids[g] >= IDLE_SHARD_SECONDS]
                worth = bool(group) and aggregates.may_roll_up(uid, f"{collection}/{key}", ROLLUP_SECONDS)
                settled = True
            if not (settled and worth):
                continue
            if limit is not None and done >= limit:
                return done
            try:
                if collection == AGG_SEQ:
                    await aggregates.compact_sequences(uid, group)
                elif month_cells:
                    await aggregates.compact_cells_month(uid, group)
                else:
                    await aggregates.compact(uid, collection, group)
            except StorageUnavailable:
                log.warning("compaction of %s %s deferred", collection, key)
            done += 1
    return done


class PerformanceService:
    """Metrics of a user's trades from the aggregates.

    Args:
        aggregates: the aggregates repository; trades: for the OPEN positions; quotes:
        their marks; users: the settings (starting capital, time zone, live generation).
    """

    def __init__(self, aggregates: AggregateRepository, trades: TradeRepository, quotes: QuoteRepository,
                 users: UserService, strategies: StrategyService) -> None:
        self.aggregates = aggregates
        self.trades = trades
        self.quotes = quotes
        self.users = users
        self.strategies = strategies

    async def capital(self, uid: str, flt: TradeFilter, settings: UserSettings) -> tuple[Decimal, str]:
        """The starting capital a selection is measured against, and its source in words: a
        strategy's own when the filter selects one strategy that has one, else the user's."""
        if flt.strategy_id:
            own = (await self.strategies.get(uid, flt.strategy_id)).starting_capital
            if own is not None:
                return own, f"strategy {flt.strategy_id}'s starting capital"
        return settings.starting_capital, "user starting capital"

    async def load_selection(self, uid: str, flt: TradeFilter, settings: UserSettings | None = None) -> Selection:
        """Read the selected trades' aggregates and fold them in close order, at a cost that
        grows with neither the history nor the closes of a day.

        In one read-only transaction (one consistent snapshot) of the live generation:
        - the day totals (and, for whole months, the groups) of the date range when there
          is no attribute filter; otherwise the cells of its days;
        - the selection's checkpoint: valid when the selected trades before its day, and
          every trade of its day up to its minute, still count what it folded (trades are
          never removed, so equal counts mean the same trades);
        - the close sequences after it: normally the last minutes of the latest day.

        A new checkpoint (through the latest day but its last :data:`SETTLE_MINUTES`
        minutes when that day is today) is then stored, best effort; and the documents the
        read found spread over write shards are merged when settled or idle
        (:func:`compact_spread`), so that later reads fetch fewer.
        """
        settings = settings or await self.users.get(uid)
        gen, tz = settings.aggregates.number, settings.aggregates.timezone
        key = flt.fold_key()
        today = datetime.now(timezone.utc).astimezone(tz).date()
        first = flt.start_date or date(1970, 1, 1)
        last = min(flt.end_date or today + timedelta(days=1), today + timedelta(days=1))

        seen: dict[str, dict[str, float]] = {AGG_DAYS: {}, AGG_GROUPS: {}, AGG_CELLS: {}, AGG_SEQ: {}}

        async def read(tx: Any) -> tuple[Rollup, OrderFold, list[TradeFacts], Checkpoint | None, dict[int, int], int]:
            for ids in seen.values():  # the transaction may run more than once
                ids.clear()
            rollup, prior = Rollup(), 0
            if not (flt.source or flt.strategy_id or flt.symbol):
                # every day's totals: the window's, and the P&L realized before it
                by_day = await self.aggregates.day_totals(tx, uid, gen, "1970-01", last.isoformat()[:7], seen[AGG_DAYS])
                if flt.whole_months():
                    rollup.groups = await self.aggregates.groups(tx, uid, gen, first.isoformat()[:7],
                                                                 last.isoformat()[:7], seen[AGG_GROUPS])
                else:  # a date range inside months: the groups come from the cells of its days
                    for cell, stats in (await self.aggregates.cells(tx, uid, gen, first, last, seen[AGG_CELLS])).items():
                        rollup.add_cell(cell, stats)
                rollup.by_day = {d: v for d, v in by_day.items() if first <= d <= last}
                prior = sum(v.pnl for d, v in by_day.items() if d < first)
            else:
                for cell, stats in (await self.aggregates.cells(tx, uid, gen, first, last, seen[AGG_CELLS])).items():
                    if flt.matches_cell(cell):
                        rollup.add_cell(cell, stats)
                if flt.start_date:  # the selection's P&L before the window: O(cells before it)
                    before = await self.aggregates.cells(tx, uid, gen, date(1970, 1, 1), first - timedelta(days=1))
                    prior = sum(v.pnl for c, v in before.items() if flt.matches_attributes(c.source, c.strategy_id, c.symbol))
            counts = {day: stats.realizations for day, stats in rollup.by_day.items()}
            if not counts:
                return rollup, OrderFold(), [], None, {}, prior
            latest = max(counts)
            cp = await self.aggregates.checkpoint(tx, uid, gen, key)
            latest_minutes = await self.aggregates.minute_counts(tx, uid, gen, latest)
            fold, start_day, after = OrderFold(), min(counts), -1
            if cp is not None and cp.day <= latest and sum(c for d, c in counts.items() if d < cp.day) == cp.prior_count:
                minutes = latest_minutes if cp.day == latest else await self.aggregates.minute_counts(tx, uid, gen, cp.day)
                if sum(n for m, n in minutes.items() if m <= cp.minute) == cp.minute_total:
                    fold, start_day, after = cp.fold.copy(), cp.day, cp.minute
            cp = cp if fold.count or after >= 0 else None  # the checkpoint used, if any
            if after == WHOLE_DAY:
                start_day, after = start_day + timedelta(days=1), -1
            # nothing to fold when the latest day's minute counts (every close, whatever the
            # filter, in this same snapshot) show no close after the fold's start
            rest = start_day < latest or (start_day == latest and any(n for m, n in latest_minutes.items() if m > after))
            entries = (await self.aggregates.sequences(tx, uid, gen, start_day, after, latest, seen[AGG_SEQ])
                       if rest else [])
            return rollup, fold, entries, cp, latest_minutes, prior

        rollup, fold, entries, cp, latest_minutes, prior = await self.aggregates.read_snapshot(read)
        await compact_spread(self.aggregates, uid, seen, today, COMPACTIONS_PER_READ)
        counts = {day: stats.realizations for day, stats in rollup.by_day.items()}
        if not counts:
            return Selection(rollup=rollup, fold=fold, prior_pnl_cents=prior)
        chosen = sorted((t for t in entries if flt.matches_cell(CellId(t.day, t.source, t.strategy_id, t.symbol))),
                        key=lambda t: t.order_key)
        latest = max(counts)
        if latest < today:
            settle = WHOLE_DAY
        elif latest == today:
            settle = minute_of_day(datetime.now(timezone.utc), tz) - SETTLE_MINUTES
        else:  # a close minutes ahead of the clock, past midnight: nothing settles yet
            settle = -1
        if cp is not None and cp.day == latest:  # never behind the checkpoint the fold started from
            settle = max(settle, cp.minute)
        fold.extend(t for t in chosen if t.day < latest or t.minute <= settle)
        if settle >= 0 and (cp is None or (cp.day, cp.minute) != (latest, settle)):
            before_latest = sum(c for d, c in counts.items() if d < latest)
            through = sum(n for m, n in latest_minutes.items() if m <= settle)
            try:  # a cache: the answer does not depend on it
                await self.aggregates.store_checkpoint(
                    uid, gen, key, Checkpoint(latest, settle, fold.copy(), before_latest, through), flt.as_json())
            except StorageUnavailable:
                log.warning("fold checkpoint not stored")
        fold.extend(t for t in chosen if not (t.day < latest or t.minute <= settle))
        if fold.count != sum(counts.values()):
            log.error("aggregates disagree: the fold has %d realizations, the cells %d", fold.count, sum(counts.values()))
        return Selection(rollup=rollup, fold=fold, folded=len(chosen), prior_pnl_cents=prior)

    async def dashboard(self, uid: str, flt: TradeFilter) -> Dashboard:
        """``GET /trades/shadow/dashboard``: every dashboard figure for the user's CLOSED
        trades passing ``flt``, with their settings, from the aggregates. While a rebuild
        runs, ``conventions.rebuild`` says so and in which time zone the days still are."""
        settings = await self.users.get(uid)
        capital = await self.capital(uid, flt, settings)
        return self.dashboard_of(await self.load_selection(uid, flt, settings), settings, flt, capital)

    def dashboard_of(self, selection: Selection, settings: UserSettings, flt: TradeFilter,
                     capital: tuple[Decimal, str]) -> Dashboard:
        """The dashboard of a loaded selection (see :meth:`dashboard`): the window of the
        filter's dates, its equity continuing the account's from ``capital`` (USD, and its
        source in words), the user's calendar."""
        tz = settings.aggregates.timezone
        today = datetime.now(timezone.utc).astimezone(tz).date()
        basis = Basis(starting_capital=capital[0], capital_source=capital[1],
                      prior_pnl=usd_from_cents(selection.prior_pnl_cents),
                      start=flt.start_date, end=min(flt.end_date, today) if flt.end_date else None,
                      calendar=settings.calendar)
        dashboard = dashboard_from_aggregates(selection.rollup, selection.fold,
                                              starting_capital=capital[0], tz=tz, basis=basis)
        if settings.rebuild is not None:
            note = (f"a rebuild of the aggregates into {settings.rebuild.timezone.key} is running; until it "
                    f"switches, days are close dates in {settings.aggregates.timezone.key}")
            dashboard = replace(dashboard, conventions={**dashboard.conventions, "rebuild": note})
        return dashboard

    async def shadow_metrics(self, uid: str, flt: TradeFilter) -> ShadowMetrics:
        """``GET /trades/shadow/metrics`` over the trades passing ``flt`` (OPEN trades:
        attribute filters only, as they have no close date), from the aggregates and the
        OPEN trades marked at their quotes."""
        selection = await self.load_selection(uid, flt)
        open_trades = [t for t in await self.trades.open_trades(uid)
                       if flt.matches_attributes(t.source, t.strategy_id, t.symbol)]
        quotes = await self.quotes.get_many(t.symbol for t in open_trades)
        return self.shadow_metrics_of(selection, open_trades, {sym: q.as_mark() for sym, q in quotes.items()})

    @staticmethod
    def shadow_metrics_of(selection: Selection, open_trades: list[Any], marks: dict[str, Any]) -> ShadowMetrics:
        """The shadow-mode metrics of a loaded selection and OPEN trades marked at ``marks``."""
        total, fold = selection.rollup.total(), selection.fold
        return shadow_metrics_from_aggregates(
            realized_pnl=usd_from_cents(total.pnl), closed_trades=total.n, wins=total.w,
            max_drawdown_usd=usd_from_cents(int(fold.worst_usd)), max_drawdown_percent=fold.worst_pct,
            open_trades=[t.position() for t in open_trades],
            live_prices_by_symbol=marks, commission=usd_from_cents(total.cm), slippage=usd_from_cents(total.sl),
        )

    async def api_metrics(self, uid: str) -> dict[str, Decimal | int]:
        """``GET /api/metrics``: the per-trade metrics record (``totalTrades``, ``winRate``
        percent, ``totalPnl`` USD, ``averagePnlPerTrade`` USD, 0.01 half up; plus ``wins``,
        ``losses``, ``breakEven``) from its sharded counters. ``totalPnl`` is every
        realization, partial closes of open positions included; ``averagePnlPerTrade`` is
        the closed positions' total net P&L per closed position."""
        settings = await self.users.get(uid)
        counters = await self.aggregates.summary(uid, settings.aggregates.number)
        return metrics_record_view({"totalTrades": counters["n"], "wins": counters["w"], "losses": counters["l"],
                                    "breakEven": counters["e"], "totalPnlCents": counters["pnl"],
                                    "closedPnlCents": counters["gp"] - counters["gl"]})


def metrics_record_view(record: dict[str, int]) -> dict[str, Decimal | int]:
    """The ``metrics.json`` shape of the per-trade metrics record from its counters
    (``closedPnlCents``: the closed positions' total net P&L, which is ``totalPnlCents``
    when no position was closed in parts)."""
    total, wins = record["totalTrades"], record["wins"]
    total_pnl = usd_from_cents(record["totalPnlCents"])
    closed_pnl = usd_from_cents(record.get("closedPnlCents", record["totalPnlCents"]))
    return {
        "totalTrades": total,
        "winRate": q2(win_rate(wins, total)),
        "totalPnl": q2(total_pnl),
        "averagePnlPerTrade": q2(average(closed_pnl, total)),
        "wins": wins,
        "losses": record["losses"],
        "breakEven": record["breakEven"],
    }
