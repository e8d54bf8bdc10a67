"""Raw document access for tests: what the storage layer wrote, read back as plain dicts
(paths as in docs/data-model.md, names from the repositories)."""

from __future__ import annotations

from typing import Any

from backend.strategy_service.quotes.repository import LIVE_QUOTES
from backend.strategy_service.storage.client import USERS
from backend.strategy_service.trades.repository import PAPER_ORDERS, SHADOW_TRADES


def trade_ref(db: Any, uid: str, trade_id: str) -> Any:
    """``users/{uid}/shadowTradeHistory/{trade_id}``."""
    return db.collection(USERS, uid, SHADOW_TRADES).document(trade_id)


def quote_ref(db: Any, symbol: str) -> Any:
    """``live_quotes/{symbol}``."""
    return db.collection(LIVE_QUOTES).document(symbol)


async def doc_of(ref: Any) -> dict[str, Any] | None:
    """A document's fields, or None when it does not exist."""
    snap = await ref.get()
    return snap.to_dict() if snap.exists else None


async def trade_doc(db: Any, uid: str, trade_id: str) -> dict[str, Any] | None:
    """A stored trade document."""
    return await doc_of(trade_ref(db, uid, trade_id))


async def trade_docs(db: Any, uid: str) -> list[dict[str, Any]]:
    """Every stored trade document of a user."""
    return [s.to_dict() async for s in db.collection(USERS, uid, SHADOW_TRADES).stream()]


async def quote_doc(db: Any, symbol: str) -> dict[str, Any] | None:
    """A stored quote document."""
    return await doc_of(quote_ref(db, symbol))


async def paper_order_doc(db: Any, order_id: str) -> dict[str, Any] | None:
    """A stored paper order document."""
    return await doc_of(db.collection(PAPER_ORDERS).document(order_id))


def user_ref(db: Any, uid: str, collection: str, doc_id: str) -> Any:
    """``users/{uid}/{collection}/{doc_id}``."""
    return db.collection(USERS, uid, collection).document(doc_id)


async def user_docs(db: Any, uid: str, collection: str) -> dict[str, dict[str, Any]]:
    """Every document of one of a user's collections, by id."""
    return {s.id: s.to_dict() async for s in db.collection(USERS, uid, collection).stream()}
