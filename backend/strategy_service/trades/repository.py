"""Storage of trades: ``users/{uid}/shadowTradeHistory/{shadow_id}`` (shadow trades),
``paper_orders/{order_id}`` (orders while shadow mode is off) and
``systemStatus/config.is_shadow_mode``.

Money, prices and quantities are stored as decimal strings, times as Firestore
timestamps. A trade is created with ``create()`` (fails on an existing id) and changed
under a ``last_update_time`` precondition; a close writes the trade and the user's
aggregates in one atomic batch (``performance.repository.stage_close``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_document import DocumentSnapshot

from dataclasses import replace

from ..core.costs import CostModel
from ..core.errors import StorageRejected
from ..core.exits import thresholds
from ..core.money import cents_of, to_decimal, to_plain_str
from ..core.pnl import BUY
from ..performance.repository import AggregateRepository, ShardPolicy, merge_writes, stable_hash
from ..quotes.models import Quote
from ..quotes.repository import LIVE_QUOTES, quote_of
from ..shortfall.repository import SIGNALS, SignalRaced, StoredSignal, signal_id_of, stage_signal
from ..storage.client import USERS, Repository
from ..strategies.repository import DEFAULT_COSTS_ID, strategy_ref
from ..users.models import Generation
from ..users.repository import settings_fields, settings_ref
from .models import (
    BACKTEST,
    CLIENT_FIELDS,
    CLOSED,
    EXIT_FILL_DECIMALS,
    EXIT_FILL_FIELDS,
    LIVE,
    OPEN,
    PAPER,
    TRADE_FIELDS,
    ExitFill,
    PaperOrder,
    Trade,
    open_notional_cents,
)

SHADOW_TRADES = "shadowTradeHistory"
#: ``users/{uid}/openNotional/{k}``: the user's open notional in cents, in a fixed number of
#: shards (read together with an execute's other documents, in one round trip).
OPEN_NOTIONAL = "openNotional"
OPEN_NOTIONAL_SHARDS = 8
PAPER_ORDERS = "paper_orders"
#: ``users/{uid}/liveExecutions/{execution_id}``: the trade a live close execution closed (a
#: re-sent close finds it; written in the close's batch).
LIVE_EXECUTIONS = "liveExecutions"
SYSTEM_STATUS = "systemStatus"

_DECIMALS = {"quantity", "notional", "entry_price", "current_price", "current_pnl", "pnl_percent", "stop_loss",
             "risk_amount", "quote_bid", "quote_ask", "exit_price", "realized_pnl", "realized_pnl_percent",
             "entry_base_price", "entry_commission", "entry_slippage", "exit_base_price", "exit_commission",
             "exit_slippage", "gross_pnl", "commission", "slippage", "open_quantity", "decision_price",
             "take_profit", "trailing_stop_percent", "water_mark", "trailing_stop"}
#: The exits of a trade as stored (decimal strings; removed when None).
_EXIT_FIELDS = ("stop_loss", "take_profit", "trailing_stop_percent", "water_mark", "trailing_stop")
#: ``trigger``: the map an OPEN paper trade with exits carries for the trigger queries
#: (``key`` = ``"{SYMBOL}|bid"`` for a long, ``"|ask"`` for a short; ``lo``, ``hi``: the
#: integer thresholds of ``core.exits.thresholds``). Removed by the close's own write.
TRIGGER = "trigger"


def exit_key(symbol: str, side: str) -> str:
    """``trigger.key`` of a position: its symbol and the quote side it exits at."""
    return f"{symbol}|{'bid' if side == BUY else 'ask'}"


def trigger_map(trade: Trade) -> dict[str, Any] | None:
    """The ``trigger`` map of an OPEN paper trade with exits; None for a trade without
    any, a CLOSED trade or a backtest (replays close their own trades, never live quotes)."""
    if not trade.exits_by_quotes:
        return None
    limits = thresholds(trade.exit_plan())
    out: dict[str, Any] = {"key": exit_key(trade.symbol, trade.side)}
    if limits.lo is not None:
        out["lo"] = limits.lo
    if limits.hi is not None:
        out["hi"] = limits.hi
    return out
#: Fields written by a close (besides the back-compat copies ``final_pnl``, ``final_pnl_percent``).
_CLOSE_FIELDS = ("status", "exits", "open_quantity", "exit_price", "exit_base_price", "exit_commission", "exit_slippage", "gross_pnl",
                 "commission", "slippage", "exit_reason", "closed_at", "closed_at_iso", "current_price", "current_pnl",
                 "pnl_percent", "realized_pnl", "realized_pnl_percent", "is_win", "agg_gen", "last_updated")
#: Fields written by a partial close (the trade stays OPEN).
_PARTIAL_FIELDS = ("exits", "open_quantity", "current_price", "current_pnl", "pnl_percent", "agg_gen", "last_updated")


def _encode(value: Any) -> Any:
    if isinstance(value, CostModel):
        return value.to_doc()
    if isinstance(value, tuple):  # the exit fills
        return [{k: _encode(v) for k, v in vars(e).items() if v is not None} for e in value]
    return to_plain_str(value) if isinstance(value, Decimal) else value


def _decimal(value: Any, name: str) -> Decimal | None:
    return None if value is None else to_decimal(value, field=name)


def trade_document(trade: Trade) -> dict[str, Any]:
    """The stored document of a new trade: every set field, and the quote at fill of a
    paper trade even when one side is missing. Times are the service clock's (decision
    D6): what is written is what the answer shows."""
    doc = {name: _encode(getattr(trade, name)) for name in TRADE_FIELDS if getattr(trade, name) is not None}
    doc.update(trade.client)
    if trade.source == PAPER:
        doc["quote_bid"], doc["quote_ask"] = _encode(trade.quote_bid), _encode(trade.quote_ask)
    trigger = trigger_map(trade)
    if trigger is not None:
        doc[TRIGGER] = trigger
    return doc


def trade_of(doc: dict[str, Any], version: Any = None) -> Trade:
    """Decode a stored trade (``realized_pnl`` falls back to the legacy ``final_pnl``)."""
    values: dict[str, Any] = {}
    for name in TRADE_FIELDS:
        value = doc.get(name)
        if name == "realized_pnl" and value is None:
            value = doc.get("final_pnl")
        if name == "realized_pnl_percent" and value is None:
            value = doc.get("final_pnl_percent")
        if name in _DECIMALS:
            value = _decimal(value, name)
        elif name in ("created_at", "closed_at", "received_at", "last_updated", "decided_at") and not isinstance(
                value, datetime):
            value = None
        elif name == "agg_gen" and value is not None:
            value = int(value)
        elif name == "cost_model" and value is not None:
            value = CostModel.from_doc(value)
        elif name == "exits":
            value = tuple(_exit_fill(e) for e in value or ())
        if value is not None:
            values[name] = value
    values.setdefault("source", PAPER)
    values.setdefault("strategy_id", "")
    return Trade(**values, client={k: doc[k] for k in CLIENT_FIELDS if doc.get(k) is not None}, version=version)


class ExecutionAlreadyRecorded(Exception):
    """A live close execution's marker exists already: another request recorded it (the
    close batch wrote nothing)."""


def _exit_fill(doc: dict[str, Any]) -> ExitFill:
    values = {k: (_decimal(doc.get(k), k) if k in EXIT_FILL_DECIMALS else doc.get(k)) for k in EXIT_FILL_FIELDS}
    values["agg_gen"] = int(values["agg_gen"] or 0)
    return ExitFill(**values)


def _trade(snap: DocumentSnapshot) -> Trade:
    return trade_of(snap.to_dict() or {}, snap.update_time)


def _paper_order(doc: dict[str, Any]) -> PaperOrder:
    known = set(PaperOrder.__dataclass_fields__) - {"client"}
    values = {k: (_decimal(v, k) if k in _DECIMALS else v) for k, v in doc.items() if k in known}
    return PaperOrder(**values, client={k: doc[k] for k in CLIENT_FIELDS if doc.get(k) is not None})


class TradeRepository(Repository):
    """Reads and writes trades, paper orders and the shadow-mode flag.

    Args:
        storage: the process's storage; aggregates: the repository whose documents a close
            writes in the same batch.
    """

    def __init__(self, storage: Any, aggregates: AggregateRepository) -> None:
        super().__init__(storage)
        self.aggregates = aggregates
        #: the write shards of the shortfall counters, chosen by this user's fills with signals
        self.signal_shards = ShardPolicy()

    def _ref(self, uid: str, shadow_id: str) -> Any:
        return self.client.collection(USERS, uid, SHADOW_TRADES).document(shadow_id)

    # -- trades ------------------------------------------------------------------------
    def _open_ref(self, uid: str, k: int) -> Any:
        return self.client.collection(USERS, uid, OPEN_NOTIONAL).document(f"{k:02d}")

    def _open_shard(self, trade: Trade) -> Any:
        return self._open_ref(trade.uid, stable_hash(trade.shadow_id) % OPEN_NOTIONAL_SHARDS)

    async def read_for_execute(self, uid: str, *, symbol: str | None, trade_id: str | None, strategy_id: str,
                               signal_id: str | None = None
                               ) -> tuple[Quote | None, bool | None, Trade | PaperOrder | None, dict[str, Any], int,
                                          CostModel, StoredSignal | None]:
        """What an execute reads, in one round trip: the live quote of ``symbol`` (when
        given), ``systemStatus/config.is_shadow_mode`` (None when missing or not a bool),
        the trade or paper order with id ``trade_id`` (an idempotent retry, whatever the
        shadow mode was when it was first sent) when given,
        the user's stored settings fields (their limits), their open notional (cents) and
        the cost model that applies to ``strategy_id`` (the strategy's own, else the user's
        default, else none), and the signal ``signal_id`` of the strategy with its version
        (None when new)."""
        opens = [self._open_ref(uid, k) for k in range(OPEN_NOTIONAL_SHARDS)]
        refs = [self.client.collection(SYSTEM_STATUS).document("config"), settings_ref(self.client, uid),
                strategy_ref(self.client, uid, strategy_id), strategy_ref(self.client, uid, DEFAULT_COSTS_ID), *opens]
        if symbol is not None:
            refs.append(self.client.collection(LIVE_QUOTES).document(symbol))
        if trade_id is not None:  # a retry finds its first answer whatever the mode was then
            refs += [self.client.collection(PAPER_ORDERS).document(trade_id), self._ref(uid, trade_id)]
        if signal_id is not None:
            refs.append(self.client.collection(USERS, uid, SIGNALS).document(signal_id_of(strategy_id, signal_id)))
        found = await self.storage.get_many(refs)
        signal = None
        if signal_id is not None:
            signal_doc, signal_version = found.pop()
            signal = StoredSignal(signal_doc, signal_version) if signal_doc is not None else None
        flag = (found[0][0] or {}).get("is_shadow_mode")
        own, default = (found[2][0] or {}).get("costs"), (found[3][0] or {}).get("costs")
        costs = CostModel.from_doc(own if own is not None else default)
        open_cents = sum(int((doc or {}).get("cents", 0)) for doc, _ in found[4:4 + OPEN_NOTIONAL_SHARDS])
        rest = found[4 + OPEN_NOTIONAL_SHARDS:]
        quote = quote_of(symbol, rest[0][0]) if symbol is not None and rest[0][0] is not None else None
        existing: Trade | PaperOrder | None = None
        if trade_id is not None:
            (order_doc, _), (trade_doc, trade_version) = found[-2], found[-1]
            if trade_doc is not None:
                existing = trade_of(trade_doc, trade_version)
            elif order_doc is not None and order_doc.get("uid") == uid:
                existing = _paper_order(order_doc)
        return (quote, flag if isinstance(flag, bool) else None, existing, settings_fields(found[1][0], found[1][1]),
                open_cents, costs, signal)

    async def open_notional(self, uid: str) -> int:
        """The user's stored open notional, cents (its shards added)."""
        found = await self.storage.get_many([self._open_ref(uid, k) for k in range(OPEN_NOTIONAL_SHARDS)])
        return sum(int((doc or {}).get("cents", 0)) for doc, _ in found)

    async def read_for_close(self, uid: str, *, symbol: str | None) -> tuple[Quote | None, dict[str, Any]]:
        """What a close reads besides the trade, in one round trip: the live quote of
        ``symbol`` (when given) and the user's stored settings fields."""
        refs = [settings_ref(self.client, uid)] + ([self.client.collection(LIVE_QUOTES).document(symbol)] if symbol else [])
        found = await self.storage.get_many(refs)
        quote = quote_of(symbol, found[1][0]) if symbol and found[1][0] is not None else None
        return quote, settings_fields(found[0][0], found[0][1])

    async def create(self, trade: Trade, *, live: Generation, signal: StoredSignal | None = None,
                     rebuild: Generation | None = None, min_shards: int = 1) -> Trade | None:
        """Create a new trade, with its fill merged into its signal (``signal``: the signal as
        read, None when new; ``live`` and ``rebuild``: the generations whose shortfall
        counters change, see ``shortfall.repository.stage_signal``; ``min_shards``: the user's
        least write-shard count of those counters); returns it as written
        (with its version), or None when the trade id exists already.

        Raises:
            SignalRaced: another fill changed the signal since it was read; nothing written.
            StorageRejected: Firestore refused the batch for good (no lost race).
        """
        ref = self._ref(trade.uid, trade.shadow_id)
        batch = self.client.batch()
        batch.create(ref, trade_document(trade))
        if trade.client.get("signal_id"):  # its signal's fills and counters, for the shortfall
            stage_signal(self.client, batch, trade, signal, live=live, rebuild=rebuild, shard=stable_hash(trade.shadow_id) % self.signal_shards.shards(trade.uid, min_shards))
        if trade.source != LIVE:  # live positions are the broker's: outside the service's limits
            batch.set(self._open_shard(trade), {"cents": firestore.Increment(cents_of(trade.notional))}, merge=True)
        try:
            results = await batch.commit(retry=self.storage.batch_retry, timeout=self.timeout)
        except (gexc.AlreadyExists, gexc.FailedPrecondition) as exc:
            if await self.get(trade.uid, trade.shadow_id) is not None:
                return None  # the trade exists: an idempotent retry
            signal_id = trade.client.get("signal_id")
            if signal_id:  # a lost race only when the signal changed since it was read
                signal_ref = self.client.collection(USERS, trade.uid, SIGNALS).document(
                    signal_id_of(trade.strategy_id, signal_id))
                [(_, version)] = await self.storage.get_many([signal_ref])
                if version != (signal.version if signal is not None else None):
                    raise SignalRaced(str(exc)) from exc
            raise  # a refusal that a retry cannot change (StorageRejected)
        return replace(trade, version=results[0].update_time)

    async def get(self, uid: str, shadow_id: str) -> Trade | None:
        """The user's trade, or None (also for another user's trade id)."""
        snap = await self._ref(uid, shadow_id).get(retry=self.retry, timeout=self.timeout)
        return _trade(snap) if snap.exists else None

    async def close(self, closed: Trade, *, writes: list[tuple[str, str, dict[str, Any]]],
                    freed_notional: Decimal, execution: tuple[str, dict[str, Any]] | None = None) -> Trade | None:
        """Write a close (``closed`` CLOSED) or a partial close (still OPEN, with one more
        exit), free ``freed_notional`` USD of the user's open notional and add the
        realization to the aggregates (``writes``), in one atomic batch.

        The trade update carries the precondition ``last_update_time == closed.version``:
        of any number of concurrent closes exactly one writes.

        Returns:
            The trade as written, or None when another writer changed it first (nothing
            written).

        Raises:
            StorageRejected: Firestore refused the batch for good (a limit, an invalid
                argument): the precondition still held, so retrying cannot help.
        """
        return (await self.close_many([(closed, writes, freed_notional)], execution=execution) or [None])[0]

    def _stage_trade_close(self, batch: Any, closed: Trade) -> Any:
        """Add one trade's close (its update under its precondition) to ``batch``; returns
        its reference."""
        if closed.is_open:  # a partial close: the rest keeps its exits and trigger
            fields = {name: _encode(getattr(closed, name)) for name in _PARTIAL_FIELDS}
        else:
            fields = {name: _encode(getattr(closed, name)) for name in _CLOSE_FIELDS}
            fields["final_pnl"], fields["final_pnl_percent"] = fields["realized_pnl"], fields["realized_pnl_percent"]
            fields[TRIGGER] = firestore.DELETE_FIELD  # no trigger query finds a closed trade
        ref = self._ref(closed.uid, closed.shadow_id)
        batch.update(ref, fields, option=self.client.write_option(last_update_time=closed.version))
        return ref

    async def close_many(self, closes: list[tuple[Trade, list[tuple[str, str, dict[str, Any]]], Decimal]], *,
                         execution: tuple[str, dict[str, Any]] | None = None) -> list[Trade] | None:
        """Write the closes of several trades (each ``(closed, writes, freed_notional)`` as
        :meth:`close` takes them) and the live execution's marker in one atomic batch: a
        broker execution that closes several positions first in, first out.

        Returns:
            The trades as written, or None when another writer changed one of them first
            (nothing written).

        Raises:
            ExecutionAlreadyRecorded: the marker exists (a re-send); nothing written.
            StorageRejected: Firestore refused the batch for good (every precondition still
                held).
        """
        batch = self.client.batch()
        # the trades first (their results are the first ones), then one write per document
        refs = [self._stage_trade_close(batch, closed) for closed, _, _ in closes]
        freed: dict[int, int] = {}
        for closed, _, notional in closes:
            if closed.source != LIVE:
                k = stable_hash(closed.shadow_id) % OPEN_NOTIONAL_SHARDS
                freed[k] = freed.get(k, 0) - cents_of(notional)
        for k, cents in sorted(freed.items()):
            batch.set(self._open_ref(closes[0][0].uid, k), {"cents": firestore.Increment(cents)}, merge=True)
        self.aggregates.stage_close(batch, closes[0][0].uid, merge_writes(w for _, writes, _ in closes for w in writes))
        if execution is not None:  # a live close execution is recorded once: a re-send finds it
            execution_id, marker = execution
            batch.create(self.client.collection(USERS, closes[0][0].uid, LIVE_EXECUTIONS).document(execution_id),
                         marker)
        try:  # an aborted commit (contention with a shard merge) wrote nothing: retried
            results = await batch.commit(retry=self.storage.batch_retry, timeout=self.timeout)
        except gexc.NotFound:
            return None
        except gexc.AlreadyExists as exc:
            raise ExecutionAlreadyRecorded(execution[0] if execution else "") from exc
        except gexc.FailedPrecondition as exc:
            found = await self.storage.get_many(refs)
            if all(version == closed.version for (_, version), (closed, _, _) in zip(found, closes)):
                raise self.storage.error_for(exc) from exc  # not a lost race: the batch itself was refused
            if all(doc is not None and doc.get("last_updated") == closed.last_updated
                   for (doc, _), (closed, _, _) in zip(found, closes)):
                # a retried commit whose first attempt did apply (it answered an error): ours
                return [trade_of(doc or {}, version) for doc, version in found]
            return None
        return [replace(closed, version=results[k].update_time) for k, (closed, _, _) in enumerate(closes)]

    async def updated_since(self, uid: str, *, since: datetime) -> list[Trade]:
        """The user's trades written at or after ``since`` (closed, partially closed or
        marked): a rebuild's catch-up looks among them for realizations its snapshot missed
        (single-field index on ``last_updated``)."""
        query = self.client.collection(USERS, uid, SHADOW_TRADES).where(
            filter=firestore.FieldFilter("last_updated", ">=", since))
        return [_trade(s) async for s in query.stream(retry=self.retry, timeout=self.timeout)]

    async def move_generation(self, trade: Trade, gen: int, writes: list[tuple[str, str, dict[str, Any]]]) -> bool:
        """Add realizations of a trade to generation ``gen`` (``writes``) and record
        ``agg_gen = gen`` on it and on its exits, in one batch under its precondition: False
        when it changed meanwhile."""
        batch = self.client.batch()
        exits = tuple(replace(e, agg_gen=max(e.agg_gen, gen)) for e in trade.exits)
        fields: dict[str, Any] = {"agg_gen": gen}
        if exits:
            fields["exits"] = _encode(exits)
        batch.update(self._ref(trade.uid, trade.shadow_id), fields,
                     option=self.client.write_option(last_update_time=trade.version))
        self.aggregates.stage_close(batch, trade.uid, writes)
        try:  # an aborted commit (contention with a shard merge) wrote nothing: retried
            await batch.commit(retry=self.storage.batch_retry, timeout=self.timeout)
        except (gexc.FailedPrecondition, gexc.NotFound):
            return False
        return True

    async def mark(self, trade: Trade, *, current_price: Decimal, current_pnl: Decimal, pnl_percent: Decimal) -> bool:
        """Store a mark-to-market if nobody wrote the trade since it was read; False when
        someone did (or it is gone)."""
        fields = {"current_price": to_plain_str(current_price), "current_pnl": to_plain_str(current_pnl),
                  "pnl_percent": to_plain_str(pnl_percent), "last_updated": firestore.SERVER_TIMESTAMP}
        try:
            await self._ref(trade.uid, trade.shadow_id).update(
                fields, option=self.client.write_option(last_update_time=trade.version),
                retry=self.retry, timeout=self.timeout)
        except (gexc.FailedPrecondition, gexc.NotFound):
            return False
        return True

    async def update_exits(self, trade: Trade, *, mark: tuple[Decimal, Decimal, Decimal] | None = None) -> Trade | None:
        """Write an OPEN trade's exits (:data:`_EXIT_FIELDS`, a None one removed) and its
        ``trigger`` map, under the precondition ``last_update_time == trade.version``.

        Args:
            trade: the trade with its new exits (``Trade.with_exits``).
            mark: ``(current_price, current_pnl, pnl_percent)`` to store with it (a water
                mark moved by a quote also marks the trade at that quote), or None.

        Returns:
            The trade as written (new version), or None when it changed meanwhile or is gone.
        """
        fields: dict[str, Any] = {name: firestore.DELETE_FIELD if getattr(trade, name) is None
                                  else _encode(getattr(trade, name)) for name in _EXIT_FIELDS}
        trigger = trigger_map(trade)
        fields[TRIGGER] = firestore.DELETE_FIELD if trigger is None else trigger
        if mark is not None:
            price, pnl, percent = mark
            fields.update({"current_price": to_plain_str(price), "current_pnl": to_plain_str(pnl),
                           "pnl_percent": to_plain_str(percent), "last_updated": firestore.SERVER_TIMESTAMP})
            trade = replace(trade, current_price=price, current_pnl=pnl, pnl_percent=percent)
        try:
            result = await self._ref(trade.uid, trade.shadow_id).update(
                fields, option=self.client.write_option(last_update_time=trade.version),
                retry=self.retry, timeout=self.timeout)
        except (gexc.FailedPrecondition, gexc.NotFound):
            return None
        return replace(trade, version=result.update_time)

    async def trigger_candidates(self, key: str, *, exit_floor: int, exit_ceil: int, page_size: int
                                 ) -> AsyncIterator[Trade]:
        """The OPEN trades of every user (collection group) with ``trigger.key == key`` whose
        thresholds a quote reaches: ``trigger.lo >= exit_floor`` or ``trigger.hi <=
        exit_ceil`` (exit price x 10^6, floor and ceiling). Two range queries, each on
        its composite index (``firestore.indexes.json``), read ``page_size`` at a time: the
        reads are the trades returned, whatever the number of open trades. A trade in
        both is yielded twice."""
        group = self.client.collection_group(SHADOW_TRADES).where(
            filter=firestore.FieldFilter(f"{TRIGGER}.key", "==", key))
        for field, op, value in (("lo", ">=", exit_floor), ("hi", "<=", exit_ceil)):
            query = group.where(filter=firestore.FieldFilter(f"{TRIGGER}.{field}", op, value)).order_by(
                f"{TRIGGER}.{field}").order_by("__name__")
            last = None
            while True:
                page_query = query.start_after(last) if last is not None else query
                snaps = [s async for s in page_query.limit(page_size).stream(retry=self.retry, timeout=self.timeout)]
                for snap in snaps:
                    yield _trade(snap)
                if len(snaps) < page_size:
                    break
                last = snaps[-1]

    async def list(self, uid: str, *, status: str | None, limit: int, after_id: str | None) -> list[Trade] | None:
        """A page of a user's trades, newest first (``created_at`` desc, then id desc);
        ``after_id`` is the last trade of the previous page (None when it is no trade of
        this user)."""
        query: Any = self.client.collection(USERS, uid, SHADOW_TRADES)
        if status:
            query = query.where(filter=firestore.FieldFilter("status", "==", status))
        query = query.order_by("created_at", direction=firestore.Query.DESCENDING).order_by(
            "__name__", direction=firestore.Query.DESCENDING)
        if after_id:
            cursor = await self._ref(uid, after_id).get(retry=self.retry, timeout=self.timeout)
            if not cursor.exists:
                return None
            query = query.start_after(cursor)
        return [_trade(s) async for s in query.limit(limit).stream(retry=self.retry, timeout=self.timeout)]

    async def stream(self, uid: str) -> AsyncIterator[Trade]:
        """Every trade of a user (OPEN and CLOSED): O(history)."""
        query = self.client.collection(USERS, uid, SHADOW_TRADES)
        async for snap in query.stream(retry=self.retry, timeout=self.timeout):
            yield _trade(snap)

    async def oldest_open_live(self, uid: str, *, strategy_id: str, symbol: str, limit: int = 1) -> list[Trade]:
        """The user's oldest OPEN live trades of ``strategy_id`` in ``symbol``, oldest first,
        at most ``limit`` (index ``status, source, strategy_id, symbol, created_at``)."""
        query = (self.client.collection(USERS, uid, SHADOW_TRADES)
                 .where(filter=firestore.FieldFilter("status", "==", OPEN))
                 .where(filter=firestore.FieldFilter("source", "==", LIVE))
                 .where(filter=firestore.FieldFilter("strategy_id", "==", strategy_id))
                 .where(filter=firestore.FieldFilter("symbol", "==", symbol))
                 .order_by("created_at").order_by("__name__").limit(limit))
        return [_trade(s) async for s in query.stream(retry=self.retry, timeout=self.timeout)]

    async def live_execution(self, uid: str, execution_id: str) -> dict[str, Any] | None:
        """The marker of a live close execution (``trade_id``, ``request_hash``), or None."""
        snap = await self.client.collection(USERS, uid, LIVE_EXECUTIONS).document(execution_id).get(
            retry=self.retry, timeout=self.timeout)
        return (snap.to_dict() or {}) if snap.exists else None

    async def reconcile_open_notional(self, uid: str) -> int:
        """Make the stored open notional equal the OPEN paper and backtest trades' (a user
        whose positions were opened before it was kept, or a repair): both read in one
        snapshot, the difference added to shard ``00`` by an increment, so executes and
        closes committed after the snapshot (in neither side of it) keep their own
        increments. Returns the difference applied, cents."""

        async def read(tx: Any) -> tuple[int, int]:
            query = self.client.collection(USERS, uid, SHADOW_TRADES).where(
                filter=firestore.FieldFilter("status", "==", OPEN))
            trades = [_trade(s) async for s in await tx.get(query, retry=self.retry, timeout=self.timeout)]
            expected = open_notional_cents(trades)
            stored = 0
            async for snap in self.client.get_all([self._open_ref(uid, k) for k in range(OPEN_NOTIONAL_SHARDS)],
                                                  transaction=tx, retry=self.retry, timeout=self.timeout):
                stored += int((snap.to_dict() or {}).get("cents", 0)) if snap.exists else 0
            return expected, stored

        expected, stored = await self.storage.read_snapshot(read)
        if expected != stored:
            await self._open_ref(uid, 0).set({"cents": firestore.Increment(expected - stored)}, merge=True,
                                             retry=self.retry, timeout=self.timeout)
        return expected - stored

    async def open_trades(self, uid: str) -> list[Trade]:
        """The user's OPEN trades (one query; as many reads as open positions)."""
        query = self.client.collection(USERS, uid, SHADOW_TRADES).where(
            filter=firestore.FieldFilter("status", "==", OPEN))
        return [_trade(s) async for s in query.stream(retry=self.retry, timeout=self.timeout)]

    async def open_trades_page(self, *, limit: int, after: Trade | None) -> list[Trade]:
        """A page of OPEN trades of every user (collection group), in document-path order;
        ``after`` is the last trade of the previous page."""
        query = (self.client.collection_group(SHADOW_TRADES)
                 .where(filter=firestore.FieldFilter("status", "==", OPEN)).order_by("__name__"))
        if after is not None:
            query = query.start_after({"__name__": self._ref(after.uid, after.shadow_id)})
        return [_trade(s) async for s in query.limit(limit).stream(retry=self.retry, timeout=self.timeout)]

    # -- paper orders and the shadow-mode flag -----------------------------------------
    async def create_paper_order(self, order: PaperOrder) -> PaperOrder | None:
        """Create ``paper_orders/{order_id}``; returns it as written, or None when it exists."""
        doc = {name: _encode(value) for name, value in vars(order).items() if value is not None and name != "client"}
        doc.update(order.client)
        ref = self.client.collection(PAPER_ORDERS).document(order.order_id)
        try:
            await ref.create(doc, retry=self.retry, timeout=self.timeout)
        except gexc.AlreadyExists:
            return None
        return order

    async def get_paper_order(self, order_id: str) -> PaperOrder | None:
        """The paper order, or None."""
        snap = await self.client.collection(PAPER_ORDERS).document(order_id).get(retry=self.retry, timeout=self.timeout)
        return _paper_order(snap.to_dict() or {}) if snap.exists else None

    async def read_shadow_mode(self) -> bool | None:
        """``systemStatus/config.is_shadow_mode``; None when missing or not a bool."""
        snap = await self.client.collection(SYSTEM_STATUS).document("config").get(retry=self.retry, timeout=self.timeout)
        value = (snap.to_dict() or {}).get("is_shadow_mode") if snap.exists else None
        return value if isinstance(value, bool) else None

    async def set_shadow_mode(self, enabled: bool) -> None:
        """Write ``systemStatus/config.is_shadow_mode`` (operators and tests)."""
        await self.client.collection(SYSTEM_STATUS).document("config").set(
            {"is_shadow_mode": enabled}, merge=True, retry=self.retry, timeout=self.timeout)


__all__ = ["BACKTEST", "CLOSED", "StorageRejected", "TradeRepository", "trade_document", "trade_of"]
