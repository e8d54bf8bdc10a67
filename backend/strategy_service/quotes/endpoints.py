"""``/quotes``: publish (publisher role) and read live quotes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from ..api.deps import CurrentUser, Publisher, QuotesDep
from ..api.errors import responses
from ..api.routing import DecimalJSONRoute
from .errors import InvalidQuote, InvalidSymbol, PublisherRoleRequired, QuoteNotFound
from .schemas import PublishQuoteRequest, QuoteOut
from .service import SYMBOL_PATTERN

router = APIRouter(prefix="/quotes", tags=["quotes"], route_class=DecimalJSONRoute)
SymbolPath = Annotated[str, Path(pattern=SYMBOL_PATTERN, max_length=15)]


@router.put("/{symbol}", response_model=QuoteOut, summary="Publish a live quote (publisher role)",
            responses=responses(PublisherRoleRequired, InvalidQuote, InvalidSymbol))
async def put_quote(symbol: SymbolPath, body: PublishQuoteRequest, _: Publisher, quotes: QuotesDep) -> dict[str, Any]:
    """Writes ``live_quotes/{SYMBOL}`` with prices as decimal strings and a server timestamp."""
    return (await quotes.publish(symbol, bid=body.bid, ask=body.ask, price=body.price)).as_json()


@router.get("/{symbol}", response_model=QuoteOut, summary="Read a live quote", responses=responses(QuoteNotFound, InvalidSymbol))
async def get_quote(symbol: SymbolPath, _: CurrentUser, quotes: QuotesDep) -> dict[str, Any]:
    """The last published quote of the symbol."""
    return (await quotes.get(symbol)).as_json()
