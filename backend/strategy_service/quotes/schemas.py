"""HTTP models of the quotes endpoints."""

from __future__ import annotations

from ..api.schemas import PositiveAmount, Strict
from pydantic import BaseModel


class PublishQuoteRequest(Strict):
    """``PUT /quotes/{symbol}``: USD per unit; a price, or both bid and ask."""

    bid: PositiveAmount | None = None
    ask: PositiveAmount | None = None
    price: PositiveAmount | None = None


class QuoteOut(BaseModel):
    """A live quote: prices as decimal strings, ``updated_at`` ISO 8601."""

    symbol: str
    bid: str | None
    ask: str | None
    price: str | None
    updated_at: str | None
