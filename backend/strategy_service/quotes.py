"""Live quotes: reading ``live_quotes/{SYMBOL}`` safely and publishing new quotes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from .errors import InvalidRequest
from .money import to_decimal, to_plain_str
from .repository import Store
from .shadow_metrics import entry_fill_price, exit_fill_price

#: Symbols: 1-15 letters, digits, '.' or '-', starting with a letter or digit; stored
#: upper-case. A '/' is refused: it cannot be part of a Firestore document id.
SYMBOL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,14}$"
_SYMBOL_RE = re.compile(SYMBOL_PATTERN)


def normalize_symbol(symbol: str) -> str:
    """Upper-case a ticker symbol and check its format.

    Raises:
        InvalidRequest: ``invalid_symbol`` for an empty, over-long or malformed symbol.
    """
    if not isinstance(symbol, str) or not _SYMBOL_RE.match(symbol.strip()):
        raise InvalidRequest(
            "A symbol is 1-15 letters, digits, '.' or '-', starting with a letter or digit.",
            code="invalid_symbol",
        )
    return symbol.strip().upper()


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


@dataclass(frozen=True)
class Quote:
    """One live quote.

    Attributes:
        symbol: upper-case ticker.
        bid, ask, price: USD per unit, any may be None.
        updated_at: when it was published (UTC), or None when unknown.
    """

    symbol: str
    bid: Decimal | None
    ask: Decimal | None
    price: Decimal | None
    updated_at: datetime | None

    @classmethod
    def from_document(cls, symbol: str, doc: dict[str, Any]) -> Quote:
        """Parse a ``live_quotes`` document (decimal strings, or numbers on read)."""
        updated = doc.get("updated_at")
        return cls(
            symbol=symbol,
            bid=_stored_decimal(doc.get("bid"), "bid"),
            ask=_stored_decimal(doc.get("ask"), "ask"),
            price=_stored_decimal(doc.get("price"), "price"),
            updated_at=updated if isinstance(updated, datetime) else None,
        )

    def age_seconds(self, now: datetime) -> float | None:
        """Seconds since publication, or None when the time is unknown."""
        return None if self.updated_at is None else (now - self.updated_at).total_seconds()

    def as_json(self) -> dict[str, Any]:
        """API shape: prices as decimal strings, ``updated_at`` ISO 8601."""
        return {
            "symbol": self.symbol,
            "bid": None if self.bid is None else to_plain_str(self.bid),
            "ask": None if self.ask is None else to_plain_str(self.ask),
            "price": None if self.price is None else to_plain_str(self.price),
            "updated_at": None if self.updated_at is None else self.updated_at.isoformat(),
        }

    def as_mark(self) -> dict[str, Decimal | None]:
        """The mapping the pure functions take for marking (``bid``/``ask``/``price``)."""
        return {"bid": self.bid, "ask": self.ask, "price": self.price}


async def usable_quote(store: Store, symbol: str, *, max_age_seconds: int) -> Quote:
    """The quote of ``symbol``, checked for fills: present, fresh and priced.

    Raises:
        InvalidRequest: ``quote_not_found`` (no document), ``quote_stale`` (older than
            ``max_age_seconds``, when that is > 0, or without ``updated_at``).
    """
    doc = await store.get_quote(symbol)
    if doc is None:
        raise InvalidRequest(f"There is no live quote for {symbol}.", code="quote_not_found")
    quote = Quote.from_document(symbol, doc)
    if max_age_seconds > 0:
        age = quote.age_seconds(datetime.now(timezone.utc))
        if age is None or age > max_age_seconds:
            raise InvalidRequest(
                f"The live quote for {symbol} is older than {max_age_seconds} s; "
                "a fill needs a fresh quote.",
                code="quote_stale",
            )
    return quote


def _checked_price(price: Decimal | None, symbol: str) -> Decimal:
    if price is None or price <= 0:
        raise InvalidRequest(
            f"The live quote for {symbol} has no positive price to fill at.", code="quote_invalid"
        )
    return price


def entry_price_from(quote: Quote, side: str) -> Decimal:
    """Fill price of a new position: BUY at the ask, SELL at the bid, else ``price``.

    Raises:
        InvalidRequest: ``quote_invalid`` when that price is missing or not positive.
    """
    price = entry_fill_price(side, bid=quote.bid, ask=quote.ask, price=quote.price)
    return _checked_price(price, quote.symbol)


def exit_price_from(quote: Quote, side: str) -> Decimal:
    """Exit price of a position: a long at the bid, a short at the ask, else ``price``.

    Raises:
        InvalidRequest: ``quote_invalid`` when that price is missing or not positive.
    """
    price = exit_fill_price(side, bid=quote.bid, ask=quote.ask, price=quote.price)
    return _checked_price(price, quote.symbol)


async def publish_quote(
    store: Store,
    symbol: str,
    *,
    bid: Decimal | None,
    ask: Decimal | None,
    price: Decimal | None,
) -> Quote:
    """Write ``live_quotes/{symbol}`` with prices as decimal strings and a server timestamp.

    Raises:
        InvalidRequest: ``invalid_quote`` when neither a price nor both bid and ask are
            given, when a price is not positive, or when bid > ask.
    """
    symbol = normalize_symbol(symbol)
    if price is None and (bid is None or ask is None):
        raise InvalidRequest("A quote needs a price, or both a bid and an ask.", code="invalid_quote")
    for name, value in (("bid", bid), ("ask", ask), ("price", price)):
        if value is not None and value <= 0:
            raise InvalidRequest(f"The {name} must be positive.", code="invalid_quote")
    if bid is not None and ask is not None and bid > ask:
        raise InvalidRequest("The bid must not be above the ask.", code="invalid_quote")
    fields = {
        "symbol": symbol,
        "bid": None if bid is None else to_plain_str(bid),
        "ask": None if ask is None else to_plain_str(ask),
        "price": None if price is None else to_plain_str(price),
    }
    doc = await store.put_quote(symbol, fields)
    return Quote.from_document(symbol, doc)
