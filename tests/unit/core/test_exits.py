"""The exit rule (core/exits.py): hand-checked tables and properties."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.strategy_service.core.exits import (
    STOP_LOSS,
    TAKE_PROFIT,
    TRAILING_STOP,
    Decision,
    Exit,
    ExitPlan,
    Thresholds,
    evaluate,
    is_candidate,
    scaled_ceil,
    scaled_floor,
    stop_on_right_side,
    target_on_right_side,
    thresholds,
    trailing_percent_valid,
    trailing_stop_price,
)

LONG_STOP_TARGET = ExitPlan(side="BUY", stop_loss=D("95.00"), take_profit=D("110.00"))
SHORT_STOP_TARGET = ExitPlan(side="SELL", stop_loss=D("105.00"), take_profit=D("90.00"))
LONG_TRAIL = ExitPlan(side="BUY", trailing_percent=D("2.5"), water_mark=D("100.00"))  # stop 97.5
SHORT_TRAIL = ExitPlan(side="SELL", trailing_percent=D("2.5"), water_mark=D("100.00"))  # stop 102.5


@pytest.mark.parametrize("plan,exit_price,expected", [
    # a long: the stop fills at the bid (the stop, or worse on a gap); the target at the target
    (LONG_STOP_TARGET, D("95.01"), Decision()),
    (LONG_STOP_TARGET, D("95.00"), Decision(exit=Exit(STOP_LOSS, D("95.00")))),
    (LONG_STOP_TARGET, D("94.10"), Decision(exit=Exit(STOP_LOSS, D("94.10")))),  # gapped through
    (LONG_STOP_TARGET, D("109.99"), Decision()),
    (LONG_STOP_TARGET, D("110.00"), Decision(exit=Exit(TAKE_PROFIT, D("110.00")))),
    (LONG_STOP_TARGET, D("112.40"), Decision(exit=Exit(TAKE_PROFIT, D("110.00")))),  # crossed: the target
    # a short: the mirror image, at the ask
    (SHORT_STOP_TARGET, D("104.99"), Decision()),
    (SHORT_STOP_TARGET, D("105.00"), Decision(exit=Exit(STOP_LOSS, D("105.00")))),
    (SHORT_STOP_TARGET, D("107.50"), Decision(exit=Exit(STOP_LOSS, D("107.50")))),
    (SHORT_STOP_TARGET, D("90.01"), Decision()),
    (SHORT_STOP_TARGET, D("90.00"), Decision(exit=Exit(TAKE_PROFIT, D("90.00")))),
    (SHORT_STOP_TARGET, D("85.00"), Decision(exit=Exit(TAKE_PROFIT, D("90.00")))),
    # trailing: the water mark moves on a better price, the stop fires at or beyond mark x (1 -+ p)
    (LONG_TRAIL, D("100.00"), Decision()),
    (LONG_TRAIL, D("101.00"), Decision(water_mark=D("101.00"))),
    (LONG_TRAIL, D("97.51"), Decision()),
    (LONG_TRAIL, D("97.50"), Decision(exit=Exit(TRAILING_STOP, D("97.50")))),
    (LONG_TRAIL, D("96.00"), Decision(exit=Exit(TRAILING_STOP, D("96.00")))),
    (SHORT_TRAIL, D("99.00"), Decision(water_mark=D("99.00"))),
    (SHORT_TRAIL, D("102.49"), Decision()),
    (SHORT_TRAIL, D("102.50"), Decision(exit=Exit(TRAILING_STOP, D("102.50")))),
    # fixed and trailing: the tighter one is in force (the fixed one on a tie)
    (ExitPlan(side="BUY", stop_loss=D("96"), trailing_percent=D("2.5"), water_mark=D("100")), D("97.00"),
     Decision(exit=Exit(TRAILING_STOP, D("97.00")))),
    (ExitPlan(side="BUY", stop_loss=D("96"), trailing_percent=D("2.5"), water_mark=D("98")), D("96.01"), Decision()),
    (ExitPlan(side="BUY", stop_loss=D("96"), trailing_percent=D("2.5"), water_mark=D("98")), D("96.00"),
     Decision(exit=Exit(STOP_LOSS, D("96.00")))),
    (ExitPlan(side="BUY", stop_loss=D("97.5"), trailing_percent=D("2.5"), water_mark=D("100")), D("97.5"),
     Decision(exit=Exit(STOP_LOSS, D("97.5")))),
    # a target moved inside a risen trailing stop: the stop first, at the quote
    (ExitPlan(side="BUY", take_profit=D("101"), trailing_percent=D("1"), water_mark=D("120")), D("110"),
     Decision(exit=Exit(TRAILING_STOP, D("110")))),
    (ExitPlan(side="BUY"), D("1"), Decision()),
])
def test_the_rule_table(plan, exit_price, expected):
    assert evaluate(plan, exit_price) == expected


@pytest.mark.parametrize("side,mark,percent,stop", [
    ("BUY", D("100"), D("2.5"), D("97.500000")),
    ("SELL", D("100"), D("2.5"), D("102.500000")),
    ("BUY", D("187.33"), D("3"), D("181.710100")),
    ("BUY", D("1.000005"), D("50"), D("0.500003")),  # 0.5000025: half up
    ("SELL", D("1.000005"), D("50"), D("1.500008")),  # 1.5000075: half up
    ("BUY", D("1.234567"), D("1"), D("1.222221")),  # 1.22222133
    ("SELL", D("0.000001"), D("10"), D("0.00000110000")),  # below 0.1 USD: 6 significant digits
    ("BUY", D("0.00001234"), D("1"), D("0.0000122166")),  # 0.0000122166
])
def test_trailing_stop_price_is_quantized_half_up_to_a_millionth(side, mark, percent, stop):
    assert trailing_stop_price(side, mark, percent) == stop
    assert str(trailing_stop_price(side, mark, percent)) == str(stop)


@pytest.mark.parametrize("percent,ok", [(D("0"), False), (D("-1"), False), (D("0.0001"), True), (D("99.9999"), True),
                                        (D("100"), False), (D("150"), False), (D("NaN"), False), (D("Infinity"), False)])
def test_trailing_percent_range(percent, ok):
    assert trailing_percent_valid(percent) is ok
    if not ok:
        with pytest.raises(ValueError):
            trailing_stop_price("BUY", D("100"), percent)


def test_sides_against_the_entry():
    assert stop_on_right_side("BUY", D("100"), D("99.99")) and not stop_on_right_side("BUY", D("100"), D("100"))
    assert stop_on_right_side("SELL", D("100"), D("100.01")) and not stop_on_right_side("SELL", D("100"), D("99"))
    assert target_on_right_side("BUY", D("100"), D("100.01")) and not target_on_right_side("BUY", D("100"), D("100"))
    assert target_on_right_side("SELL", D("100"), D("99.99")) and not target_on_right_side("SELL", D("100"), D("101"))


@pytest.mark.parametrize("plan,expected", [
    (LONG_STOP_TARGET, Thresholds(lo=95_000_000, hi=110_000_000)),
    (SHORT_STOP_TARGET, Thresholds(lo=90_000_000, hi=105_000_000)),
    (LONG_TRAIL, Thresholds(lo=97_500_000, hi=100_000_001)),  # hi: the water mark, exclusive
    (SHORT_TRAIL, Thresholds(lo=99_999_999, hi=102_500_000)),
    (ExitPlan(side="BUY", take_profit=D("110"), trailing_percent=D("2.5"), water_mark=D("100")),
     Thresholds(lo=97_500_000, hi=100_000_001)),
    # sub-micro prices round outward: a lower bound up, an upper bound down
    (ExitPlan(side="BUY", stop_loss=D("95.0000001"), take_profit=D("110.0000009")), Thresholds(lo=95_000_001, hi=110_000_000)),
    (ExitPlan(side="SELL", stop_loss=D("105.0000009"), take_profit=D("90.0000001")), Thresholds(lo=90_000_001, hi=105_000_000)),
    (ExitPlan(side="BUY", stop_loss=D("1000000000000")), Thresholds(lo=10**18, hi=None)),  # fits an int64
    (ExitPlan(side="SELL"), Thresholds(lo=None, hi=None)),
])
def test_threshold_encoding(plan, expected):
    assert thresholds(plan) == expected


def test_scaled_prices():
    assert (scaled_floor(D("187.25")), scaled_ceil(D("187.25"))) == (187_250_000, 187_250_000)
    assert (scaled_floor(D("0.0000015")), scaled_ceil(D("0.0000015"))) == (1, 2)


prices = st.decimals(min_value=D("0.000001"), max_value=D("100000"), places=7, allow_nan=False, allow_infinity=False)
percents = st.decimals(min_value=D("0.01"), max_value=D("99.99"), places=2)


@st.composite
def plans(draw):
    side = draw(st.sampled_from(["BUY", "SELL"]))
    entry = draw(prices)
    stop = draw(st.none() | prices.filter(lambda p: stop_on_right_side(side, entry, p)))
    target = draw(st.none() | prices.filter(lambda p: target_on_right_side(side, entry, p)))
    percent = draw(st.none() | percents)
    mark = draw(prices) if percent is not None else None
    return entry, ExitPlan(side=side, stop_loss=stop, take_profit=target, trailing_percent=percent, water_mark=mark)


@given(plans(), prices)
def test_the_query_never_misses_a_trade_the_rule_acts_on(entry_plan, exit_price):
    _, plan = entry_plan
    decision = evaluate(plan, exit_price)
    if decision.exit is not None or decision.water_mark is not None:
        assert is_candidate(thresholds(plan), exit_price)


@given(plans(), prices)
def test_exits_never_fire_on_the_favourable_side(entry_plan, exit_price):
    _, plan = entry_plan
    decision = evaluate(plan, exit_price)
    if decision.exit is None:
        return
    long = plan.side == "BUY"
    if decision.exit.reason == TAKE_PROFIT:
        # the target fills at the target, and only once the quote is at or beyond it
        assert decision.exit.price == plan.take_profit
        assert exit_price >= plan.take_profit if long else exit_price <= plan.take_profit
    else:
        stop = plan.stop_loss if decision.exit.reason == STOP_LOSS else trailing_stop_price(
            plan.side, plan.water_mark, plan.trailing_percent)
        # a stop fills at the quote: at the stop or worse, never better
        assert decision.exit.price == exit_price
        assert exit_price <= stop if long else exit_price >= stop
    if decision.exit.reason == STOP_LOSS:
        entry, _ = entry_plan
        assert decision.exit.price < entry if long else decision.exit.price > entry  # a fixed stop only loses


@given(plans(), prices)
def test_a_water_mark_only_improves(entry_plan, exit_price):
    _, plan = entry_plan
    moved = evaluate(plan, exit_price).water_mark
    if moved is not None:
        assert moved > plan.water_mark if plan.side == "BUY" else moved < plan.water_mark
