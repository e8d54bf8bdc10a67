"""Implementation shortfall (core/shortfall.py): hand-checkable tables, exact Decimals."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from backend.strategy_service.core.shortfall import (
    ShortfallCounters,
    SignalFill,
    counters_of,
    summary_of,
    decision_price_of,
    signal_shortfall,
    slippage_bps,
    summarize,
)

T0 = datetime(2024, 5, 6, 14, 30, tzinfo=timezone.utc)


def fill(price: str, quantity: str = "100", ms: int = 0, commission: str = "0") -> SignalFill:
    return SignalFill("t" + price + quantity, D(price), D(quantity), T0 + timedelta(milliseconds=ms), D(commission))


def test_the_buy_of_the_issue() -> None:
    # decision 100.00, shadow fill 100.02, live fill 100.05, 100 shares
    s = signal_shortfall(strategy_id="s", signal_id="x", symbol="AAPL", side="BUY", decision_price=D("100.00"),
                         decided_at=T0, shadow=[fill("100.02", ms=40, commission="0.50")],
                         live=[fill("100.05", ms=900, commission="1.00")])
    assert (s.shadow.slippage_bps, s.live.slippage_bps, s.shortfall_bps) == (D("2.00"), D("5.00"), D("3.00"))
    assert (s.shadow.slippage_usd, s.live.slippage_usd, s.shortfall_usd) == (D("2.00"), D("5.00"), D("3.00"))
    assert (s.shadow.latency_ms, s.live.latency_ms) == (40, 900)
    assert (s.shadow.commission, s.live.commission) == (D("0.50"), D("1.00"))


def test_the_sell_is_the_mirror_image() -> None:
    # a SELL: receiving less than the decision price is worse, so positive
    s = signal_shortfall(strategy_id="s", signal_id="x", symbol="AAPL", side="SELL", decision_price=D("100.00"),
                         decided_at=T0, shadow=[fill("99.98")], live=[fill("99.95")])
    assert (s.shadow.slippage_bps, s.live.slippage_bps, s.shortfall_bps) == (D("2.00"), D("5.00"), D("3.00"))
    assert (s.shadow.slippage_usd, s.live.slippage_usd, s.shortfall_usd) == (D("2.00"), D("5.00"), D("3.00"))


def test_partial_live_fills_add_up() -> None:
    # 60 at 100.04 and 40 at 100.065: VWAP (6002.40 + 4002.60) / 100 = 100.05
    s = signal_shortfall(strategy_id="s", signal_id="x", symbol="AAPL", side="BUY", decision_price=D("100.00"),
                         decided_at=T0, shadow=[fill("100.02")],
                         live=[fill("100.065", "40", ms=700, commission="0.40"),
                               fill("100.04", "60", ms=500, commission="0.60")])
    assert (s.live.price, s.live.quantity, s.live.fills, s.live.commission) == (D("100.05"), D("100"), 2, D("1.00"))
    assert (s.live.latency_ms, s.shortfall_bps, s.shortfall_usd) == (500, D("3.00"), D("3.00"))


def test_a_live_fill_better_than_the_shadow_is_negative_and_a_signal_alone_has_no_shortfall() -> None:
    s = signal_shortfall(strategy_id="s", signal_id="x", symbol="AAPL", side="BUY", decision_price=D("100.00"),
                         decided_at=T0, shadow=[fill("100.02")], live=[fill("99.99")])
    assert (s.live.slippage_bps, s.shortfall_bps, s.shortfall_usd) == (D("-1.00"), D("-3.00"), D("-3.00"))
    alone = signal_shortfall(strategy_id="s", signal_id="y", symbol="AAPL", side="BUY", decision_price=None,
                             decided_at=None, shadow=[], live=[fill("99.99")])
    assert alone.shortfall_bps is None and alone.live.slippage_bps is None and not alone.linked


def test_the_decision_price_is_the_mid_else_the_last_price() -> None:
    assert decision_price_of(bid=D("99.98"), ask=D("100.02"), price=D("1")) == D("100.00")
    assert decision_price_of(bid=None, ask=D("100.02"), price=D("100.01")) == D("100.01")


def test_the_summary() -> None:
    rows = [signal_shortfall(strategy_id="s", signal_id=str(i), symbol="AAPL", side="BUY", decision_price=D("100"),
                             decided_at=T0, shadow=[fill("100.00")], live=[fill(live)] if live else [])
            for i, live in enumerate(["100.01", "100.03", "100.02", "99.99", None])]
    summary = summarize(rows)
    # shortfalls 1, 3, 2, -1 bps: mean 1.25, median (1 + 2) / 2 = 1.5; 4 of 5 filled live;
    # 100 shares x (0.01 + 0.03 + 0.02 - 0.01) = 5.00 USD
    assert (summary.signals, summary.linked, summary.filled_live_percent) == (5, 4, D("80.00"))
    assert (summary.mean_bps, summary.median_bps, summary.total_usd) == (D("1.25"), D("1.50"), D("5.00"))


prices = st.decimals(min_value=D("0.01"), max_value=D("10000"), places=4)


@given(decision=prices, shadow=prices, live=prices, side=st.sampled_from(["BUY", "SELL"]))
def test_the_shortfall_is_live_minus_shadow(decision: D, shadow: D, live: D, side: str) -> None:
    s = signal_shortfall(strategy_id="s", signal_id="x", symbol="A", side=side, decision_price=decision,
                         decided_at=T0, shadow=[fill(str(shadow), "10")], live=[fill(str(live), "10")])
    assert abs(s.shortfall_bps - (s.live.slippage_bps - s.shadow.slippage_bps)) <= D("0.01")
    assert abs(s.shortfall_usd - (s.live.slippage_usd - s.shadow.slippage_usd)) <= D("0.01")
    assert slippage_bps(side, decision, decision) == 0


def test_usd_of_several_fills_is_exact_and_latency_is_whole_milliseconds() -> None:
    # 10,000 at 100.00 and 20,000 at 100.01: the average 100.006666... is shown rounded, but
    # the USD is the exact sum: 20,000 x 0.01 = 200.00
    s = signal_shortfall(strategy_id="s", signal_id="x", symbol="A", side="BUY", decision_price=D("100.00"),
                         decided_at=T0, shadow=[fill("100.00", "30000")],
                         live=[fill("100.00", "10000", ms=1001), fill("100.01", "20000", ms=1500)])
    assert (s.live.slippage_usd, s.shortfall_usd, s.live.price) == (D("200.00"), D("200.00"), D("100.006667"))
    assert s.live.latency_ms == 1001


def test_the_summary_from_counters_is_the_summary_of_the_rows() -> None:
    rows = [signal_shortfall(strategy_id="s", signal_id=str(i), symbol="AAPL", side="BUY", decision_price=D("100"),
                             decided_at=T0, shadow=[fill("100.00", commission="0.25")] if live != "only" else [],
                             live=[fill("100.01" if live == "only" else live, commission="1.10")] if live else [])
            for i, live in enumerate(["100.01", "100.03", "100.02", "99.99", None, "only"])]
    total = ShortfallCounters()
    for r in rows:
        total.add(counters_of(r))
    # 5 signals with a shadow fill, 4 linked, 1 filled live only; shortfall 1, 3, 2, -1 bps
    assert (total.signals, total.linked, total.live_only, total.bps, total.usd) == (5, 4, 1, 500, 500)
    assert total.histogram == {100: 1, 300: 1, 200: 1, -100: 1}
    assert (total.shadow_fee, total.live_fee) == (125, 550)
    assert summary_of(total) == summarize(rows)
    assert ShortfallCounters.from_doc(total.to_doc()) == total
    total.add(counters_of(rows[1]), sign=-1)  # taken out again: the median moves to 1 bps
    assert summary_of(total).median_bps == D("1.00") and 300 not in total.histogram


def test_no_signals_is_all_zero() -> None:
    assert ShortfallCounters().is_zero() and summary_of(ShortfallCounters()) == summarize([])


legs = st.lists(st.tuples(st.decimals(min_value=D("99"), max_value=D("101"), places=3),
                          st.integers(min_value=1, max_value=500), st.decimals(min_value=0, max_value=5, places=2)),
                max_size=3)


@given(st.lists(st.tuples(legs, legs, st.sampled_from(["BUY", "SELL"])), max_size=25), st.data())
def test_counters_add_and_subtract_to_the_summary_of_any_set(signals: list, data: st.DataObject) -> None:
    rows = [signal_shortfall(strategy_id="s", signal_id=str(i), symbol="A", side=side, decision_price=D("100"),
                             decided_at=T0, shadow=[fill(str(p), str(q), commission=str(c)) for p, q, c in shadow],
                             live=[fill(str(p), str(q), commission=str(c)) for p, q, c in live])
            for i, (shadow, live, side) in enumerate(signals)]
    total = ShortfallCounters()
    for r in rows:
        total.add(counters_of(r))
    assert summary_of(total) == summarize(rows)
    removed = data.draw(st.sets(st.integers(min_value=0, max_value=max(len(rows) - 1, 0))))
    for i in removed:
        if i < len(rows):
            total.add(counters_of(rows[i]), sign=-1)
    kept = [r for i, r in enumerate(rows) if i not in removed]
    assert summary_of(total) == summarize(kept)
    assert total.is_zero() == (not kept or all(r.shadow is None and r.live is None for r in kept))
