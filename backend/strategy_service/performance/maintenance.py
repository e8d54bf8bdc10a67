"""Repairing and checking a user's aggregates against their trade history: ``rebuild`` and
``verify`` (CLI commands; a time-zone change runs ``rebuild`` in the background). Both are
linear in the history.

A rebuild never touches the live generation ``g``; it builds ``g + 1`` beside it and
switches in one write of the user's settings:

1. mark ``rebuild = {g + 1, zone, building}``;
2. stream every trade, and write the aggregates of the CLOSED ones (set ``S``) as plain
   documents of ``g + 1``; count every signal into the shortfall counters of ``g + 1``,
   marking each (``agg_gen``) under its precondition (from the ``building`` mark on, fills
   keep the counters of ``g + 1`` themselves, ``shortfall.repository.stage_signal``);
3. mark ``dual``: from now on every close adds itself to both generations and records
   ``agg_gen = g + 1`` in its trade;
4. after a grace period (closes that read the settings before step 3 have committed),
   catch up: every trade closed into ``g`` since the start and not in ``S`` is added to
   ``g + 1``, in one batch with ``agg_gen = g + 1`` on the trade under its
   ``last_update_time`` precondition (so exactly once); count the signals not yet marked
   (created meanwhile by fills that read the settings before step 1);
5. switch: ``aggregates = {g + 1, zone}`` and the marker removed, in one write; catch up
   once more after the grace period; delete ``g``; reconcile the stored open notional
   with the OPEN trades.

Reads use the live generation throughout, exact in its own time zone; the dashboard says
that a rebuild runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from ..core.aggregates import GROUP_COUNTERS, SUMMARY_COUNTERS, CellStats, ClosedTrade, TradeFacts
from ..core.dashboard import Basis, Dashboard, compute_dashboard
from ..core.errors import StorageUnavailable
from ..core.money import ZERO
from ..core.shadow import compute_shadow_metrics
from ..core.shortfall import ShortfallCounters
from ..shortfall.repository import ShortfallRepository, counters_of_documents, fill_record, fills_of, place_of
from ..trades.models import Trade, open_notional_cents
from ..trades.repository import TradeRepository
from ..users.models import Generation, UserSettings
from ..users.repository import UserRepository
from ..users.service import UserService, generation_doc
from .filters import TradeFilter
from .repository import AGG_CELLS, AGG_DAYS, AGG_GROUPS, AGG_SEQ, AGG_SIGNALS, AGG_SUMMARY, CHUNK, MONTH_CHUNK, AggregateRepository, close_writes, snapshot_documents
from .service import PerformanceService, compact_spread

log = logging.getLogger(__name__)

#: verify checks the served dashboard and metrics unfiltered, per source, and for this
#: many of the largest strategies and symbols (each a read of the serving path).
VERIFY_GROUPS_PER_DIMENSION = 5
#: How often a rebuild's catch-up re-reads and retries a trade written meanwhile (a mark).
CATCH_UP_ATTEMPTS = 5


def realizations_of(trade: Trade) -> list[ClosedTrade]:
    """The metric inputs of a trade: one per exit fill (a partial close of an OPEN trade
    included), the position counted on its final exit by its total net P&L; a CLOSED trade
    from before exit fills were recorded is one realization."""
    if not trade.exits:
        if trade.is_open:
            return []
        assert trade.closed_at is not None and trade.realized_pnl is not None, trade.shadow_id
        return [ClosedTrade(pnl=trade.realized_pnl, closed_at=trade.closed_at, opened_at=trade.created_at,
                            symbol=trade.symbol, strategy_id=trade.strategy_id, source=trade.source,
                            risk=trade.risk_amount, trade_id=trade.shadow_id,
                            commission=trade.commission or ZERO, slippage=trade.slippage or ZERO)]
    out = []
    for k, e in enumerate(trade.exits, start=1):
        final = not trade.is_open and k == len(trade.exits)
        out.append(ClosedTrade(
            pnl=e.realized_pnl, closed_at=e.closed_at, opened_at=trade.created_at, symbol=trade.symbol,
            strategy_id=trade.strategy_id, source=trade.source, risk=trade.risk_amount, trade_id=e.realization_id,
            commission=e.commission + e.entry_commission, slippage=e.slippage + e.entry_slippage, final=final,
            position_pnl=trade.realized_pnl if final and k > 1 else None))
    return out


def logical(docs: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    """What a generation's documents say, whatever their shards and partitions: the summary,
    day totals, minute counts, groups, cells and sequences, each a map of plain values."""
    out: dict[str, dict[Any, Any]] = {"summary": {}, "day": {}, "minute": {}, "group": {}, "cell": {}, "sequence": {}}
    stats: dict[tuple[str, Any], CellStats] = {}

    def add(kind: str, key: Any, doc: dict[str, Any]) -> None:
        stats.setdefault((kind, key), CellStats()).add(CellStats.from_doc(doc))

    for (collection, doc_id), doc in docs.items():
        parts = doc_id.split("~")
        if collection == AGG_SUMMARY:
            for k in SUMMARY_COUNTERS:
                out["summary"][k] = out["summary"].get(k, 0) + int(doc.get(k, 0))
        elif collection == AGG_DAYS:
            for dd, value in (doc.get("d") or {}).items():
                add("day", f"{parts[1]}-{dd}", value)
            for dd, minutes in (doc.get("m") or {}).items():
                for minute, n in minutes.items():
                    key = f"{parts[1]}-{dd} {minute}"
                    out["minute"][key] = out["minute"].get(key, 0) + int(n)
        elif collection == AGG_GROUPS:
            for key, value in (doc.get("b") or {}).items():
                add("group", f"{parts[1]} {key}", value)
        elif collection == AGG_CELLS:  # a day's partition, or a settled month's chunk
            for key, value in (doc.get("c") or {}).items():
                add("cell", key if parts[2] == MONTH_CHUNK else f"{parts[1]}|{key}", value)
        elif collection == AGG_SEQ:  # a minute document, or a chunk whose entries carry the minute
            for tid, entry in (doc.get("t") or {}).items():
                minute = int(entry[5]) if parts[2] == CHUNK else int(parts[2])
                out["sequence"][f"{parts[1]} {tid}"] = list(entry[:5]) + [minute]
    for (kind, key), value in stats.items():
        out[kind][key] = value.to_doc() if kind != "group" else value.to_doc(GROUP_COUNTERS, extremes=False)
    return out


@dataclass
class Recomputed:
    """A user's closed trades recomputed from every trade document.

    Attributes:
        settings: the user's settings; closed: the CLOSED trades as metric inputs;
        facts: their integer facts in the live generation's time zone.
    """

    settings: UserSettings
    closed: list[ClosedTrade]
    facts: list[TradeFacts]


class Maintenance:
    """``rebuild`` and ``verify`` of a user's aggregates.

    Args:
        aggregates, trades, users: the repositories; users_service: the settings;
        performance: the serving path whose answers ``verify`` compares;
        grace_seconds: how long closes that read old settings may still be committing.
    """

    def __init__(self, aggregates: AggregateRepository, trades: TradeRepository, users: UserRepository,
                 users_service: UserService, performance: PerformanceService, *, signals: ShortfallRepository,
                 grace_seconds: float = 30.0) -> None:
        self.aggregates = aggregates
        self.trades = trades
        self.users = users
        self.users_service = users_service
        self.performance = performance
        self.grace_seconds = grace_seconds
        self.signals = signals
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def rebuild_in_background(self, uid: str) -> None:
        """Start :meth:`rebuild` without waiting for it (a time-zone change)."""
        task = asyncio.get_running_loop().create_task(self._background(uid))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _background(self, uid: str) -> None:
        try:
            await self.rebuild(uid)
        except Exception:  # a background task has nobody to answer: log, the marker stays
            log.exception("background rebuild of %s failed; run `strategy-service rebuild` to finish it", uid)

    async def recompute(self, uid: str, settings: UserSettings | None = None,
                        fills: dict[tuple[str, str, str], dict[str, str]] | None = None) -> Recomputed:
        """Read every trade of the user (O(history)) and compute their facts in the live
        generation's time zone; with ``fills``, also collect what each trade's fill should
        have put in its signal (:func:`~..shortfall.repository.fill_record`)."""
        settings = settings or await self.users_service.get(uid)
        closed = []
        async for t in self.trades.stream(uid):
            closed += realizations_of(t)
            record = fill_record(t) if fills is not None else None
            if record is not None:
                fills[record[:3]] = record[3]
        return Recomputed(settings, closed, [t.facts(settings.aggregates.timezone) for t in closed])

    async def rebuild(self, uid: str) -> dict[str, int | None]:
        """Rebuild the user's aggregates in the time zone of their settings, beside the live
        ones, and switch to them (see the module docstring). Safe to run at any time.

        Returns:
            ``{"generation", "realizations" (closes and partial closes), "trades" (the trades
            they belong to), "caught_up" (realizations added by the catch-up),
            "documents_written", "documents_deleted", "signals" (counted into the new
            generation's shortfall counters), "open_notional_cents" (the correction of the
            stored open notional, :meth:`TradeRepository.reconcile_open_notional`; None when
            it failed, which the next rebuild repeats)}``.
        """
        lock = self._locks.setdefault(uid, asyncio.Lock())
        async with lock:
            settings = await self.users_service.get(uid)
            old, pending = settings.aggregates, settings.rebuild
            zone = settings.timezone
            if pending is not None and pending.state == "pending":  # asked for by a time-zone change
                new = pending.number
            else:
                new = max(old.number, pending.number if pending else 0) + 1
            # generations between the live one and this one belong to earlier rebuilds that
            # did not finish (one replaced by a time-zone change's "pending" marker included)
            stale = list(range(old.number + 1, new))
            started = generation_doc(new, zone, "building")
            await self.users.set_generations(uid, aggregates=None, rebuild=started)
            if stale:
                # closes and fills that read their markers may still be writing them: let them
                # finish, then drop them; the catch-ups below also take the closes recorded
                # into them
                await asyncio.sleep(self.grace_seconds)
                for number in stale:
                    await self.aggregates.delete_generation(uid, number)
            seen: set[str] = set()
            facts = []
            async for trade in self.trades.stream(uid):
                for realization in realizations_of(trade):
                    seen.add(realization.trade_id)
                    facts.append(realization.facts(zone))
            today = datetime.now(timezone.utc).astimezone(zone).date()
            written = await self.aggregates.write_documents(uid, snapshot_documents(new, facts, settled_before=today))
            target = Generation(new, zone, "building")
            still = self._still_rebuilding(uid, new)
            signals = await self.signals.count_into(uid, target, old, still)
            if not await self.users.set_generations(uid, aggregates=None, rebuild={**started, "state": "dual"},
                                                    expected_rebuild=new):
                raise StorageUnavailable("A newer rebuild replaced this one; it goes on instead.")
            await asyncio.sleep(self.grace_seconds)
            since = started["started_at"] - timedelta(seconds=self.grace_seconds)
            caught = await self._catch_up(uid, new, zone, since, seen)
            # the signals old settings' fills created during the first count
            signals += await self.signals.count_into(uid, target, old, still)
            switched = await self.users.set_generations(uid, aggregates=generation_doc(new, zone), rebuild=None,
                                                        expected_rebuild=new)
            if not switched:
                raise StorageUnavailable("Another rebuild replaced this one; nothing was switched.")
            await asyncio.sleep(self.grace_seconds)
            caught += await self._catch_up(uid, new, zone, since, seen)
            deleted = await self.aggregates.delete_generation(uid, old.number)
            try:  # after the switch: a failure here must not report the rebuild as failed
                open_notional: int | None = await self.trades.reconcile_open_notional(uid)
            except StorageUnavailable:
                log.warning("the open notional of %s was not reconciled; the next rebuild does it", uid)
                open_notional = None
            return {"generation": new, "realizations": len(seen),
                    "trades": len({rid.split("~")[0] for rid in seen}), "caught_up": caught,
                    "documents_written": written, "documents_deleted": deleted, "signals": signals,
                    "open_notional_cents": open_notional}

    def _still_rebuilding(self, uid: str, new: int) -> Callable[[], Awaitable[bool]]:
        """Whether the settings' rebuild marker is still generation ``new`` (another process
        may have replaced it)."""
        async def still() -> bool:
            settings = await self.users_service.get(uid)
            return settings.rebuild is not None and settings.rebuild.number == new
        return still

    async def _catch_up(self, uid: str, new: int, zone: Any, since: Any, seen: set[str]) -> int:
        """Add to generation ``new`` every realization (a close or a partial close) recorded
        since ``since`` into older generations only (the live one, or an unfinished earlier
        rebuild's) that the snapshot did not hold; each trade's under its precondition, so
        exactly once. Returns the realizations added."""
        count = 0
        for found in await self.trades.updated_since(uid, since=since):
            trade: Trade | None = found
            for _ in range(CATCH_UP_ATTEMPTS):  # an OPEN trade may be marked meanwhile: re-read, retry
                if trade is None:
                    break
                generation = {e.realization_id: e.agg_gen for e in trade.exits}
                missing = [r for r in realizations_of(trade) if r.trade_id not in seen
                           and generation.get(r.trade_id, trade.agg_gen or 0) < new]
                if not missing:
                    break
                writes = [w for r in missing for w in close_writes(new, r.facts(zone), 1)]
                if await self.trades.move_generation(trade, new, writes):
                    count += len(missing)
                    seen.update(r.trade_id for r in missing)
                    break
                trade = await self.trades.get(uid, trade.shadow_id)
            else:
                raise StorageUnavailable(f"Trade {found.shadow_id} kept changing during the rebuild's catch-up; the "
                                         "rebuild stopped before deleting anything: run it again.")
        return count

    async def verify(self, uid: str) -> list[str]:
        """Compare the user's live aggregates and served metrics with a full recomputation:
        every counter of the summary, days, minutes, groups, cells and close sequences, and
        the dashboard and shadow metrics unfiltered, per source and for the
        :data:`VERIFY_GROUPS_PER_DIMENSION` largest strategies and symbols.

        Returns:
            One line per difference; empty when everything agrees.
        """
        settings = await self.users_service.get(uid)
        expected_fills: dict[tuple[str, str, str], dict[str, str]] = {}
        rec = await self.recompute(uid, settings, fills=expected_fills)
        gen = settings.aggregates.number
        out: list[str] = []
        _diff("open notional cents", await self.trades.open_notional(uid),
              open_notional_cents(await self.trades.open_trades(uid)), out)
        documents = await self.aggregates.generation_documents(uid, gen)
        await self._verify_signals(uid, settings, expected_fills, documents, out)
        stored = logical(documents)
        expected = logical(snapshot_documents(gen, rec.facts))
        for kind in expected:
            for key in sorted(set(stored[kind]) | set(expected[kind])):
                _diff(f"{kind} {key}", stored[kind].get(key), expected[kind].get(key), out)

        sizes: dict[tuple[str, str], int] = defaultdict(int)
        for f in rec.facts:
            for dim in ("source", "strategy_id", "symbol"):
                sizes[(dim, getattr(f, dim))] += 1
        filters = [TradeFilter()]
        for dim in ("source", "strategy_id", "symbol"):
            largest = sorted((k for k in sizes if k[0] == dim), key=lambda k: (-sizes[k], k[1]))
            filters += [TradeFilter(**{dim: value}) for _, value in largest[: VERIFY_GROUPS_PER_DIMENSION]]
        tz = settings.aggregates.timezone
        # merge what the load spread over settled periods first (the logical content is
        # unchanged, and checked above): the filtered reads below then fetch few documents
        seen: dict[str, dict[str, float]] = {}
        for collection, doc_id in documents:  # idle 0: the current period's shards stay
            seen.setdefault(collection, {})[doc_id] = 0.0
        today = datetime.now(timezone.utc).astimezone(tz).date()
        await compact_spread(self.aggregates, uid, {c: ids for c, ids in seen.items() if c != AGG_SUMMARY}, today, None)
        for flt in filters:
            label = json.dumps({k: v for k, v in flt.as_json().items() if v})
            chosen = [t for t, f in zip(rec.closed, rec.facts) if flt.matches_attributes(f.source, f.strategy_id, f.symbol)]
            capital = await self.performance.capital(uid, flt, settings)
            expected_d = compute_dashboard(chosen, starting_capital=capital[0], tz=tz,
                                           basis=Basis(capital[0], capital_source=capital[1], calendar=settings.calendar))
            selection = await self.performance.load_selection(uid, flt, settings)
            served_d = replace(self.performance.dashboard_of(selection, settings, flt, capital),
                               conventions=expected_d.conventions)
            for f in fields(Dashboard):
                _diff(f"dashboard {label} {f.name}", getattr(served_d, f.name), getattr(expected_d, f.name), out)
            served_m = self.performance.shadow_metrics_of(selection, [], {}).as_json()
            expected_m = compute_shadow_metrics(open_trades=[], closed_trades=chosen).as_json()
            for key in ("realized_pnl", "win_rate", "closed_trades", "wins", "max_drawdown_usd", "max_drawdown_percent",
                        "gross_pnl", "total_commission", "total_slippage"):
                _diff(f"shadow metrics {label} {key}", served_m[key], expected_m[key], out)
        return out


    async def _verify_signals(self, uid: str, settings: UserSettings,
                              expected_fills: dict[tuple[str, str, str], dict[str, str]],
                              documents: dict[tuple[str, str], dict[str, Any]], out: list[str]) -> None:
        """Every fill of a signal is in its signal document, as its trade says; every signal
        is counted; the live generation's shortfall counters (its ``aggSignals`` among
        ``documents``, already read) equal their recomputation from the signals
        (O(signals))."""
        live = settings.aggregates
        stored_fills: dict[tuple[str, str, str], dict[str, str]] = {}
        expected: dict[tuple[str, str], ShortfallCounters] = {}
        for doc_id, doc in await self.signals.all_signals(uid):
            stored_fills.update(fills_of(doc, doc_id))
            if "agg_gen" not in doc:
                out.append(f"signal {doc_id}: not counted in the shortfall counters (recorded before they existed): "
                           "run rebuild")
            place = place_of(doc, live.timezone)
            if place is not None:
                expected.setdefault((place.day, place.key), ShortfallCounters()).add(place.counters)
        for key in sorted(set(stored_fills) | set(expected_fills)):
            _diff(f"signal {key[0]} {key[1]} fill {key[2]}", stored_fills.get(key), expected_fills.get(key), out)
        stored = counters_of_documents((doc_id, doc) for (collection, doc_id), doc in documents.items()
                                       if collection == AGG_SIGNALS)
        expected = {k: v for k, v in expected.items() if not v.is_zero()}
        for key in sorted(set(stored) | set(expected)):
            _diff(f"shortfall counters {key[0]} {key[1]}", stored.get(key), expected.get(key), out)


def _diff(name: str, stored: Any, expected: Any, out: list[str]) -> None:
    if stored != expected:
        out.append(f"{name}: stored {stored!r} != recomputed {expected!r}")
