"""The Strategy Service: shadow (paper) trading at live quotes, with exact Decimal P&L."""

__version__ = "0.1.0"
