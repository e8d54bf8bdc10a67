"""Error codes of the quotes domain (one class per code)."""

from __future__ import annotations

from ..core.errors import InvalidRequest, NotPermitted, ResourceNotFound


class QuoteNotFound(ResourceNotFound):
    """``GET /quotes/{symbol}`` of a symbol nobody published."""

    code = "quote_not_found"
    description = "No live quote was ever published for the symbol."


class NoQuoteToFill(InvalidRequest):
    """A paper fill or close needs a quote and there is none (same code as the 404 above:
    clients already branch on it; the status says which request it answers)."""

    code = "quote_not_found"
    description = "A paper fill needs a live quote of the symbol and there is none."


class QuoteStale(InvalidRequest):
    """The quote is older than ``MAX_QUOTE_AGE_SECONDS`` (or has no time)."""

    code = "quote_stale"
    description = "The live quote is older than MAX_QUOTE_AGE_SECONDS; a fill needs a fresh one."


class QuoteInvalid(InvalidRequest):
    """The stored quote has no positive price on the side a fill needs."""

    code = "quote_invalid"
    description = "The stored live quote has no positive price to fill at."


class InvalidQuote(InvalidRequest):
    """A published quote is refused: no price nor bid and ask, a price <= 0, bid > ask."""

    code = "invalid_quote"
    description = "A published quote needs a price or both bid and ask, all positive, bid <= ask."


class InvalidSymbol(InvalidRequest):
    """A symbol that is not 1-15 letters, digits, '.' or '-'."""

    code = "invalid_symbol"
    description = "A symbol is 1-15 letters, digits, '.' or '-', starting with a letter or digit."


class PublisherRoleRequired(NotPermitted):
    """Publishing quotes needs the publisher role claim."""

    code = "publisher_role_required"
    description = "Publishing quotes needs the publisher role claim on the token."
