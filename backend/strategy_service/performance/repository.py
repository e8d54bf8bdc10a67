"""Storage of the aggregates every close maintains (see ``docs/aggregates.md``):

- ``users/{uid}/metrics/summary``: the ``/api/metrics`` counters (``totalTrades``,
  ``wins``, ``losses``, ``breakEven``, ``totalPnlCents``);
- ``users/{uid}/pnlMonths/{YYYY-MM}``: the month's cells ``c.{day|source|strategy|symbol}``,
  day totals ``d.{day}`` and groups ``b.{dimension|value}``, each a map of integer
  counters (:class:`~..core.aggregates.CellStats`);
- ``users/{uid}/pnlDays/{YYYY-MM-DD}``: the day's close sequence ``t.{shadow_id}``;
- ``users/{uid}/pnlFolds/{key}``: order-fold checkpoints (a cache: deleting it loses nothing).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.field_path import FieldPath

from ..core.aggregates import DIMENSIONS, CellId, CellStats, OrderFold, Rollup, TradeFacts, group_key, parse_group_key
from ..storage.client import USERS, Repository

METRICS = "metrics"
PNL_MONTHS = "pnlMonths"
PNL_DAYS = "pnlDays"
PNL_FOLDS = "pnlFolds"
#: Writes per batch in rebuilds (Firestore's limit is 500).
BATCH_LIMIT = 400


def summary_counters(stats: CellStats) -> dict[str, int]:
    """The stored ``/api/metrics`` counters of some trades."""
    return {"totalTrades": stats.n, "wins": stats.w, "losses": stats.l, "breakEven": stats.e,
            "totalPnlCents": stats.pnl}


def month_documents(cells: Mapping[str, CellStats]) -> dict[str, dict[str, Any]]:
    """The stored month documents of a set of cells: ``YYYY-MM -> {"c": cells, "d": per-day
    rollup, "b": per-dimension rollup}``, every value a :meth:`CellStats.to_doc`."""
    rollups: dict[str, Rollup] = {}
    raw: dict[str, dict[str, Any]] = {}
    for key, stats in cells.items():
        month = key[:7]
        rollups.setdefault(month, Rollup()).add_cell(CellId.parse(key), stats)
        raw.setdefault(month, {})[key] = stats.to_doc()
    return {
        month: {
            "c": raw[month],
            "d": {day.isoformat(): s.to_doc() for day, s in rollup.by_day.items()},
            "b": {group_key(*k): s.to_doc() for k, s in rollup.groups.items()},
        }
        for month, rollup in rollups.items()
    }


def _ref(client: Any, uid: str, collection: str, doc_id: str) -> Any:
    return client.collection(USERS, uid, collection).document(doc_id)


def stage_close(client: Any, batch: Any, uid: str, facts: TradeFacts) -> None:
    """Add one close's aggregate writes to ``batch``: ``Increment`` of every counter and
    ``Maximum``/``Minimum`` of the extreme P&L of its cell (``c``), its day (``d``) and its
    three breakdown groups (``b``); the trade's entry in the day's close sequence; the
    summary counters. No read, no lock: concurrent closes commute."""
    one = CellStats()
    one.add_trade(facts)
    delta = CellStats.delta_of(facts)

    def stats() -> dict[str, Any]:
        out: dict[str, Any] = {name: firestore.Increment(value) for name, value in delta.items()}
        out["mx"] = firestore.Maximum(facts.pnl_cents)
        out["mn"] = firestore.Minimum(facts.pnl_cents)
        return out

    summary = {name: firestore.Increment(v) for name, v in summary_counters(one).items()}
    batch.set(_ref(client, uid, METRICS, "summary"), {**summary, "updated_at": firestore.SERVER_TIMESTAMP}, merge=True)
    month = {
        "c": {facts.cell: stats()},
        "d": {facts.day.isoformat(): stats()},
        "b": {group_key(dim, getattr(facts, dim)): stats() for dim in DIMENSIONS},
        "updated_at": firestore.SERVER_TIMESTAMP,
    }
    batch.set(_ref(client, uid, PNL_MONTHS, facts.day.isoformat()[:7]), month, merge=True)
    batch.set(_ref(client, uid, PNL_DAYS, facts.day.isoformat()), {"t": {facts.trade_id: facts.seq_entry()}}, merge=True)


class AggregateRepository(Repository):
    """Reads of the aggregates (inside read-only transactions), checkpoints, rebuilds."""

    async def read_snapshot(self, reader: Any) -> Any:
        """``await reader(tx)`` in one read-only transaction (one consistent snapshot)."""
        return await self.storage.read_snapshot(reader)

    async def months_in(self, tx: Any, uid: str, first: str | None, last: str | None, *, rollups: bool) -> list[dict[str, Any]]:
        """Month documents with ids in ``[first, last]`` (``YYYY-MM``, None = open end), only
        their day and group rollups (``rollups``) or only their cells (a projection)."""
        query: Any = (self.client.collection(USERS, uid, PNL_MONTHS).select(["d", "b"] if rollups else ["c"])
                      .order_by(FieldPath.document_id()))
        if first:
            query = query.where(filter=firestore.FieldFilter(FieldPath.document_id(), ">=", _ref(self.client, uid, PNL_MONTHS, first)))
        if last:
            query = query.where(filter=firestore.FieldFilter(FieldPath.document_id(), "<=", _ref(self.client, uid, PNL_MONTHS, last)))
        return [s.to_dict() or {} async for s in await tx.get(query, retry=self.retry, timeout=self.timeout)]

    async def day_sequences(self, tx: Any, uid: str, days: list[date]) -> dict[date, list[TradeFacts]]:
        """The close sequences of ``days`` (days without one left out), unordered."""
        if not days:
            return {}
        refs = [_ref(self.client, uid, PNL_DAYS, d.isoformat()) for d in days]
        out: dict[date, list[TradeFacts]] = {}
        # AsyncTransaction.get_all awaits an async generator (google-cloud-firestore 2.34 bug)
        async for snap in self.client.get_all(refs, transaction=tx, retry=self.retry, timeout=self.timeout):
            if snap.exists:
                day = date.fromisoformat(snap.id)
                entries = (snap.to_dict() or {}).get("t") or {}
                out[day] = [TradeFacts.from_seq_entry(tid, day, e) for tid, e in entries.items()]
        return out

    async def checkpoint(self, tx: Any, uid: str, key: str) -> tuple[date, OrderFold] | None:
        """The stored fold checkpoint ``key``: ``(through day, fold)``, or None."""
        snap = await _ref(self.client, uid, PNL_FOLDS, key).get(transaction=tx, retry=self.retry, timeout=self.timeout)
        if not snap.exists:
            return None
        doc = snap.to_dict() or {}
        return date.fromisoformat(doc["through"]), OrderFold.from_doc(doc["fold"])

    async def store_checkpoint(self, uid: str, key: str, through: date, fold: OrderFold, filters: dict[str, Any]) -> None:
        """Store an order-fold checkpoint."""
        await _ref(self.client, uid, PNL_FOLDS, key).set(
            {"through": through.isoformat(), "fold": fold.to_doc(), "filters": filters},
            retry=self.retry, timeout=self.timeout)

    async def summary(self, uid: str) -> dict[str, int]:
        """The ``/api/metrics`` counters (zeros before the first close)."""
        snap = await _ref(self.client, uid, METRICS, "summary").get(retry=self.retry, timeout=self.timeout)
        record = (snap.to_dict() or {}) if snap.exists else {}
        return {name: int(record.get(name, 0)) for name in ("totalTrades", "wins", "losses", "breakEven", "totalPnlCents")}

    async def stored_cells(self, uid: str) -> dict[str, dict[tuple[str, str], dict[str, int]]]:
        """Every stored month's cells, day totals and groups (``c``, ``d``, ``b`` ->
        ``(month, key) -> counters``): for ``verify``, O(history)."""
        out: dict[str, dict[tuple[str, str], dict[str, int]]] = {"c": {}, "d": {}, "b": {}}
        async for snap in self.client.collection(USERS, uid, PNL_MONTHS).stream(retry=self.retry, timeout=self.timeout):
            doc = snap.to_dict() or {}
            for part in out:
                for key, value in (doc.get(part) or {}).items():
                    out[part][(snap.id, key)] = CellStats.from_doc(value).to_doc()
        return out

    async def stored_sequences(self, uid: str) -> dict[str, dict[str, Any]]:
        """Every stored day's close sequence (``day -> {shadow_id: entry}``): for ``verify``."""
        return {s.id: (s.to_dict() or {}).get("t") or {}
                async for s in self.client.collection(USERS, uid, PNL_DAYS).stream(retry=self.retry, timeout=self.timeout)}

    async def replace(self, uid: str, *, cells: Mapping[str, CellStats], sequences: Mapping[str, dict[str, Any]],
                      summary: CellStats) -> int:
        """Replace every aggregate of a user (rebuild): delete the stored month, day and
        fold documents, then write the given ones and the summary. Not atomic as a whole
        (batches of :data:`BATCH_LIMIT`); run it while the user closes no trade.

        Returns:
            The number of documents written or deleted.
        """
        ops: list[tuple[str, Any, Any]] = []
        for name in (PNL_MONTHS, PNL_DAYS, PNL_FOLDS):
            async for ref in self.client.collection(USERS, uid, name).list_documents():
                ops.append(("delete", ref, None))
        ops += [("set", _ref(self.client, uid, PNL_MONTHS, m), doc) for m, doc in month_documents(cells).items()]
        ops += [("set", _ref(self.client, uid, PNL_DAYS, d), {"t": entries}) for d, entries in sequences.items()]
        ops.append(("set", _ref(self.client, uid, METRICS, "summary"), summary_counters(summary)))
        for i in range(0, len(ops), BATCH_LIMIT):
            batch = self.client.batch()
            for op, ref, doc in ops[i : i + BATCH_LIMIT]:
                if op == "delete":
                    batch.delete(ref)
                else:
                    batch.set(ref, doc)
            await batch.commit(retry=self.retry, timeout=self.timeout)
        return len(ops)


__all__ = ["AggregateRepository", "month_documents", "parse_group_key", "stage_close", "summary_counters"]
