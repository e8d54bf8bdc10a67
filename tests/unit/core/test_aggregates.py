"""The aggregates' pure invariants: the order fold equals the specification's drawdown and
the streaks; cells are additive."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from backend.strategy_service.core.aggregates import CellStats, OrderFold, TradeFacts, aggregate
from backend.strategy_service.core.money import quantize_percent, quantize_usd
from backend.strategy_service.core.shadow import compute_max_drawdown_from_realized_pnls

cents_st = st.integers(min_value=-500_000, max_value=500_000)


def longest_runs(pnls):
    """Reference streaks: longest runs of wins and of losses; break-even ends both."""
    best_w = best_l = run_w = run_l = 0
    for p in pnls:
        run_w, run_l = (run_w + 1 if p > 0 else 0), (run_l + 1 if p < 0 else 0)
        best_w, best_l = max(best_w, run_w), max(best_l, run_l)
    return best_w, best_l


@given(st.lists(cents_st, max_size=80))
def test_order_fold_equals_the_seed_drawdown_and_the_streaks(pnls):
    fold = OrderFold()
    for p in pnls:
        fold.add(p)
    usd, pct = compute_max_drawdown_from_realized_pnls([(i, Decimal(p) / 100) for i, p in enumerate(pnls)])
    assert (quantize_usd(Decimal(fold.worst_usd) / 100), quantize_percent(fold.worst_pct)) == (usd, pct)
    assert (fold.best_w, fold.best_l) == longest_runs(pnls)
    assert OrderFold.from_doc(fold.to_doc()) == fold  # storage round trip is exact


def _facts(i: int, p: int, day: int, sym: str) -> TradeFacts:
    return TradeFacts(f"t{i}", i, datetime(2024, 1, day).date(), "paper", "s", sym, p,
                      r_units=p * 3 if p % 2 else None, risk_cents=100 if p % 2 else None, hold_us=i)


@given(st.lists(st.tuples(cents_st, st.integers(1, 5), st.sampled_from("AB")), max_size=60), st.integers(0, 60))
def test_cells_are_additive(rows, cut):
    facts = [_facts(i, p, d, s) for i, (p, d, s) in enumerate(rows)]
    whole = aggregate(facts)
    left, right = aggregate(facts[:cut]), aggregate(facts[cut:])
    for key, stats in right.items():  # merging two halves is the aggregate of the whole
        left.setdefault(key, CellStats()).add(stats)
    assert {k: v.to_doc() for k, v in left.items()} == {k: v.to_doc() for k, v in whole.items()}
    total = CellStats()
    for stats in whole.values():
        total.add(stats)
    assert (total.n, total.pnl, total.w + total.l + total.e) == (len(rows), sum(p for p, _, _ in rows), len(rows))


