"""Storage of signals, ``users/{uid}/signals/{strategy_id}|{signal_id}``, and of their
shortfall counters, ``users/{uid}/aggSignals/{g}~{YYYY-MM-DD}~{p}~{w}``.

A signal document gathers the executions of one signal: ``shadow.{trade_id}`` (a paper or
backtest fill, with the decision price and time) and ``live.{trade_id}`` (broker fills),
each a map of decimal strings and a timestamp, plus ``strategy_id``, ``signal_id``,
``symbol``, ``side``, ``seen_us`` (the earliest decision or fill time, microseconds since
the epoch: the order and the date filter of the per-signal rows) and ``agg_gen`` (the
newest aggregate generation its current state is counted in).

Every fill with a signal reads the signal with the rest of its execute and writes, in the
batch that creates its trade, the signal under a ``last_update_time`` precondition (or a
``create`` for a new one) and the change of the signal's contribution to the shortfall
counters (its old figures out, its new ones in: a signal's shortfall changes as its fills
arrive). A concurrent fill of the same signal fails the precondition, writes nothing and
is tried again with a fresh read (``SignalRaced``). The counters are integers (cents, 0.01
bps, a histogram of 0.01 bps values for the exact median), so increments in any shard
commute and reads add them up exactly: ``GET /trades/shortfall`` reads the days of its
window, never the signals themselves, for its summary and groups.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.field_path import FieldPath

from ..core.aggregates import epoch_us
from ..core.errors import StorageUnavailable
from ..core.money import to_decimal, to_plain_str
from ..core.shortfall import COUNTER_NAMES, ShortfallCounters, SignalFill, SignalShortfall, counters_of, signal_shortfall
from ..performance.repository import AGG_SIGNALS, idle_seconds, stable_hash
from ..storage.client import USERS, Repository
from ..trades.models import LIVE, Trade
from ..users.models import Generation

SIGNALS = "signals"
#: Partitions of a day's shortfall counters (``p``, a hash of ``strategy|symbol``): 7,500
#: (strategy, symbol) pairs a day and one pair's histogram of up to 50,000 distinct values
#: stay below 1 MiB (docs/aggregates.md, the budget).
SIGNAL_PARTITIONS = 16
#: Signals a rebuild counts per batch: each adds at most 8 transforms to a document, so
#: a batch stays under Firestore's 500 transforms per document per commit.
REBUILD_BATCH = 50
#: How often a rebuild counts one signal again when fills keep changing it.
REBUILD_ATTEMPTS = 5


class SignalRaced(Exception):
    """A concurrent fill changed the signal between the execute's read and its write:
    nothing was written; read again and retry."""


@dataclass(frozen=True)
class StoredSignal:
    """A signal document as read: its fields and update time (the write's precondition)."""

    doc: dict[str, Any]
    version: Any


@dataclass(frozen=True)
class SignalPlace:
    """Where a signal counts and what: its day (ISO, in a generation's time zone), its key
    ``strategy|symbol`` and its counters."""

    day: str
    key: str
    counters: ShortfallCounters


def signal_id_of(strategy_id: str, signal_id: str) -> str:
    """The document id of a signal: ``{strategy_id}|{signal_id}`` (client ids hold no ``|``
    or ``/``)."""
    return f"{strategy_id}|{signal_id}"


def fill_record(trade: Trade) -> tuple[str, str, str, dict[str, str]] | None:
    """``(signal document id, "shadow" or "live", trade id, {price, quantity, commission})``:
    what a trade's fill puts in its signal (``verify`` compares them), or None without a
    ``signal_id``."""
    signal_id = trade.client.get("signal_id")
    if not signal_id:
        return None
    return (signal_id_of(trade.strategy_id, signal_id), "live" if trade.source == LIVE else "shadow", trade.shadow_id,
            {"price": to_plain_str(trade.entry_price), "quantity": to_plain_str(trade.quantity),
             "commission": to_plain_str(trade.entry_fee)})


def signal_key(strategy_id: str, symbol: str) -> str:
    """The counters' key of a signal: ``{strategy_id}|{symbol}``."""
    return f"{strategy_id}|{symbol}"


def _entry(trade: Trade) -> tuple[str, str, dict[str, Any], datetime] | None:
    """``("shadow" or "live", trade id, fill map, first time)`` of a trade's fill in its
    signal, or None without a ``signal_id``. A shadow fill carries the decision price and
    time."""
    record = fill_record(trade)
    if record is None or trade.created_at is None:
        return None
    _, side, trade_id, values = record
    fill: dict[str, Any] = {**values, "filled_at": trade.created_at}
    first = trade.created_at
    if side == "shadow":
        fill["decision_price"] = to_plain_str(trade.decision_price) if trade.decision_price is not None else None
        fill["decided_at"] = trade.decided_at or trade.created_at
        first = min(first, fill["decided_at"])
    return side, trade_id, fill, first


def place_of(doc: dict[str, Any] | None, zone: ZoneInfo) -> SignalPlace | None:
    """Where and what a stored signal counts in a generation of time zone ``zone`` (None
    for no signal, or one without any time)."""
    if not doc:
        return None
    row = shortfall_of(doc)
    moment = row.first_seen
    if moment is None:
        return None
    return SignalPlace(moment.astimezone(zone).date().isoformat(), signal_key(row.strategy_id, row.symbol),
                       counters_of(row))


def _increments(counters: ShortfallCounters) -> dict[str, Any]:
    out: dict[str, Any] = {short: firestore.Increment(getattr(counters, name))
                           for name, short in COUNTER_NAMES.items() if getattr(counters, name)}
    if counters.histogram:
        out["h"] = {str(value): firestore.Increment(n) for value, n in counters.histogram.items()}
    return out


def counter_writes(gen: int, changes: Iterable[tuple[SignalPlace, int]], shard: int) -> list[tuple[str, dict[str, Any]]]:
    """The merge-writes into generation ``gen`` that add each ``(place, sign)`` (sign -1:
    take a signal's old figures out): ``(document id, fields)``, increments only, netted
    per key, in shard ``shard``."""
    net: dict[tuple[str, str], ShortfallCounters] = {}
    for place, sign in changes:
        net.setdefault((place.day, place.key), ShortfallCounters()).add(place.counters, sign)
    docs: dict[str, dict[str, Any]] = {}
    for (day, key), counters in sorted(net.items()):
        if counters.is_zero():
            continue
        doc_id = f"{gen}~{day}~{stable_hash(key) % SIGNAL_PARTITIONS}~{shard:02d}"
        docs.setdefault(doc_id, {"c": {}})["c"][key] = _increments(counters)
    return sorted(docs.items())


def stage_signal(client: Any, batch: Any, trade: Trade, stored: StoredSignal | None, *, live: Generation,
                 rebuild: Generation | None, shard: int) -> None:
    """Add to ``batch`` the merge of ``trade``'s fill into its signal (nothing without a
    ``signal_id``) and the change of the signal's shortfall counters in the live
    generation and, while a rebuild is ``building`` or ``dual``, in the rebuild's.

    The signal is written under a precondition on ``stored`` (a ``create`` when it is
    new), so the counters change from exactly the state they replace. A signal counts in
    the live generation when its ``agg_gen`` is set (one recorded before the counters
    existed is added whole), in a rebuild's when ``agg_gen`` is that generation (the
    rebuild's scan counts the others, under the same precondition).
    """
    entry = _entry(trade)
    if entry is None:
        return
    side, trade_id, fill, first = entry
    before = stored.doc if stored is not None else None
    after: dict[str, Any] = copy.copy(before) if before else {}
    after[side] = {**(after.get(side) or {}), trade_id: fill}
    seen = epoch_us(first) if not before or before.get("seen_us") is None else min(int(before["seen_us"]),
                                                                                   epoch_us(first))
    head = {"strategy_id": trade.strategy_id, "signal_id": trade.client["signal_id"], "symbol": trade.symbol,
            "side": trade.side}
    target = rebuild if rebuild is not None and rebuild.state in ("building", "dual") else None
    # never lowered: a newer rebuild's mark stays (an older one's fill counts into a doomed generation)
    agg_gen = max(target.number if target is not None else live.number,
                  int(before.get("agg_gen", -1)) if before else -1)
    after.update(head, seen_us=seen, agg_gen=agg_gen)
    ref = client.collection(USERS, trade.uid, SIGNALS).document(signal_id_of(trade.strategy_id, head["signal_id"]))
    if stored is None:
        batch.create(ref, {**head, "seen_us": seen, side: {trade_id: fill}, "agg_gen": agg_gen})
    else:
        batch.update(ref, {FieldPath(side, trade_id).to_api_repr(): fill, "seen_us": seen, "agg_gen": agg_gen},
                     option=client.write_option(last_update_time=stored.version))
    counted = [(live, before is not None and "agg_gen" in before)]
    if target is not None:
        counted.append((target, before is not None and before.get("agg_gen") == target.number))
    for gen, was_counted in counted:
        changes = [(p, 1) for p in [place_of(after, gen.timezone)] if p is not None]
        old = place_of(before, gen.timezone) if was_counted else None
        if old is not None:
            changes.append((old, -1))
        for doc_id, fields in counter_writes(gen.number, changes, shard):
            batch.set(client.collection(USERS, trade.uid, AGG_SIGNALS).document(doc_id), fields, merge=True)


def counters_of_documents(docs: Iterable[tuple[str, dict[str, Any]]]) -> dict[tuple[str, str], ShortfallCounters]:
    """The counters of ``aggSignals`` documents (``(id, fields)``), shards and partitions
    added: ``{(day, strategy|symbol): counters}``, zero sums dropped."""
    out: dict[tuple[str, str], ShortfallCounters] = {}
    for doc_id, doc in docs:
        day = doc_id.split("~")[1]
        for key, counters in (doc.get("c") or {}).items():
            out.setdefault((day, key), ShortfallCounters()).add(ShortfallCounters.from_doc(counters))
    return {k: v for k, v in out.items() if not v.is_zero()}


def fills_of(doc: dict[str, Any], signal_doc_id: str) -> dict[tuple[str, str, str], dict[str, str]]:
    """The fills a stored signal records: ``(signal id, side, trade id) -> {price,
    quantity, commission}`` (``verify`` compares them with :func:`fill_record`)."""
    return {(signal_doc_id, side, trade_id): {k: e.get(k) for k in ("price", "quantity", "commission")}
            for side in ("shadow", "live") for trade_id, e in (doc.get(side) or {}).items()}


def _fills(entries: dict[str, Any] | None) -> list[SignalFill]:
    out = []
    for trade_id, e in sorted((entries or {}).items()):
        out.append(SignalFill(trade_id, to_decimal(e["price"], field="price"), to_decimal(e["quantity"], field="quantity"),
                              e["filled_at"], to_decimal(e.get("commission") or "0", field="commission")))
    return out


def shortfall_of(doc: dict[str, Any]) -> SignalShortfall:
    """The figures of a stored signal (the decision of its first shadow fill)."""
    shadow = doc.get("shadow") or {}
    decision: Decimal | None = None
    decided_at: datetime | None = None
    for _, e in sorted(shadow.items()):
        if e.get("decision_price"):
            decision, decided_at = to_decimal(e["decision_price"], field="decision_price"), e.get("decided_at")
            break
    return signal_shortfall(strategy_id=doc["strategy_id"], signal_id=doc["signal_id"], symbol=doc["symbol"],
                            side=doc["side"], decision_price=decision, decided_at=decided_at,
                            shadow=_fills(shadow), live=_fills(doc.get("live")))


class ShortfallRepository(Repository):
    """Reads signals and their counters; merges the counters' write shards; counts signals
    into a rebuild's generation."""

    def _counters_col(self, uid: str) -> Any:
        return self.client.collection(USERS, uid, AGG_SIGNALS)

    async def counters(self, uid: str, gen: int, first_day: date | None, last_day: date | None
                       ) -> tuple[dict[tuple[str, str], ShortfallCounters], dict[str, float]]:
        """The shortfall counters of generation ``gen`` for the days ``[first_day,
        last_day]`` (None: unbounded), shards and partitions added: ``({(day, key):
        counters}, {document id: idle seconds})``, the second for the read's merge of
        spread shards (``performance.service.compact_spread``; idle: since the shard's
        last write, server clock). One query; its cost follows the days and pairs of the
        window, not the signals."""
        first = f"{gen}~{first_day.isoformat()}~" if first_day else f"{gen}~"
        last = f"{gen}~{last_day.isoformat()}~" if last_day else f"{gen}~"
        snaps = [s async for s in self.id_range(self._counters_col(uid), first, last).stream(
            retry=self.retry, timeout=self.timeout)]
        return (counters_of_documents((s.id, s.to_dict() or {}) for s in snaps),
                {s.id: idle_seconds(s) for s in snaps})

    async def all_signals(self, uid: str) -> list[tuple[str, dict[str, Any]]]:
        """Every signal document of the user: ``[(id, fields)]`` (for ``verify``, O(signals))."""
        return [(snap.id, snap.to_dict() or {}) async for snap in
                self.client.collection(USERS, uid, SIGNALS).stream(retry=self.retry, timeout=self.timeout)]

    async def count_into(self, uid: str, target: Generation, live: Generation,
                         still: Callable[[], Awaitable[bool]] | None = None) -> int:
        """Count every signal not yet in generation ``target`` into it (a rebuild, O(signals)):
        in batches of :data:`REBUILD_BATCH`, each signal's ``agg_gen`` set to ``target``
        under its ``last_update_time`` precondition with its counters in ``target`` (a
        signal recorded before the counters existed also goes into ``live``). A fill that
        changed a signal meanwhile fails the batch: its signals are read again and counted
        one by one; a fill that already counted a signal in ``target`` is skipped. So each
        signal counts once.

        Marks only go up: a signal a newer rebuild marked is left alone. ``still``, when
        given, is asked before each page whether this rebuild still runs (another may have
        replaced it); when it answers False the count stops.

        Returns:
            How many signals were counted.

        Raises:
            StorageUnavailable: fills kept changing one signal through every attempt, or
                ``still`` said the rebuild was replaced.
        """
        col = self.client.collection(USERS, uid, SIGNALS)
        counted, after = 0, None
        while True:
            if still is not None and not await still():
                raise StorageUnavailable("A newer rebuild replaced this one; it goes on instead.")
            query = col.order_by(FieldPath.document_id()).limit(REBUILD_BATCH)
            if after is not None:
                query = query.start_after({FieldPath.document_id(): after})
            snaps = [s async for s in query.stream(retry=self.retry, timeout=self.timeout)]
            if not snaps:
                return counted
            after = col.document(snaps[-1].id)
            page = [(s.reference, s.to_dict() or {}, s.update_time) for s in snaps]
            if await self._count_batch(uid, page, target, live):
                counted += sum(1 for _, doc, _ in page if doc and int(doc.get("agg_gen", -1)) < target.number)
                continue
            for ref, _, _ in page:  # a fill raced the batch: one signal at a time, each re-read
                for _ in range(REBUILD_ATTEMPTS):
                    [(doc, version)] = await self.storage.get_many([ref])
                    one = [(ref, doc or {}, version)]
                    if await self._count_batch(uid, one, target, live):
                        counted += 1 if doc and int(doc.get("agg_gen", -1)) < target.number else 0
                        break
                else:
                    raise StorageUnavailable(f"Fills kept changing signal {ref.id} during the rebuild; run it again.")

    async def _count_batch(self, uid: str, items: list[tuple[Any, dict[str, Any], Any]], target: Generation,
                           live: Generation) -> bool:
        """Commit the counting of ``items`` (reference, fields, version) not yet in
        ``target``; False when a precondition failed (nothing written)."""
        # a signal marked by this rebuild (or a newer one: marks only go up) is counted
        items = [i for i in items if i[1] and int(i[1].get("agg_gen", -1)) < target.number]
        if not items:
            return True
        batch = self.client.batch()
        changes: dict[int, list[tuple[SignalPlace, int]]] = {target.number: [], live.number: []}
        for ref, doc, version in items:
            batch.update(ref, {"agg_gen": target.number}, option=self.client.write_option(last_update_time=version))
            for gen in [target] + ([live] if "agg_gen" not in doc and live.number != target.number else []):
                place = place_of(doc, gen.timezone)
                if place is not None:
                    changes[gen.number].append((place, 1))
        for gen_number, gen_changes in changes.items():
            for doc_id, fields in counter_writes(gen_number, gen_changes, 0):
                batch.set(self._counters_col(uid).document(doc_id), fields, merge=True)
        try:
            await batch.commit(retry=self.storage.batch_retry, timeout=self.timeout)
        except (gexc.FailedPrecondition, gexc.NotFound):
            return False
        return True

    def _query(self, uid: str, *, first_us: int | None, last_us: int | None, strategy_id: str | None,
               symbol: str | None) -> Any:
        query: Any = self.client.collection(USERS, uid, SIGNALS)
        if strategy_id:
            query = query.where(filter=firestore.FieldFilter("strategy_id", "==", strategy_id))
        if symbol:
            query = query.where(filter=firestore.FieldFilter("symbol", "==", symbol))
        if first_us is not None:
            query = query.where(filter=firestore.FieldFilter("seen_us", ">=", first_us))
        if last_us is not None:
            query = query.where(filter=firestore.FieldFilter("seen_us", "<", last_us))
        return query.order_by("seen_us", direction=firestore.Query.DESCENDING).order_by(
            "__name__", direction=firestore.Query.DESCENDING)

    async def page(self, uid: str, *, first_us: int | None, last_us: int | None, strategy_id: str | None,
                   symbol: str | None, limit: int, after_id: str | None) -> tuple[list[tuple[str, SignalShortfall]], bool]:
        """A page of signals, newest first: ``([(id, figures)...], cursor_ok)``; ``cursor_ok``
        is False when ``after_id`` is no signal of this user."""
        query = self._query(uid, first_us=first_us, last_us=last_us, strategy_id=strategy_id, symbol=symbol)
        if after_id:
            cursor = await self.client.collection(USERS, uid, SIGNALS).document(after_id).get(
                retry=self.retry, timeout=self.timeout)
            if not cursor.exists:
                return [], False
            query = query.start_after(cursor)
        rows = [(s.id, shortfall_of(s.to_dict() or {}))
                async for s in query.limit(limit).stream(retry=self.retry, timeout=self.timeout)]
        return rows, True
