"""Shortfall: each signal's shadow and live fills, and how far the live fills were from the shadow ones."""
