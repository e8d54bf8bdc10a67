"""Firestore storage: the only module that knows document paths.

Paths:
- ``users/{uid}/shadowTradeHistory/{shadow_id}``: shadow trades.
- ``live_quotes/{SYMBOL}``: quotes (``bid``, ``ask``, ``price``, ``updated_at``).
- ``systemStatus/config``: ``is_shadow_mode``.
- ``paper_orders/{order_id}``: orders written when shadow mode is off.
- ``users/{uid}/metrics/summary``: the per-user counters of ``GET /api/metrics``.
- ``users/{uid}/pnlMonths/{YYYY-MM}``: the month's cells (``c.{day|source|strategy|symbol}``,
  integer counters, see ``aggregates.py``).
- ``users/{uid}/pnlDays/{YYYY-MM-DD}``: the day's close sequence (``t.{shadow_id}``).
- ``users/{uid}/pnlFolds/{key}``: cached order-fold checkpoints (a cache: deleting it
  loses nothing).

No lock-based transaction is used: a trade is created with ``create()`` (fails with
``AlreadyExists``) and changed with ``update()`` under a ``last_update_time``
precondition (fails with ``FailedPrecondition``), which the emulator and production
Firestore both resolve at once (see ``shared/ENVIRONMENT.md``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any

from google.api_core import exceptions as gexc
from google.api_core import retry_async
from google.cloud import firestore
from google.cloud.firestore_v1.async_document import AsyncDocumentReference
from google.cloud.firestore_v1.base_document import DocumentSnapshot
from google.cloud.firestore_v1.field_path import FieldPath

from .aggregates import DIMENSIONS, CellStats, TradeFacts, group_key, summary_counters

USERS = "users"
SHADOW_TRADES = "shadowTradeHistory"
LIVE_QUOTES = "live_quotes"
SYSTEM_STATUS = "systemStatus"
PAPER_ORDERS = "paper_orders"
SETTINGS = "settings"
METRICS = "metrics"
PNL_MONTHS = "pnlMonths"
PNL_DAYS = "pnlDays"
PNL_FOLDS = "pnlFolds"
#: Writes per batch in rebuilds (Firestore's limit is 500).
BATCH_LIMIT = 400


def aggregate_writes(facts: TradeFacts) -> tuple[dict[str, Any], dict[str, Any]]:
    """The merge-writes one close adds to its month and day documents: ``Increment`` of
    every counter and ``Maximum``/``Minimum`` of the extreme P&L of its cell (``c``), its
    day (``d``) and its three breakdown groups (``b``), and the trade's entry in the day's
    close sequence. No read, no lock: concurrent closes commute."""
    delta = CellStats.delta_of(facts)

    def stats() -> dict[str, Any]:
        out: dict[str, Any] = {name: firestore.Increment(value) for name, value in delta.items()}
        out["mx"] = firestore.Maximum(facts.pnl_cents)
        out["mn"] = firestore.Minimum(facts.pnl_cents)
        return out

    month = {
        "c": {facts.cell: stats()},
        "d": {facts.day.isoformat(): stats()},
        "b": {group_key(dim, getattr(facts, dim)): stats() for dim in DIMENSIONS},
        "updated_at": firestore.SERVER_TIMESTAMP,
    }
    day = {"t": {facts.trade_id: facts.seq_entry()}}
    return month, day


class Store:
    """Async Firestore access for the service; one per process, built in the app lifespan.

    Args:
        client: the process's ``firestore.AsyncClient``.
        timeout_seconds: overall deadline of each call, retries included.

    Every method may raise ``google.api_core.exceptions.GoogleAPICallError`` (or
    ``RetryError``) when Firestore fails; the API turns those into 503.
    """

    def __init__(self, client: firestore.AsyncClient, *, timeout_seconds: float) -> None:
        self.client = client
        self.timeout = timeout_seconds
        self.retry = retry_async.AsyncRetry(
            predicate=retry_async.if_transient_error,
            initial=0.05,
            maximum=1.0,
            multiplier=2.0,
            timeout=timeout_seconds,
        )

    # -- paths -----------------------------------------------------------------------
    def trade_ref(self, uid: str, shadow_id: str) -> AsyncDocumentReference:
        """``users/{uid}/shadowTradeHistory/{shadow_id}``."""
        return self.client.collection(USERS, uid, SHADOW_TRADES).document(shadow_id)

    def quote_ref(self, symbol: str) -> AsyncDocumentReference:
        """``live_quotes/{symbol}``."""
        return self.client.collection(LIVE_QUOTES).document(symbol)

    # -- system ----------------------------------------------------------------------
    async def ping(self) -> None:
        """Read one small document, so that a failure proves Firestore unreachable."""
        await self.client.collection(SYSTEM_STATUS).document("config").get(
            retry=None, timeout=min(self.timeout, 3.0)
        )

    async def read_shadow_mode(self) -> bool | None:
        """``systemStatus/config.is_shadow_mode``; None when the document or field is missing
        or not a bool."""
        snap = await self.client.collection(SYSTEM_STATUS).document("config").get(
            retry=self.retry, timeout=self.timeout
        )
        value = (snap.to_dict() or {}).get("is_shadow_mode") if snap.exists else None
        return value if isinstance(value, bool) else None

    async def set_shadow_mode(self, enabled: bool) -> None:
        """Write ``systemStatus/config.is_shadow_mode`` (operators and tests)."""
        await self.client.collection(SYSTEM_STATUS).document("config").set(
            {"is_shadow_mode": enabled}, merge=True, retry=self.retry, timeout=self.timeout
        )

    # -- quotes ----------------------------------------------------------------------
    async def get_quote(self, symbol: str) -> dict[str, Any] | None:
        """The quote document of ``symbol``, or None."""
        snap = await self.quote_ref(symbol).get(retry=self.retry, timeout=self.timeout)
        return snap.to_dict() if snap.exists else None

    async def get_quotes(self, symbols: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Quote documents of several symbols in one round trip; missing ones are left out."""
        refs = [self.quote_ref(s) for s in sorted(set(symbols))]
        if not refs:
            return {}
        out: dict[str, dict[str, Any]] = {}
        async for snap in self.client.get_all(refs, retry=self.retry, timeout=self.timeout):
            if snap.exists:
                out[snap.id] = snap.to_dict() or {}
        return out

    async def put_quote(self, symbol: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Replace the quote of ``symbol`` (``updated_at`` set to the server time); returns it."""
        ref = self.quote_ref(symbol)
        await ref.set(
            {**fields, "updated_at": firestore.SERVER_TIMESTAMP}, retry=self.retry, timeout=self.timeout
        )
        snap = await ref.get(retry=self.retry, timeout=self.timeout)
        return snap.to_dict() or {}

    # -- trades ----------------------------------------------------------------------
    async def create_trade(self, uid: str, shadow_id: str, fields: dict[str, Any]) -> bool:
        """Create a trade document; False when one with that id exists already."""
        try:
            await self.trade_ref(uid, shadow_id).create(fields, retry=self.retry, timeout=self.timeout)
        except gexc.AlreadyExists:
            return False
        return True

    async def get_trade(self, uid: str, shadow_id: str) -> DocumentSnapshot | None:
        """The trade's snapshot, or None when the user has no trade with that id."""
        snap = await self.trade_ref(uid, shadow_id).get(retry=self.retry, timeout=self.timeout)
        return snap if snap.exists else None

    async def update_trade_if_unchanged(
        self, uid: str, shadow_id: str, fields: dict[str, Any], *, last_update_time: datetime
    ) -> bool:
        """Update a trade only if nobody wrote it since ``last_update_time``.

        Returns:
            True when written; False when the precondition failed (someone else wrote
            first) or the document is gone.
        """
        option = self.client.write_option(last_update_time=last_update_time)
        try:
            await self.trade_ref(uid, shadow_id).update(
                fields, option=option, retry=self.retry, timeout=self.timeout
            )
        except (gexc.FailedPrecondition, gexc.NotFound):
            return False
        return True

    async def close_trade_and_count(
        self,
        uid: str,
        shadow_id: str,
        fields: dict[str, Any],
        *,
        last_update_time: datetime,
        facts: TradeFacts,
    ) -> bool:
        """Close a trade and add it to every aggregate in one atomic commit.

        The trade update carries a ``last_update_time`` precondition; the record
        ``users/{uid}/metrics/summary``, the month's cell and the day's close sequence are
        changed with ``Increment``/``Maximum``/``Minimum`` transforms and field merges (no
        lock, no read). Either all are written or none.

        Returns:
            True when written; False when the precondition failed (nothing written).
        """
        batch = self.client.batch()
        batch.update(self.trade_ref(uid, shadow_id), fields, option=self.client.write_option(last_update_time=last_update_time))
        one = CellStats()
        one.add_trade(facts)
        summary: dict[str, Any] = {name: firestore.Increment(v) for name, v in summary_counters(one).items()}
        batch.set(self.metrics_ref(uid), {**summary, "updated_at": firestore.SERVER_TIMESTAMP}, merge=True)
        month, day = aggregate_writes(facts)
        batch.set(self.month_ref(uid, facts.day.isoformat()[:7]), month, merge=True)
        batch.set(self.day_ref(uid, facts.day.isoformat()), day, merge=True)
        try:
            await batch.commit(retry=self.retry, timeout=self.timeout)
        except (gexc.FailedPrecondition, gexc.NotFound):
            return False
        return True

    # -- aggregates ------------------------------------------------------------------
    def month_ref(self, uid: str, month: str) -> AsyncDocumentReference:
        """``users/{uid}/pnlMonths/{YYYY-MM}``."""
        return self.client.collection(USERS, uid, PNL_MONTHS).document(month)

    def day_ref(self, uid: str, day: str) -> AsyncDocumentReference:
        """``users/{uid}/pnlDays/{YYYY-MM-DD}``."""
        return self.client.collection(USERS, uid, PNL_DAYS).document(day)

    def fold_ref(self, uid: str, key: str) -> AsyncDocumentReference:
        """``users/{uid}/pnlFolds/{key}``."""
        return self.client.collection(USERS, uid, PNL_FOLDS).document(key)

    async def read_snapshot(self, reader: Any) -> Any:
        """Run ``await reader(tx)`` inside a read-only transaction: every read through
        ``tx`` sees one consistent snapshot, and no lock is taken."""
        transaction = self.client.transaction(read_only=True)

        @firestore.async_transactional
        async def run(tx: Any) -> Any:
            return await reader(tx)

        try:
            # the transaction's begin and commit calls take the library's own (long)
            # deadlines: bound the whole read by ours
            return await asyncio.wait_for(run(transaction), self.timeout)
        except asyncio.TimeoutError:
            raise gexc.DeadlineExceeded(f"read-only transaction took more than {self.timeout} s") from None
        except ValueError as exc:
            # when the transaction could not even begin, the library's rollback raises
            # ValueError over the storage error: surface a storage error (a 503)
            if "cannot be rolled back" in str(exc):
                raise gexc.ServiceUnavailable("read-only transaction could not begin") from exc
            raise

    async def months_in(
        self, tx: Any, uid: str, first: str | None, last: str | None, *, fields: list[str]
    ) -> list[dict[str, Any]]:
        """Month documents with ids in ``[first, last]`` (``YYYY-MM``, None = open end),
        only their top-level ``fields`` (a projection: the rest is not transferred)."""
        query: Any = self.client.collection(USERS, uid, PNL_MONTHS).select(fields).order_by(FieldPath.document_id())
        if first:
            query = query.where(filter=firestore.FieldFilter(FieldPath.document_id(), ">=", self.month_ref(uid, first)))
        if last:
            query = query.where(filter=firestore.FieldFilter(FieldPath.document_id(), "<=", self.month_ref(uid, last)))
        return [s.to_dict() or {} async for s in await tx.get(query, retry=self.retry, timeout=self.timeout)]

    async def days_in(self, tx: Any, uid: str, days: list[str]) -> dict[str, dict[str, Any]]:
        """Day sequence documents by id (missing ones left out)."""
        if not days:
            return {}
        refs = [self.day_ref(uid, d) for d in days]
        out: dict[str, dict[str, Any]] = {}
        # AsyncTransaction.get_all awaits an async generator (google-cloud-firestore 2.34 bug)
        async for snap in self.client.get_all(refs, transaction=tx, retry=self.retry, timeout=self.timeout):
            if snap.exists:
                out[snap.id] = snap.to_dict() or {}
        return out

    async def get_in(self, tx: Any, ref: AsyncDocumentReference) -> dict[str, Any] | None:
        """One document read through ``tx`` (None when missing)."""
        snap = await ref.get(transaction=tx, retry=self.retry, timeout=self.timeout)
        return snap.to_dict() if snap.exists else None

    async def aggregate_documents(self, uid: str, name: str) -> dict[str, dict[str, Any]]:
        """Every document of one of the user's aggregate collections (``pnlMonths``,
        ``pnlDays``, ``pnlFolds``) by id: for ``verify``, O(history)."""
        query = self.client.collection(USERS, uid, name)
        return {s.id: s.to_dict() or {} async for s in query.stream(retry=self.retry, timeout=self.timeout)}

    async def set_fold(self, uid: str, key: str, doc: dict[str, Any]) -> None:
        """Store an order-fold checkpoint."""
        await self.fold_ref(uid, key).set(doc, retry=self.retry, timeout=self.timeout)

    async def replace_aggregates(
        self,
        uid: str,
        *,
        months: dict[str, dict[str, Any]],
        days: dict[str, dict[str, Any]],
        summary: dict[str, Any],
    ) -> int:
        """Replace every aggregate of a user (rebuild): delete the stored month, day and
        fold documents, then write the given ones and the summary. Not atomic as a whole
        (batches of :data:`BATCH_LIMIT`); run it while the user closes no trade.

        Returns:
            The number of documents written or deleted.
        """
        refs = []
        for name in (PNL_MONTHS, PNL_DAYS, PNL_FOLDS):
            async for ref in self.client.collection(USERS, uid, name).list_documents():
                refs.append(("delete", ref, None))
        refs += [("set", self.month_ref(uid, m), doc) for m, doc in months.items()]
        refs += [("set", self.day_ref(uid, d), doc) for d, doc in days.items()]
        refs.append(("set", self.metrics_ref(uid), summary))
        for i in range(0, len(refs), BATCH_LIMIT):
            batch = self.client.batch()
            for op, ref, doc in refs[i : i + BATCH_LIMIT]:
                if op == "delete":
                    batch.delete(ref)
                else:
                    batch.set(ref, doc)
            await batch.commit(retry=self.retry, timeout=self.timeout)
        return len(refs)

    def metrics_ref(self, uid: str) -> AsyncDocumentReference:
        """``users/{uid}/metrics/summary``: the story's incremental per-user record."""
        return self.client.collection(USERS, uid, METRICS).document("summary")

    async def get_metrics_record(self, uid: str) -> dict[str, Any] | None:
        """The user's metrics record, or None before their first close."""
        snap = await self.metrics_ref(uid).get(retry=self.retry, timeout=self.timeout)
        return snap.to_dict() if snap.exists else None

    async def set_metrics_record(self, uid: str, record: dict[str, Any]) -> None:
        """Replace the user's metrics record (rebuilds)."""
        await self.metrics_ref(uid).set(record, retry=self.retry, timeout=self.timeout)

    def settings_ref(self, uid: str) -> AsyncDocumentReference:
        """``users/{uid}/settings/profile``."""
        return self.client.collection(USERS, uid, SETTINGS).document("profile")

    async def get_user_settings(self, uid: str) -> dict[str, Any]:
        """The user's stored settings (empty when never set)."""
        snap = await self.settings_ref(uid).get(retry=self.retry, timeout=self.timeout)
        return (snap.to_dict() or {}) if snap.exists else {}

    async def merge_user_settings(self, uid: str, fields: dict[str, Any]) -> None:
        """Merge fields into the user's settings."""
        await self.settings_ref(uid).set(fields, merge=True, retry=self.retry, timeout=self.timeout)

    async def list_trades(
        self, uid: str, *, status: str | None, limit: int, after_id: str | None
    ) -> list[DocumentSnapshot]:
        """A page of a user's trades, newest first (``created_at`` desc, then id desc).

        Args:
            status: ``"OPEN"``/``"CLOSED"`` filter, or None for all.
            limit: page size.
            after_id: the id of the last trade of the previous page (the cursor).

        Returns:
            Up to ``limit`` snapshots; an unknown cursor id gives an empty page.
        """
        query: Any = self.client.collection(USERS, uid, SHADOW_TRADES)
        if status:
            query = query.where(filter=firestore.FieldFilter("status", "==", status))
        query = query.order_by("created_at", direction=firestore.Query.DESCENDING).order_by(
            "__name__", direction=firestore.Query.DESCENDING
        )
        if after_id:
            cursor = await self.get_trade(uid, after_id)
            if cursor is None:
                return []
            query = query.start_after(cursor)
        return [s async for s in query.limit(limit).stream(retry=self.retry, timeout=self.timeout)]

    async def stream_trades(self, uid: str) -> AsyncIterator[dict[str, Any]]:
        """Every trade document of a user (OPEN and CLOSED)."""
        query = self.client.collection(USERS, uid, SHADOW_TRADES)
        async for snap in query.stream(retry=self.retry, timeout=self.timeout):
            yield snap.to_dict() or {}

    async def open_trades(self, uid: str) -> list[dict[str, Any]]:
        """The user's OPEN trades (one query; as many reads as open positions)."""
        query = self.client.collection(USERS, uid, SHADOW_TRADES).where(
            filter=firestore.FieldFilter("status", "==", "OPEN")
        )
        return [s.to_dict() or {} async for s in query.stream(retry=self.retry, timeout=self.timeout)]

    async def open_trades_page(
        self, *, limit: int, after: DocumentSnapshot | None
    ) -> list[DocumentSnapshot]:
        """A page of OPEN trades of every user (collection group), in document-path order."""
        query = (
            self.client.collection_group(SHADOW_TRADES)
            .where(filter=firestore.FieldFilter("status", "==", "OPEN"))
            .order_by("__name__")
        )
        if after is not None:
            query = query.start_after(after)
        return [s async for s in query.limit(limit).stream(retry=self.retry, timeout=self.timeout)]

    # -- paper orders ----------------------------------------------------------------
    async def create_paper_order(self, order_id: str, fields: dict[str, Any]) -> bool:
        """Create ``paper_orders/{order_id}``; False when it exists already."""
        try:
            await self.client.collection(PAPER_ORDERS).document(order_id).create(
                fields, retry=self.retry, timeout=self.timeout
            )
        except gexc.AlreadyExists:
            return False
        return True

    async def get_paper_order(self, order_id: str) -> dict[str, Any] | None:
        """The paper order document, or None."""
        snap = await self.client.collection(PAPER_ORDERS).document(order_id).get(
            retry=self.retry, timeout=self.timeout
        )
        return snap.to_dict() if snap.exists else None
