"""Serving ``GET /trades/shadow/metrics``: read a user's trades and quotes, aggregate purely."""

from __future__ import annotations

from typing import Any

from .quotes import Quote
from .repository import Store
from .shadow_metrics import ShadowMetrics, compute_shadow_metrics


async def shadow_metrics_for(store: Store, *, uid: str) -> ShadowMetrics:
    """The seed's aggregate for one user: realized, unrealized (marked at ``live_quotes``),
    net P&L, win rate and max drawdown of the cumulative realized P&L.

    Cost: one read per trade of the user plus one per distinct open symbol.
    """
    open_trades: list[dict[str, Any]] = []
    closed_trades: list[dict[str, Any]] = []
    async for trade in store.stream_trades(uid):
        (closed_trades if trade.get("status") == "CLOSED" else open_trades).append(trade)
    docs = await store.get_quotes(t["symbol"] for t in open_trades)
    marks = {symbol: Quote.from_document(symbol, doc).as_mark() for symbol, doc in docs.items()}
    return compute_shadow_metrics(
        open_trades=open_trades, closed_trades=closed_trades, live_prices_by_symbol=marks
    )
