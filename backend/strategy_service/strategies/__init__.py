"""Strategies: per-strategy settings of a user (its own starting capital; later its cost model)."""
