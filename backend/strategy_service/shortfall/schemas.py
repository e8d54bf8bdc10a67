"""HTTP shapes of ``GET /trades/shortfall``: money and prices as decimal strings, bps as
decimal strings to 0.01, times ISO 8601."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from ..core.money import to_plain_str
from ..core.shortfall import Leg, ShortfallSummary, SignalShortfall

#: What the answer says about its figures (``conventions``).
CONVENTIONS = {
    "decision_price": "the quote when the signal arrived: the mid of bid and ask, else the last price; a backtest's "
                      "bar price",
    "sign": "positive = worse for the trader: a BUY filled above, a SELL below the benchmark",
    "slippage_bps": "(fill - decision) / decision x 10,000 x d, d = +1 BUY, -1 SELL; ROUND_HALF_UP to 0.01 bps",
    "slippage_usd": "(fill - decision) x quantity x d, to the cent",
    "shortfall_bps": "live against shadow: (live - shadow) / decision x 10,000 x d",
    "shortfall_usd": "(live - shadow) x live quantity x d, to the cent",
    "fill_price": "several fills of one side: their quantity-weighted average",
    "latency_ms": "from the decision time to the side's first fill",
    "filled_live_percent": "signals with a shadow fill that were also filled live / signals with a shadow fill x 100",
    "median_bps": "of the linked signals' shortfall; an even count takes the mean of the two middle values",
    "tracking_difference": "cumulative realized P&L of live trades minus that of the shadow source, per close day, "
                           "same strategy and symbol filters, USD, net of commissions",
    "window": "signals by the day of their first time (the decision, else the first fill) in the user's time zone",
    "groups": "per strategy, symbol and that day; summary and groups from counters kept on every fill",
}


def _s(value: Decimal | None) -> str | None:
    return None if value is None else to_plain_str(value)


def _t(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def leg_view(leg: Leg | None) -> dict[str, Any] | None:
    """API shape of one side of a signal."""
    if leg is None:
        return None
    return {"price": _s(leg.price), "quantity": _s(leg.quantity), "commission": _s(leg.commission), "fills": leg.fills,
            "first_fill_at": _t(leg.first_at), "latency_ms": leg.latency_ms,
            "slippage_bps": _s(leg.slippage_bps), "slippage_usd": _s(leg.slippage_usd)}


def row_view(row_id: str, row: SignalShortfall) -> dict[str, Any]:
    """API shape of one signal."""
    return {"id": row_id, "strategy_id": row.strategy_id, "signal_id": row.signal_id, "symbol": row.symbol,
            "side": row.side, "decision_price": _s(row.decision_price), "decided_at": _t(row.decided_at),
            "shadow": leg_view(row.shadow), "live": leg_view(row.live), "linked": row.linked,
            "shortfall_bps": _s(row.shortfall_bps), "shortfall_usd": _s(row.shortfall_usd)}


def summary_view(summary: ShortfallSummary) -> dict[str, Any]:
    """API shape of a summary."""
    return {"signals": summary.signals, "linked": summary.linked,
            "filled_live_percent": _s(summary.filled_live_percent), "live_only": summary.live_only,
            "mean_bps": _s(summary.mean_bps), "median_bps": _s(summary.median_bps), "total_usd": _s(summary.total_usd),
            "shadow_commission": _s(summary.shadow_commission), "live_commission": _s(summary.live_commission)}


class ShortfallOut(BaseModel):
    """``GET /trades/shortfall`` (docs/shortfall.md defines every figure)."""

    items: list[dict[str, Any]] = Field(description="Per-signal rows, newest first.")
    next_cursor: str | None
    summary: dict[str, Any]
    groups: list[dict[str, Any]] = Field(description="Per strategy, symbol and decision day.")
    tracking: list[dict[str, Any]] = Field(description="Live minus shadow realized P&L per close day, cumulative.")
    filters: dict[str, Any]
    conventions: dict[str, str]
