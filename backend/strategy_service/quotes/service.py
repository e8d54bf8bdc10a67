"""Live quote use cases: publishing, reading, and the checked quote a fill needs."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from decimal import Decimal

from ..core.pnl import entry_fill_price, exit_fill_price
from .errors import InvalidQuote, InvalidSymbol, NoQuoteToFill, QuoteInvalid, QuoteNotFound, QuoteStale
from .models import Quote
from .repository import QuoteRepository

#: Symbols: 1-15 letters, digits, '.' or '-', starting with a letter or digit; stored
#: upper-case. A '/' is refused: it cannot be part of a Firestore document id.
SYMBOL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,14}$"
_SYMBOL_RE = re.compile(SYMBOL_PATTERN)


def normalize_symbol(symbol: str) -> str:
    """Upper-case a ticker symbol and check its format.

    Raises:
        InvalidSymbol: for an empty, over-long or malformed symbol.
    """
    if not isinstance(symbol, str) or not _SYMBOL_RE.match(symbol.strip()):
        raise InvalidSymbol("A symbol is 1-15 letters, digits, '.' or '-', starting with a letter or digit.")
    return symbol.strip().upper()


def checked_quote(quote: Quote | None, symbol: str, *, max_age_seconds: int) -> Quote:
    """The quote of ``symbol`` checked for fills: present, and fresh when
    ``max_age_seconds`` > 0.

    Raises:
        NoQuoteToFill: no quote; QuoteStale: older than ``max_age_seconds`` or without time.
    """
    if quote is None:
        raise NoQuoteToFill(f"There is no live quote for {symbol}.")
    if max_age_seconds > 0:
        age = quote.age_seconds(datetime.now(timezone.utc))
        if age is None or age > max_age_seconds:
            raise QuoteStale(f"The live quote for {symbol} is older than {max_age_seconds} s; a fill needs a fresh quote.")
    return quote


def _positive(price: Decimal | None, symbol: str) -> Decimal:
    if price is None or price <= 0:
        raise QuoteInvalid(f"The live quote for {symbol} has no positive price to fill at.")
    return price


def entry_price_from(quote: Quote, side: str) -> Decimal:
    """Fill price of a new position: BUY at the ask, SELL at the bid, else ``price``.

    Raises:
        QuoteInvalid: when that price is missing or not positive.
    """
    return _positive(entry_fill_price(side, bid=quote.bid, ask=quote.ask, price=quote.price), quote.symbol)


def exit_price_from(quote: Quote, side: str) -> Decimal:
    """Exit price of a position: a long at the bid, a short at the ask, else ``price``.

    Raises:
        QuoteInvalid: when that price is missing or not positive.
    """
    return _positive(exit_fill_price(side, bid=quote.bid, ask=quote.ask, price=quote.price), quote.symbol)


class QuoteService:
    """Publishing and reading quotes.

    Args:
        quotes: the quotes repository.

    Attributes:
        on_publish: called with each quote once it is written (the composition root sets
            it to the trigger check of the trades domain, ``TriggerService.on_quote``); it
            must not raise. None: nothing runs.
    """

    def __init__(self, quotes: QuoteRepository) -> None:
        self.quotes = quotes
        self.on_publish: Callable[[Quote], Awaitable[object]] | None = None

    async def get(self, symbol: str) -> Quote:
        """The last published quote of ``symbol``.

        Raises:
            InvalidSymbol; QuoteNotFound (404).
        """
        sym = normalize_symbol(symbol)
        quote = await self.quotes.get(sym)
        if quote is None:
            raise QuoteNotFound(f"There is no live quote for {sym}.")
        return quote

    async def publish(self, symbol: str, *, bid: Decimal | None, ask: Decimal | None, price: Decimal | None) -> Quote:
        """Write ``live_quotes/{symbol}`` (USD per unit) with a server timestamp, then run
        :attr:`on_publish` with it (the exits it triggers; bounded in time, never raising).

        Returns:
            The quote as stored.

        Raises:
            InvalidSymbol; InvalidQuote: neither a price nor both bid and ask, a price that
            is not positive, or bid > ask.
        """
        symbol = normalize_symbol(symbol)
        if price is None and (bid is None or ask is None):
            raise InvalidQuote("A quote needs a price, or both a bid and an ask.")
        for name, value in (("bid", bid), ("ask", ask), ("price", price)):
            if value is not None and value <= 0:
                raise InvalidQuote(f"The {name} must be positive.")
        if bid is not None and ask is not None and bid > ask:
            raise InvalidQuote("The bid must not be above the ask.")
        quote = await self.quotes.put(symbol, bid=bid, ask=ask, price=price)
        if self.on_publish is not None:
            await self.on_publish(quote)
        return quote
