"""Trades: execute (shadow fill or paper order), close with realized P&L, list, mark to market."""
