"""The filters of the metrics endpoints (pure): which closed trades, and which cells."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, timedelta

from ..core.aggregates import CellId
from .errors import InvalidDateRange


@dataclass(frozen=True)
class TradeFilter:
    """Filters of the metrics endpoints. Dates are inclusive close dates in the user's time
    zone (a trade's P&L belongs to the day it is realized); they apply to CLOSED trades.

    Raises (on construction):
        InvalidDateRange: ``start_date > end_date``.
    """

    start_date: date | None = None
    end_date: date | None = None
    source: str | None = None
    strategy_id: str | None = None
    symbol: str | None = None

    def __post_init__(self) -> None:
        if self.start_date and self.end_date and self.start_date > self.end_date:
            raise InvalidDateRange("start_date is after end_date.")

    def matches_attributes(self, source: str, strategy_id: str, symbol: str) -> bool:
        """Source, strategy and symbol match."""
        return ((self.source is None or source == self.source)
                and (self.strategy_id is None or strategy_id == self.strategy_id)
                and (self.symbol is None or symbol == self.symbol))

    def matches_cell(self, cell: CellId) -> bool:
        """A cell (day, source, strategy, symbol) is selected."""
        return (self.matches_attributes(cell.source, cell.strategy_id, cell.symbol)
                and (self.start_date is None or cell.day >= self.start_date)
                and (self.end_date is None or cell.day <= self.end_date))

    def whole_months(self) -> bool:
        """No attribute filter, and dates (if any) on month boundaries: the month rollups
        answer it without reading the cells."""
        if self.source or self.strategy_id or self.symbol:
            return False
        if self.start_date and self.start_date.day != 1:
            return False
        return not self.end_date or (self.end_date + timedelta(days=1)).day == 1

    def fold_key(self) -> str:
        """Id of the order-fold checkpoint of this selection: everything but ``end_date``
        (a fold through a day depends only on the trades up to that day)."""
        parts = [self.start_date.isoformat() if self.start_date else None, self.source, self.strategy_id, self.symbol]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]

    def as_json(self) -> dict[str, str | None]:
        """The filters as the API echoes them."""
        return {
            "start_date": self.start_date.isoformat() if self.start_date else None,
            "end_date": self.end_date.isoformat() if self.end_date else None,
            "source": self.source, "strategy_id": self.strategy_id, "symbol": self.symbol,
        }
