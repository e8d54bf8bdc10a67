"""Benchmark 1 (issue 4): pure dashboard computation over N closed trades.

    .venv/bin/python bench/dashboard_compute.py [N ...]

For random trades spread over a year (5 symbols, 4 strategies), prints the median wall
time (5 repetitions; 1 for N >= 1,000,000) of:

- ``serve``: :func:`dashboard_from_aggregates`, the full dashboard set from the stored
  cells and order fold: what ``GET /trades/shadow/dashboard`` computes per request;
- ``fold``: building those cells and the order fold from the N trades (what the closes
  do one at a time, and ``rebuild``/``verify`` do at once);
- ``full``: :func:`compute_dashboard`, the full recomputation (fold + serve).
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from backend.strategy_service.core.aggregates import CellId, ClosedTrade, Rollup, aggregate, fold_in_order
from backend.strategy_service.core.dashboard import compute_dashboard, dashboard_from_aggregates


def make_trades(n: int, seed: int = 7) -> list[ClosedTrade]:
    rng = random.Random(seed)
    start = datetime(2024, 1, 2, 15, tzinfo=timezone.utc)
    symbols = ["AAPL", "MSFT", "TSLA", "GOOG", "AMZN"]
    trades = []
    for _ in range(n):
        closed = start + timedelta(days=rng.randrange(365), minutes=rng.randrange(390))
        trades.append(ClosedTrade(
            pnl=Decimal(rng.randrange(-50_000, 60_000)) / 100,
            closed_at=closed,
            opened_at=closed - timedelta(minutes=rng.randrange(1, 5000)),
            symbol=rng.choice(symbols),
            strategy_id=f"s{rng.randrange(4)}",
            risk=Decimal(rng.randrange(5_000, 20_000)) / 100 if rng.random() < 0.7 else None,
        ))
    return trades


def _median_ms(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main(sizes: list[int]) -> None:
    tz = ZoneInfo("America/New_York")
    capital = Decimal("100000")
    print(f"{'trades':>10} {'cells':>6} {'serve ms':>9} {'fold ms':>9} {'full ms':>9} {'full ms/1k':>10}")
    for n in sizes:
        trades = make_trades(n)
        reps = 1 if n >= 1_000_000 else 5

        def fold():
            facts = [t.facts(tz) for t in trades]
            cells = aggregate(facts)
            return cells, Rollup.of_cells({CellId.parse(k): v for k, v in cells.items()}), fold_in_order(facts)

        cells, rollup, order = fold()
        serve = _median_ms(lambda: dashboard_from_aggregates(rollup, order, starting_capital=capital, tz=tz), 5)
        fold_ms = _median_ms(fold, reps)
        full = _median_ms(lambda: compute_dashboard(trades, starting_capital=capital, tz=tz), reps)
        print(f"{n:>10} {len(cells):>6} {serve:>9.2f} {fold_ms:>9.1f} {full:>9.1f} {full / n * 1000:>10.2f}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10_000, 100_000, 1_000_000])
