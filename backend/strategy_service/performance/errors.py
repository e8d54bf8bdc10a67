"""Error codes of the performance domain (one class per code)."""

from __future__ import annotations

from ..core.errors import InvalidRequest


class InvalidDateRange(InvalidRequest):
    """``start_date`` after ``end_date``."""

    code = "invalid_date_range"
    description = "start_date is after end_date."
