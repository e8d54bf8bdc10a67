"""User settings: starting capital and trading time zone."""
