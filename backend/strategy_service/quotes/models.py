"""The live quote: a typed value the quotes repository hands to the services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..core.money import to_plain_str


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
        """The mapping the pure marking functions take (``bid``/``ask``/``price``)."""
        return {"bid": self.bid, "ask": self.ask, "price": self.price}
