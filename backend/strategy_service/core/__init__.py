"""Pure core: money, P&L, aggregate arithmetic, metric formulas. No I/O, no web or storage library."""
