"""Storage of signals: ``users/{uid}/signals/{strategy_id}|{signal_id}``.

A signal document gathers the executions of one signal: ``shadow.{trade_id}`` (a paper or
backtest fill, with the decision price and time) and ``live.{trade_id}`` (broker fills),
each a map of decimal strings and a timestamp, plus ``strategy_id``, ``signal_id``,
``symbol``, ``side`` and ``seen_us`` (the earliest decision or fill time, microseconds
since the epoch: the order and the date filter of the per-signal rows). Every fill merges
its own map key in the batch that creates its trade (:func:`stage_signal`): concurrent fills
of one signal, in either arrival order, commute and need no lock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from google.cloud import firestore

from ..core.aggregates import epoch_us
from ..core.money import to_decimal, to_plain_str
from ..core.shortfall import SignalFill, SignalShortfall, signal_shortfall
from ..storage.client import USERS, Repository
from ..trades.models import LIVE, Trade

SIGNALS = "signals"


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


def signal_fields(trade: Trade) -> dict[str, Any] | None:
    """What a trade's fill merges into its signal's document, or None without a
    ``signal_id``. A shadow fill carries the decision price and time."""
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
    return {"strategy_id": trade.strategy_id, "signal_id": trade.client["signal_id"], "symbol": trade.symbol,
            "side": trade.side, "seen_us": firestore.Minimum(epoch_us(first)), side: {trade_id: fill}}


def stage_signal(client: Any, batch: Any, trade: Trade) -> None:
    """Add the merge of ``trade``'s fill into its signal to ``batch`` (nothing without a
    ``signal_id``)."""
    fields = signal_fields(trade)
    if fields is not None:
        ref = client.collection(USERS, trade.uid, SIGNALS).document(signal_id_of(trade.strategy_id,
                                                                                 fields["signal_id"]))
        batch.set(ref, fields, merge=True)


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
    """Reads signals."""

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

    async def stored_fills(self, uid: str) -> dict[tuple[str, str, str], dict[str, str]]:
        """Every fill recorded in the user's signals: ``(signal id, side, trade id) ->
        {price, quantity, commission}`` (O(signals))."""
        out: dict[tuple[str, str, str], dict[str, str]] = {}
        async for snap in self.client.collection(USERS, uid, SIGNALS).stream(retry=self.retry, timeout=self.timeout):
            doc = snap.to_dict() or {}
            for side in ("shadow", "live"):
                for trade_id, e in (doc.get(side) or {}).items():
                    out[(snap.id, side, trade_id)] = {k: e.get(k) for k in ("price", "quantity", "commission")}
        return out

    async def stream(self, uid: str, *, first_us: int | None, last_us: int | None, strategy_id: str | None,
                     symbol: str | None) -> AsyncIterator[SignalShortfall]:
        """Every signal of the selection (O(signals in it))."""
        query = self._query(uid, first_us=first_us, last_us=last_us, strategy_id=strategy_id, symbol=symbol)
        async for snap in query.stream(retry=self.retry, timeout=self.timeout):
            yield shortfall_of(snap.to_dict() or {})
