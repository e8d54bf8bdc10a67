"""Storage of the aggregates every close maintains (design, limits and budgets in
``docs/aggregates.md``).

Every aggregate document belongs to a **generation** ``g`` (its id starts ``{g}~``): a
rebuild writes generation ``g + 1`` beside the live one and switches the user's settings
to it in one write. Within a generation, what every close writes is **sharded**
(``~{w}``, ``w`` from a hash of the trade id below the shard count of :class:`ShardPolicy`)
and what grows with activity is **partitioned** by a hash of its key, so that no document
outgrows Firestore's production limits. Reads add the shards and partitions up exactly:
every counter is an integer.

Per user, ``users/{uid}/...``:

- ``aggSummary/{g}~{w}``: the ``/api/metrics`` counters (``n``, ``w``, ``l``, ``e``, ``pnl``).
- ``aggDays/{g}~{YYYY-MM}~{w}``: ``d.{DD}`` the day's totals (:class:`CellStats`) and
  ``m.{DD}.{mmmm}`` the number of closes in each minute of the day (checkpoint validation).
- ``aggGroups/{g}~{YYYY-MM}~{q}~{w}``: ``b.{dimension|value}``, the month's breakdown groups,
  partition ``q`` of :data:`GROUP_PARTITIONS`.
- ``aggCells/{g}~{YYYY-MM-DD}~{p}~{w}``: ``c.{source|strategy|symbol}``, the day's cells,
  partition ``p`` of :data:`CELL_PARTITIONS`.
- ``aggSeq/{g}~{YYYY-MM-DD}~{mmmm}~{s}``: ``t.{trade_id}``, the close sequence of one minute,
  shard ``s`` of at least :data:`MIN_SEQUENCE_SHARDS`.
- ``aggFolds/{g}~{key}``: order-fold checkpoints (a cache: deleting it loses nothing).
- ``aggSignals/{g}~{YYYY-MM-DD}~{p}~{w}``: ``c.{strategy|symbol}``, the day's shortfall
  counters of signals (written by fills, ``shortfall/repository.py``), partition ``p`` of
  ``SIGNAL_PARTITIONS``.

Every map field above is exempt from indexing (``firestore.indexes.json``): nothing
queries inside them, and each subfield would otherwise cost two index entries.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.field_path import FieldPath

from ..core.aggregates import (
    COUNTERS,
    DIMENSIONS,
    GROUP_COUNTERS,
    SUMMARY_COUNTERS,
    CellId,
    CellStats,
    OrderFold,
    TradeFacts,
    group_key,
    parse_group_key,
)
from ..core.shortfall import merge_counter_docs
from ..storage.client import USERS, Repository

AGG_SUMMARY = "aggSummary"
AGG_DAYS = "aggDays"
AGG_GROUPS = "aggGroups"
AGG_CELLS = "aggCells"
AGG_SEQ = "aggSeq"
AGG_FOLDS = "aggFolds"
#: The shortfall counters of signals per day (``shortfall/repository.py`` writes and reads
#: them; a generation's deletion includes them).
AGG_SIGNALS = "aggSignals"
#: The collections of a generation, with their exempt map fields (firestore.indexes.json).
AGGREGATE_COLLECTIONS = {AGG_SUMMARY: (), AGG_DAYS: ("d", "m"), AGG_GROUPS: ("b",), AGG_CELLS: ("c",),
                         AGG_SEQ: ("t",), AGG_FOLDS: ("fold", "filters"), AGG_SIGNALS: ("c",)}

#: Partitions of a day's cells: 7,500 cells of about 280 bytes in 4 documents of < 600 KB.
CELL_PARTITIONS = 4
#: Partitions of a month's groups: 232,500 (dimension, value) pairs (7,500 new symbols
#: every day of a month) in < 700 KB each.
GROUP_PARTITIONS = 32
#: Shards of a minute's close sequence, at least: 50,000 closes in one minute, with
#: 128-character strategy ids, stay under 700 KB per document.
MIN_SEQUENCE_SHARDS = 16
#: The most write shards a user's hot documents get (about 1 write/s each at 64 closes/s).
MAX_SHARDS = 64
#: The minute index that stands for "the whole day" in a checkpoint.
WHOLE_DAY = 9999
#: The id part of a settled day's compacted close-sequence chunk (sorts after the minutes).
CHUNK = "c"
#: Entries per chunk: about 75 bytes each (up to 250 with the longest ids), under 1 MiB.
CHUNK_ENTRIES = 3_000
#: The id part of a settled month's cells merged into chunks (``{g}~{YYYY-MM}~m~{k}``;
#: they sort after the month's days), and the cells per chunk (up to about 340 bytes each).
MONTH_CHUNK = "m"
CELL_CHUNK_ENTRIES = 2_000
#: Writes per batch in rebuilds (under the 500 writes and 10 MiB of one commit).
BATCH_WRITES = 400
BATCH_BYTES = 8 * 1024 * 1024


def stable_hash(text: str) -> int:
    """A hash of ``text`` that every process agrees on (not Python's salted ``hash``)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "big")


def idle_seconds(snap: Any) -> float:
    """Seconds between a document's last write and the read that returned it, both on the
    server's clock (0 when the snapshot does not say)."""
    if snap.update_time is None or snap.read_time is None:
        return 0.0
    return max(0.0, (snap.read_time - snap.update_time).total_seconds())


def _cell_part(facts: TradeFacts) -> str:
    return f"{facts.source}|{facts.strategy_id}|{facts.symbol}"


class ShardPolicy:
    """How many write shards a user's hot documents get, chosen by the load this process
    sees: about one per sustained close per second over the last ``window_seconds``
    (1 to :data:`MAX_SHARDS`), never below the user's own setting. Reads add every shard
    that exists, so the count may change at any time."""

    def __init__(self, window_seconds: float = 10.0) -> None:
        self.window = window_seconds
        self._closes: dict[str, deque[float]] = {}

    def shards(self, uid: str, minimum: int = 1) -> int:
        """Record one close of ``uid`` now and return its shard count."""
        now = time.monotonic()
        seen = self._closes.setdefault(uid, deque())
        seen.append(now)
        while seen and seen[0] < now - self.window:
            seen.popleft()
        if len(self._closes) > 10_000:  # forget idle users
            for other in [u for u, q in self._closes.items() if not q or q[-1] < now - self.window]:
                del self._closes[other]
        return max(1, min(MAX_SHARDS, max(minimum, math.ceil(len(seen) / self.window))))


@dataclass(frozen=True)
class Checkpoint:
    """An order-fold checkpoint of one selection.

    Attributes:
        day, minute: the fold covers the selected trades before ``day`` and those of
            ``day`` up to ``minute`` (:data:`WHOLE_DAY`: all of it).
        fold: the fold state there.
        prior_count: selected trades before ``day`` (checked against the cells).
        minute_total: every trade of ``day`` up to ``minute`` (checked against the minute
            counts; trades are never removed, so an equal count means the same trades).
    """

    day: date
    minute: int
    fold: OrderFold
    prior_count: int
    minute_total: int


def _counter_transforms(delta: Mapping[str, int], facts: TradeFacts | None) -> dict[str, Any]:
    out: dict[str, Any] = {name: firestore.Increment(value) for name, value in delta.items() if value}
    if facts is not None:
        if facts.outcome is not None:
            out["mx"] = firestore.Maximum(facts.outcome)
            out["mn"] = firestore.Minimum(facts.outcome)
        if facts.opened_us is not None:
            out["fo"] = firestore.Minimum(facts.opened_us)
    return out


def close_writes(gen: int, facts: TradeFacts, shards: int) -> list[tuple[str, str, dict[str, Any]]]:
    """The merge-writes one close adds to generation ``gen``: ``(collection, document id,
    fields)``. Transforms only (``Increment`` of the non-zero counters, ``Maximum`` and
    ``Minimum`` of the P&L) and one map entry: no read, no lock, concurrent closes commute."""
    w = stable_hash(facts.trade_id) % shards
    s = stable_hash(facts.trade_id) % max(shards, MIN_SEQUENCE_SHARDS)
    day, month = facts.day.isoformat(), facts.day.isoformat()[:7]
    delta = CellStats.delta_of(facts)
    group_delta = {k: v for k, v in delta.items() if k in GROUP_COUNTERS}
    summary = {k: firestore.Increment(v) for k, v in delta.items() if k in SUMMARY_COUNTERS and v}
    writes = [
        (AGG_SUMMARY, f"{gen}~{w:02d}", summary),
        (AGG_DAYS, f"{gen}~{month}~{w:02d}", {"d": {day[8:]: _counter_transforms(delta, facts)},
                                               "m": {day[8:]: {f"{facts.minute:04d}": firestore.Increment(1)}}}),
        (AGG_CELLS, f"{gen}~{day}~{stable_hash(_cell_part(facts)) % CELL_PARTITIONS}~{w:02d}",
         {"c": {_cell_part(facts): _counter_transforms(delta, facts)}}),
        (AGG_SEQ, f"{gen}~{day}~{facts.minute:04d}~{s:02d}", {"t": {facts.trade_id: facts.seq_entry()}}),
    ]
    groups: dict[int, dict[str, Any]] = {}
    for dim in DIMENSIONS:
        key = group_key(dim, getattr(facts, dim))
        groups.setdefault(stable_hash(key) % GROUP_PARTITIONS, {})[key] = _counter_transforms(group_delta, None)
    writes += [(AGG_GROUPS, f"{gen}~{month}~{q:02d}~{w:02d}", {"b": entries}) for q, entries in sorted(groups.items())]
    return writes


def _merge_fields(into: dict[str, Any], fields: Mapping[str, Any]) -> None:
    for key, value in fields.items():
        old = into.get(key)
        if old is None:
            into[key] = _merge_fields_copy(value)
        elif isinstance(old, dict) and isinstance(value, Mapping):
            _merge_fields(old, value)
        elif type(old) is type(value) and isinstance(value, firestore.Increment):
            into[key] = firestore.Increment(old.value + value.value)
        elif type(old) is type(value) and isinstance(value, firestore.Maximum):
            into[key] = firestore.Maximum(max(old.value, value.value))
        elif type(old) is type(value) and isinstance(value, firestore.Minimum):
            into[key] = firestore.Minimum(min(old.value, value.value))
        else:
            raise ValueError(f"two writes set {key!r} differently: {old!r} and {value!r}")


def _merge_fields_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        _merge_fields(out, value)
        return out
    return value


def merge_writes(writes: Iterable[tuple[str, str, dict[str, Any]]]) -> list[tuple[str, str, dict[str, Any]]]:
    """The writes of several closes in one batch, one per document: increments added,
    maxima and minima folded, map entries gathered (``(collection, document id,
    fields)``). So a batch's transforms per document follow its distinct keys, not how
    many closes it holds (Firestore allows 500 per document per commit).

    Raises:
        ValueError: two writes give one plain field different values.
    """
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for collection, doc_id, fields in writes:
        _merge_fields(out.setdefault((collection, doc_id), {}), fields)
    return [(collection, doc_id, fields) for (collection, doc_id), fields in out.items()]


def snapshot_documents(gen: int, facts: Iterable[TradeFacts], *,
                       settled_before: date | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """The documents of generation ``gen`` for a set of closed trades, as plain values (a
    rebuild writes them with ``set``): one shard, the same partitions and keys as the
    closes write; the close sequences of days before ``settled_before`` already in
    chunks, as a read's compaction would leave them."""
    docs: dict[tuple[str, str], dict[str, Any]] = {}
    stats: dict[tuple[str, str, str, str], CellStats] = {}
    facts = list(facts)
    chunked: dict[str, list[TradeFacts]] = {}
    if settled_before is not None:
        for f in facts:
            if f.day < settled_before:
                chunked.setdefault(f.day.isoformat(), []).append(f)
        for day, day_facts in chunked.items():
            day_facts.sort(key=lambda f: f.order_key)
            for k in range(0, len(day_facts), CHUNK_ENTRIES):
                docs[(AGG_SEQ, f"{gen}~{day}~{CHUNK}~{k // CHUNK_ENTRIES:02d}")] = {
                    "t": {f.trade_id: f.seq_entry() + [f.minute] for f in day_facts[k:k + CHUNK_ENTRIES]}}
    for f in facts:
        day, month = f.day.isoformat(), f.day.isoformat()[:7]
        keys = [(AGG_SUMMARY, f"{gen}~00", "", ""), (AGG_DAYS, f"{gen}~{month}~00", "d", day[8:]),
                (AGG_CELLS, f"{gen}~{day}~{stable_hash(_cell_part(f)) % CELL_PARTITIONS}~00", "c", _cell_part(f))]
        for dim in DIMENSIONS:
            key = group_key(dim, getattr(f, dim))
            keys.append((AGG_GROUPS, f"{gen}~{month}~{stable_hash(key) % GROUP_PARTITIONS:02d}~00", "b", key))
        for k in keys:
            stats.setdefault(k, CellStats()).add_trade(f)
        minutes = docs.setdefault((AGG_DAYS, f"{gen}~{month}~00"), {}).setdefault("m", {}).setdefault(day[8:], {})
        minutes[f"{f.minute:04d}"] = minutes.get(f"{f.minute:04d}", 0) + 1
        if day not in chunked:
            seq = docs.setdefault((AGG_SEQ, f"{gen}~{day}~{f.minute:04d}~{stable_hash(f.trade_id) % MIN_SEQUENCE_SHARDS:02d}"), {})
            seq.setdefault("t", {})[f.trade_id] = f.seq_entry()
    for (collection, doc_id, field, key), value in stats.items():
        doc = docs.setdefault((collection, doc_id), {})
        if collection == AGG_SUMMARY:
            doc.update({k: getattr(value, k) for k in SUMMARY_COUNTERS})
        elif collection == AGG_GROUPS:
            doc.setdefault(field, {})[key] = value.to_doc(GROUP_COUNTERS, extremes=False)
        else:
            doc.setdefault(field, {})[key] = value.to_doc(COUNTERS)
    return docs


def merge_documents(collection: str, docs: list[Mapping[str, Any]]) -> dict[str, Any]:
    """One document holding the sum of the shards ``docs`` of an aggregate document."""
    if collection == AGG_SIGNALS:  # shortfall counters, not cell counters
        return merge_counter_docs(docs)
    out: dict[str, Any] = {}
    for doc in docs:
        for field, value in doc.items():
            if collection == AGG_SUMMARY:
                out[field] = out.get(field, 0) + int(value) if isinstance(value, int) else value
            elif field == "t":
                out.setdefault("t", {}).update(value)
            elif field == "m":
                for dd, minutes in value.items():
                    into = out.setdefault("m", {}).setdefault(dd, {})
                    for minute, n in minutes.items():
                        into[minute] = into.get(minute, 0) + int(n)
            elif field in ("d", "b", "c"):
                stats: dict[str, CellStats] = out.setdefault(field, {})
                for key, counters in value.items():
                    stats.setdefault(key, CellStats()).add(CellStats.from_doc(counters))
    for field in ("d", "b", "c"):
        if field in out:
            kind = (GROUP_COUNTERS, False) if field == "b" else (COUNTERS, True)
            out[field] = {k: v.to_doc(kind[0], extremes=kind[1]) for k, v in out[field].items()}
    return out


def _merge_stats(into: dict[Any, CellStats], key: Any, doc: Mapping[str, Any]) -> None:
    stats = into.get(key)
    if stats is None:
        stats = into[key] = CellStats()
    stats.add(CellStats.from_doc(doc))


class AggregateRepository(Repository):
    """Reads and writes of the aggregates (reads inside read-only transactions).

    Args:
        storage: the process's storage; shards: the write-shard policy of the process.
    """

    def __init__(self, storage: Any, shards: ShardPolicy | None = None) -> None:
        super().__init__(storage)
        self.shards = shards or ShardPolicy()
        self._rolled: dict[tuple[str, str], float] = {}

    def may_roll_up(self, uid: str, key: str, every_seconds: float) -> bool:
        """Whether this process may merge the current-period document ``key`` of ``uid``
        now: at most once per ``every_seconds`` (it is then recorded as done)."""
        now = time.monotonic()
        if now - self._rolled.get((uid, key), -math.inf) < every_seconds:
            return False
        if len(self._rolled) > 100_000:  # forget the old ones
            self._rolled = {k: t for k, t in self._rolled.items() if now - t < every_seconds}
        self._rolled[(uid, key)] = now
        return True

    def writes_for_close(self, uid: str, facts: list[tuple[int, TradeFacts]], *,
                         min_shards: int = 1) -> list[tuple[str, str, dict[str, Any]]]:
        """The writes of one close into each ``(generation, facts)`` (facts differ by
        generation when a rebuild changes the time zone), with the shard count the load
        asks for."""
        count = self.shards.shards(uid, min_shards)
        return [w for gen, f in facts for w in close_writes(gen, f, count)]

    def _col(self, uid: str, name: str) -> Any:
        return self.client.collection(USERS, uid, name)

    def _range(self, uid: str, name: str, first: str, last: str, fields: list[str] | None = None) -> Any:
        """Documents of ``name`` with ids in ``[first, last + END]``, in id order."""
        return self.id_range(self._col(uid, name), first, last, fields)

    async def _stream(self, tx: Any, query: Any, seen: dict[str, float] | None = None) -> list[Any]:
        """The documents of ``query`` (in ``tx`` when given); each id read goes into
        ``seen`` with its idle seconds (see :func:`idle_seconds`)."""
        if tx is None:
            snaps = [s async for s in query.stream(retry=self.retry, timeout=self.timeout)]
        else:
            snaps = [s async for s in await tx.get(query, retry=self.retry, timeout=self.timeout)]
        if seen is not None:
            seen.update((s.id, idle_seconds(s)) for s in snaps)
        return snaps

    # -- the write -----------------------------------------------------------------------
    def stage_close(self, batch: Any, uid: str, writes: Iterable[tuple[str, str, dict[str, Any]]]) -> None:
        """Add the documents of :func:`close_writes` (of one or two generations) to ``batch``."""
        for collection, doc_id, fields in writes:
            batch.set(self._col(uid, collection).document(doc_id), fields, merge=True)

    # -- reads ---------------------------------------------------------------------------
    async def read_snapshot(self, reader: Any) -> Any:
        """``await reader(tx)`` in one read-only transaction (one consistent snapshot)."""
        return await self.storage.read_snapshot(reader)

    async def summary(self, uid: str, gen: int) -> dict[str, int]:
        """The ``/api/metrics`` counters of generation ``gen`` (its shards added)."""
        out = dict.fromkeys(SUMMARY_COUNTERS, 0)
        for snap in await self._stream(None, self._range(uid, AGG_SUMMARY, f"{gen}~", f"{gen}~")):
            doc = snap.to_dict() or {}
            for k in out:
                out[k] += int(doc.get(k, 0))
        return out

    async def day_totals(self, tx: Any, uid: str, gen: int, first_month: str, last_month: str,
                         seen: dict[str, float] | None = None) -> dict[date, CellStats]:
        """Each day's totals in ``[first_month, last_month]`` (``YYYY-MM``), shards added
        (the ids read go into ``seen``, with their idle seconds)."""
        out: dict[date, CellStats] = {}
        query = self._range(uid, AGG_DAYS, f"{gen}~{first_month}~", f"{gen}~{last_month}~", ["d"])
        for snap in await self._stream(tx, query, seen):
            month = snap.id.split("~")[1]
            for dd, doc in ((snap.to_dict() or {}).get("d") or {}).items():
                _merge_stats(out, date.fromisoformat(f"{month}-{dd}"), doc)
        return out

    async def minute_counts(self, tx: Any, uid: str, gen: int, day: date) -> dict[int, int]:
        """The number of closes of ``day`` in each minute (shards added)."""
        month, dd = day.isoformat()[:7], day.isoformat()[8:]
        out: dict[int, int] = {}
        for snap in await self._stream(tx, self._range(uid, AGG_DAYS, f"{gen}~{month}~", f"{gen}~{month}~", [FieldPath("m", dd).to_api_repr()])):
            for minute, n in (((snap.to_dict() or {}).get("m") or {}).get(dd) or {}).items():
                out[int(minute)] = out.get(int(minute), 0) + int(n)
        return out

    async def groups(self, tx: Any, uid: str, gen: int, first_month: str, last_month: str,
                     seen: dict[str, float] | None = None) -> dict[tuple[str, str], CellStats]:
        """Each breakdown group summed over ``[first_month, last_month]``."""
        out: dict[tuple[str, str], CellStats] = {}
        query = self._range(uid, AGG_GROUPS, f"{gen}~{first_month}~", f"{gen}~{last_month}~", ["b"])
        for snap in await self._stream(tx, query, seen):
            for key, doc in ((snap.to_dict() or {}).get("b") or {}).items():
                _merge_stats(out, parse_group_key(key), doc)
        return out

    async def cells(self, tx: Any, uid: str, gen: int, first_day: date, last_day: date,
                    seen: dict[str, float] | None = None) -> dict[CellId, CellStats]:
        """Every cell of the days ``[first_day, last_day]``, partitions and shards added."""
        out: dict[CellId, CellStats] = {}
        # through the last month's chunk, which sorts after that month's days
        query = self._range(uid, AGG_CELLS, f"{gen}~{first_day.isoformat()}~",
                            f"{gen}~{last_day.isoformat()[:7]}~{MONTH_CHUNK}~", ["c"])
        for snap in await self._stream(tx, query, seen):
            parts = snap.id.split("~")
            for key, doc in ((snap.to_dict() or {}).get("c") or {}).items():
                if parts[2] == MONTH_CHUNK:  # a settled month's chunk: the key has the day
                    cell = CellId.parse(key)
                else:
                    source, strategy_id, symbol = key.split("|")
                    cell = CellId(date.fromisoformat(parts[1]), source, strategy_id, symbol)
                if first_day <= cell.day <= last_day:
                    _merge_stats(out, cell, doc)
        return out

    async def compact_cells_month(self, uid: str, ids: list[str]) -> None:
        """Merge every cell document of one settled month (its days' partitions and shards,
        and any earlier chunks) into month chunks of :data:`CELL_CHUNK_ENTRIES` cells, in one
        transaction: a filtered read of that month then fetches one or a few documents."""
        gen, month = ids[0].split("~")[0], ids[0].split("~")[1][:7]
        @firestore.async_transactional
        async def run(tx: Any) -> None:
            # the month's existing chunks are read too (another read may have just made them)
            chunks_now = [s.id for s in await self._stream(tx, self._range(
                uid, AGG_CELLS, f"{gen}~{month}~{MONTH_CHUNK}~", f"{gen}~{month}~{MONTH_CHUNK}~", []))]
            refs = [self._col(uid, AGG_CELLS).document(i) for i in sorted(set(ids) | set(chunks_now))]
            cells: dict[str, CellStats] = {}
            for ref in refs:
                snap = await ref.get(transaction=tx)
                parts = ref.id.split("~")
                for key, doc in ((snap.to_dict() or {}).get("c") or {}).items() if snap.exists else ():
                    full = key if parts[2] == MONTH_CHUNK else f"{parts[1]}|{key}"
                    cells.setdefault(full, CellStats()).add(CellStats.from_doc(doc))
            ordered = sorted(cells.items())
            written = set()
            for k in range(0, len(ordered), CELL_CHUNK_ENTRIES):
                ref = self._col(uid, AGG_CELLS).document(f"{gen}~{month}~{MONTH_CHUNK}~{k // CELL_CHUNK_ENTRIES:02d}")
                tx.set(ref, {"c": {key: stats.to_doc() for key, stats in ordered[k:k + CELL_CHUNK_ENTRIES]}})
                written.add(ref.id)
            for ref in refs:
                if ref.id not in written:
                    tx.delete(ref)

        await self.run_merge(run)

    async def sequences(self, tx: Any, uid: str, gen: int, first_day: date, after_minute: int,
                        last_day: date, seen: dict[str, float] | None = None) -> list[TradeFacts]:
        """The close-sequence entries from ``first_day`` after ``after_minute`` through
        ``last_day`` (unordered): minute documents, and the chunks a compaction made of a
        settled day (ids ``~c{k}``, after the minutes; their entries carry the minute)."""
        first = f"{gen}~{first_day.isoformat()}~{after_minute + 1:04d}" if after_minute >= 0 else f"{gen}~{first_day.isoformat()}~"
        out: list[TradeFacts] = []
        for snap in await self._stream(tx, self._range(uid, AGG_SEQ, first, f"{gen}~{last_day.isoformat()}~"), seen):
            _, day_text, part, _ = snap.id.split("~")
            day = date.fromisoformat(day_text)
            for tid, entry in ((snap.to_dict() or {}).get("t") or {}).items():
                minute = int(entry[5]) if part == CHUNK else int(part)
                if day == first_day and minute <= after_minute:
                    continue  # a chunk of the first day also holds the minutes already folded
                out.append(replace(TradeFacts.from_seq_entry(tid, day, entry[:5]), minute=minute))
        return out

    async def compact_sequences(self, uid: str, ids: list[str]) -> None:
        """Merge the close-sequence documents ``ids`` of one settled day (its minute
        documents and any earlier chunks) into chunks of :data:`CHUNK_ENTRIES` entries, in
        one transaction (at most :data:`BATCH_WRITES` documents)."""
        prefix = "~".join(ids[0].split("~")[:2])
        @firestore.async_transactional
        async def run(tx: Any) -> None:
            # the day's existing chunks are read too (another read may have just made them)
            chunks_now = [s.id for s in await self._stream(tx, self._range(uid, AGG_SEQ, f"{prefix}~{CHUNK}~",
                                                                           f"{prefix}~{CHUNK}~", []))]
            refs = [self._col(uid, AGG_SEQ).document(i) for i in sorted(set(ids) | set(chunks_now))]
            entries: dict[str, list[Any]] = {}
            for ref in refs:
                snap = await ref.get(transaction=tx)
                part = ref.id.split("~")[2]
                for tid, entry in ((snap.to_dict() or {}).get("t") or {}).items() if snap.exists else ():
                    entries[tid] = list(entry[:5]) + [int(entry[5]) if part == CHUNK else int(part)]
            ordered = sorted(entries.items(), key=lambda kv: (kv[1][0], kv[0]))
            chunks = [dict(ordered[i:i + CHUNK_ENTRIES]) for i in range(0, len(ordered), CHUNK_ENTRIES)]
            written = set()
            for k, chunk in enumerate(chunks):
                ref = self._col(uid, AGG_SEQ).document(f"{prefix}~{CHUNK}~{k:02d}")
                tx.set(ref, {"t": chunk})
                written.add(ref.id)
            for ref in refs:
                if ref.id not in written:
                    tx.delete(ref)

        await self.run_merge(run)

    async def checkpoint(self, tx: Any, uid: str, gen: int, key: str) -> Checkpoint | None:
        """The stored fold checkpoint of a selection, or None."""
        snap = await self._col(uid, AGG_FOLDS).document(f"{gen}~{key}").get(transaction=tx, retry=self.retry, timeout=self.timeout)
        if not snap.exists:
            return None
        doc = snap.to_dict() or {}
        return Checkpoint(date.fromisoformat(doc["day"]), int(doc["minute"]), OrderFold.from_doc(doc["fold"]),
                          int(doc["prior_count"]), int(doc["minute_total"]))

    async def store_checkpoint(self, uid: str, gen: int, key: str, cp: Checkpoint, filters: dict[str, Any]) -> None:
        """Store a selection's fold checkpoint."""
        await self._col(uid, AGG_FOLDS).document(f"{gen}~{key}").set(
            {"day": cp.day.isoformat(), "minute": cp.minute, "fold": cp.fold.to_doc(), "prior_count": cp.prior_count,
             "minute_total": cp.minute_total, "filters": filters}, retry=self.retry, timeout=self.timeout)

    async def compact(self, uid: str, collection: str, ids: list[str]) -> None:
        """Merge the write shards ``ids`` of one document (same id but the last part) into
        its shard ``00``, and delete the others, in one transaction: reads then fetch one
        document where the load had spread many. Every shard merged is read inside the
        transaction, so an increment is never lost: a close that writes one of them
        meanwhile is either in what the transaction read, or waits for (or aborts and
        retries) the transaction and then adds to a fresh shard that reads sum. That holds
        for a settled period and for the current one alike (closes still arriving)."""
        target_id = "~".join(ids[0].split("~")[:-1] + ["00"])
        # shard 00 is read too, whether the read saw it or not: a close may have created it
        refs = [self._col(uid, collection).document(i) for i in sorted(set(ids) | {target_id})]
        target = self._col(uid, collection).document(target_id)

        @firestore.async_transactional
        async def run(tx: Any) -> None:
            # one round trip (the client's AsyncTransaction.get_all awaits an async generator)
            docs = [snap.to_dict() or {} async for snap in self.client.get_all(
                refs, transaction=tx, retry=self.retry, timeout=self.timeout) if snap.exists]
            tx.set(target, merge_documents(collection, docs))
            for ref in refs:
                if ref.id != target.id:
                    tx.delete(ref)

        await self.run_merge(run)

    # -- verify and rebuild --------------------------------------------------------------
    async def generation_documents(self, uid: str, gen: int) -> dict[tuple[str, str], dict[str, Any]]:
        """Every document of generation ``gen`` but the checkpoints: ``(collection, id) ->
        fields`` (for ``verify``, O(history))."""
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for name in AGGREGATE_COLLECTIONS:
            if name == AGG_FOLDS:
                continue
            for snap in await self._stream(None, self._range(uid, name, f"{gen}~", f"{gen}~")):
                out[(name, snap.id)] = snap.to_dict() or {}
        return out

    async def write_documents(self, uid: str, docs: Mapping[tuple[str, str], dict[str, Any]]) -> int:
        """``set`` documents in batches under :data:`BATCH_WRITES` writes and
        :data:`BATCH_BYTES` bytes; returns how many."""
        from ..storage.budget import document_size

        batch, count, size = self.client.batch(), 0, 0
        for (collection, doc_id), fields in docs.items():
            ref = self._col(uid, collection).document(doc_id)
            doc_bytes = document_size([USERS, uid, collection, doc_id], fields)
            if count and (count >= BATCH_WRITES or size + doc_bytes > BATCH_BYTES):
                await batch.commit(retry=self.retry, timeout=self.timeout)
                batch, count, size = self.client.batch(), 0, 0
            batch.set(ref, fields)
            count, size = count + 1, size + doc_bytes
        if count:
            await batch.commit(retry=self.retry, timeout=self.timeout)
        return len(docs)

    async def delete_generation(self, uid: str, gen: int) -> int:
        """Delete every document of generation ``gen`` (checkpoints included)."""
        refs = []
        for name in AGGREGATE_COLLECTIONS:
            refs += [s.reference for s in await self._stream(None, self._range(uid, name, f"{gen}~", f"{gen}~", []))]
        for i in range(0, len(refs), BATCH_WRITES):
            batch = self.client.batch()
            for ref in refs[i:i + BATCH_WRITES]:
                batch.delete(ref)
            await batch.commit(retry=self.retry, timeout=self.timeout)
        return len(refs)


__all__ = ["AggregateRepository", "Checkpoint", "ShardPolicy", "close_writes", "idle_seconds", "merge_writes",
           "snapshot_documents"]
