"""Benchmark 1 (issue 4): pure dashboard computation over N closed trades.

    .venv/bin/python bench/dashboard_compute.py [N ...]

Prints the median and min wall time of `compute_dashboard` over random trades spread over
a year of trading days (5 repetitions; 1 for N >= 1,000,000).
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from backend.strategy_service.dashboard_metrics import ClosedTrade, compute_dashboard


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


def main(sizes: list[int]) -> None:
    tz = ZoneInfo("America/New_York")
    print(f"{'trades':>10} {'median ms':>10} {'min ms':>10} {'ms per 1k':>10}")
    for n in sizes:
        trades = make_trades(n)
        reps = 1 if n >= 1_000_000 else 5
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            compute_dashboard(trades, starting_capital=Decimal("100000"), tz=tz)
            times.append((time.perf_counter() - t0) * 1000)
        med = statistics.median(times)
        print(f"{n:>10} {med:>10.1f} {min(times):>10.1f} {med / n * 1000:>10.2f}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10_000, 100_000])
