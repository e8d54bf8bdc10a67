"""Error codes of the strategies domain (one class per code)."""

from __future__ import annotations

from ..core.errors import InvalidRequest


class InvalidCost(InvalidRequest):
    """A cost model field is negative or out of range, or its minimum is above its maximum."""

    code = "invalid_cost"
    description = ("A cost is negative or out of range (commission_percent < 100, slippage_bps < 10000), or "
                   "commission_min is above commission_max.")
