"""``/quotes``: publish (publisher role) and read live quotes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from ..deps import CurrentUser, Publisher, StoreDep
from ..errors import ResourceNotFound
from ..quotes import SYMBOL_PATTERN, Quote, normalize_symbol, publish_quote
from ..routing import DecimalJSONRoute
from ..schemas import API_ERRORS, ErrorResponse, PublishQuoteRequest, QuoteOut

router = APIRouter(prefix="/quotes", tags=["quotes"], route_class=DecimalJSONRoute)
_errors = API_ERRORS
SymbolPath = Annotated[str, Path(pattern=SYMBOL_PATTERN, max_length=15)]


@router.put(
    "/{symbol}",
    response_model=QuoteOut,
    responses={**_errors, 403: {"model": ErrorResponse, "description": "`publisher_role_required`"}},
    summary="Publish a live quote (publisher role)",
)
async def put_quote(symbol: SymbolPath, body: PublishQuoteRequest, _: Publisher, store: StoreDep) -> dict[str, Any]:
    """Writes ``live_quotes/{SYMBOL}`` with prices as decimal strings and a server timestamp."""
    quote = await publish_quote(store, symbol, bid=body.bid, ask=body.ask, price=body.price)
    return quote.as_json()


@router.get(
    "/{symbol}",
    response_model=QuoteOut,
    responses={**_errors, 404: {"model": ErrorResponse, "description": "`quote_not_found`"}},
    summary="Read a live quote",
)
async def get_quote(symbol: SymbolPath, _: CurrentUser, store: StoreDep) -> dict[str, Any]:
    """The last published quote of the symbol."""
    sym = normalize_symbol(symbol)
    doc = await store.get_quote(sym)
    if doc is None:
        raise ResourceNotFound(f"There is no live quote for {sym}.", code="quote_not_found")
    return Quote.from_document(sym, doc).as_json()
