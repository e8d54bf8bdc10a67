"""Storage of live quotes: ``live_quotes/{SYMBOL}`` (``bid``, ``ask``, ``price`` as decimal
strings, ``updated_at`` a server timestamp)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from google.cloud import firestore

from ..core.money import to_decimal, to_plain_str
from ..storage.client import Repository
from .models import Quote

LIVE_QUOTES = "live_quotes"


def _stored_decimal(value: Any, field: str) -> Decimal | None:
    """A price field as stored: a decimal string, an int, or (legacy) a float number.

    A stored float is read through its shortest round-trip text (``repr``), which is the
    number its writer meant; it never enters the money math as a binary float.
    """
    if value is None:
        return None
    if isinstance(value, float):
        value = repr(value)
    try:
        return to_decimal(value, field=field)
    except (TypeError, ValueError):
        return None


def quote_of(symbol: str, doc: dict[str, Any]) -> Quote:
    """Decode a ``live_quotes`` document (decimal strings, or numbers on read)."""
    updated = doc.get("updated_at")
    return Quote(symbol=symbol, bid=_stored_decimal(doc.get("bid"), "bid"), ask=_stored_decimal(doc.get("ask"), "ask"),
                 price=_stored_decimal(doc.get("price"), "price"),
                 updated_at=updated if isinstance(updated, datetime) else None)


class QuoteRepository(Repository):
    """Reads and writes ``live_quotes``."""

    def _ref(self, symbol: str) -> Any:
        return self.client.collection(LIVE_QUOTES).document(symbol)

    async def get(self, symbol: str) -> Quote | None:
        """The quote of ``symbol``, or None."""
        snap = await self._ref(symbol).get(retry=self.retry, timeout=self.timeout)
        return quote_of(symbol, snap.to_dict() or {}) if snap.exists else None

    async def get_many(self, symbols: Iterable[str]) -> dict[str, Quote]:
        """Quotes of several symbols in one round trip; missing ones are left out."""
        refs = [self._ref(s) for s in sorted(set(symbols))]
        if not refs:
            return {}
        out: dict[str, Quote] = {}
        async for snap in self.client.get_all(refs, retry=self.retry, timeout=self.timeout):
            if snap.exists:
                out[snap.id] = quote_of(snap.id, snap.to_dict() or {})
        return out

    async def put(self, symbol: str, *, bid: Decimal | None, ask: Decimal | None, price: Decimal | None) -> Quote:
        """Replace the quote of ``symbol`` (``updated_at`` set to the server time); returns it."""
        fields = {"symbol": symbol, **{name: None if v is None else to_plain_str(v)
                                       for name, v in (("bid", bid), ("ask", ask), ("price", price))}}
        ref = self._ref(symbol)
        await ref.set({**fields, "updated_at": firestore.SERVER_TIMESTAMP}, retry=self.retry, timeout=self.timeout)
        snap = await ref.get(retry=self.retry, timeout=self.timeout)
        return quote_of(symbol, snap.to_dict() or {})
