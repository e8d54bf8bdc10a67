"""Commissions and slippage (core/costs.py) and net P&L (core/pnl.py): hand-checkable tables
with exact Decimal equality, and the invariant gross - commission = net."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.strategy_service.core.aggregates import ClosedTrade, aggregate
from backend.strategy_service.core.costs import CostModel, InvalidCostModel, fill_with_costs
from backend.strategy_service.core.pnl import OpenPosition, exit_side, net_pnl, unrealized_pnl


@pytest.mark.parametrize(("model", "quantity", "price", "commission"), [
    # fixed per order
    (CostModel(commission_per_order=D("1")), "100", "50", "1.00"),
    # per unit with a minimum and a maximum (a tiered stock broker): 0.005 USD a share
    (CostModel(commission_per_unit=D("0.005"), commission_min=D("1"), commission_max=D("100")), "100", "50", "1.00"),
    (CostModel(commission_per_unit=D("0.005"), commission_min=D("1"), commission_max=D("100")), "1000", "50", "5.00"),
    (CostModel(commission_per_unit=D("0.005"), commission_min=D("1"), commission_max=D("100")), "100000", "50",
     "100.00"),
    # percent of the notional (a crypto exchange): 0.1 % of 60,001 USD
    (CostModel(commission_percent=D("0.1")), "2", "30000.50", "60.00"),
    (CostModel(commission_percent=D("0.1")), "1", "12.345", "0.01"),   # 0.012345 -> 0.01
    (CostModel(commission_percent=D("0.1")), "1", "15", "0.02"),       # 0.015 -> 0.02, half up
    # fixed + percent: 0.50 + 0.25 % of 1,000
    (CostModel(commission_per_order=D("0.50"), commission_percent=D("0.25")), "10", "100", "3.00"),
    # a maximum alone caps the percent
    (CostModel(commission_percent=D("1"), commission_max=D("5")), "10", "100", "5.00"),
    # no model, no commission
    (CostModel(), "10", "100", "0.00"),
])
def test_commission_table(model: CostModel, quantity: str, price: str, commission: str) -> None:
    assert model.commission(quantity=D(quantity), price=D(price)) == D(commission)


@pytest.mark.parametrize(("bps", "side", "base", "price"), [
    ("5", "BUY", "100.00", "100.05"),
    ("5", "SELL", "100.00", "99.95"),
    ("3", "BUY", "123.45", "123.487035"),
    ("3", "SELL", "123.45", "123.412965"),
    # rounded to 0.000001 against the trader: up for a BUY, down for a SELL
    ("1", "BUY", "1.234567", "1.234691"),    # 1.2346904567
    ("1", "SELL", "1.234567", "1.234443"),   # 1.2344435433
    ("0", "BUY", "100.00", "100.00"),
    # below 0.1 USD a slipped price keeps 6 significant digits (a sub-cent coin)
    ("1", "BUY", "0.00001234", "0.0000123413"),   # 0.000012341234, up
    ("1", "SELL", "0.00001234", "0.0000123387"),  # 0.000012338766, down
    ("50", "SELL", "0.000001", "0.000000995"),     # never 0
])
def test_slippage_is_against_the_trader(bps: str, side: str, base: str, price: str) -> None:
    assert CostModel(slippage_bps=D(bps)).fill_price(side, D(base)) == D(price)


def test_a_round_trip_long_then_short_to_the_cent() -> None:
    model = CostModel(commission_per_order=D("1"), slippage_bps=D("5"))
    # long 10: buys at 100.00 + 5 bps = 100.05, sells at 110.00 - 5 bps = 109.945
    entry = fill_with_costs(model, "BUY", base_price=D("100.00"), quantity=D("10"))
    exit_ = fill_with_costs(model, exit_side("BUY"), base_price=D("110.00"), quantity=D("10"))
    assert (entry.price, entry.commission, entry.slippage) == (D("100.05"), D("1.00"), D("0.50"))
    assert (exit_.price, exit_.commission, exit_.slippage) == (D("109.945"), D("1.00"), D("0.55"))
    result = net_pnl(entry_price=entry.price, exit_price=exit_.price, quantity=D("10"), side="BUY",
                     commission=entry.commission + exit_.commission)
    # gross (109.945 - 100.05) x 10 = 98.95; net 98.95 - 2.00; 96.95 / 1,000.50 = 9.69 %
    assert (result.gross, result.commission, result.net, result.net_percent) == (
        D("98.95"), D("2.00"), D("96.95"), D("9.69"))
    # short 10: sells at 99.95, buys back at 90.00 + 5 bps = 90.045
    entry = fill_with_costs(model, "SELL", base_price=D("100.00"), quantity=D("10"))
    exit_ = fill_with_costs(model, exit_side("SELL"), base_price=D("90.00"), quantity=D("10"))
    assert (entry.price, exit_.price, exit_.slippage) == (D("99.95"), D("90.045"), D("0.45"))
    result = net_pnl(entry_price=entry.price, exit_price=exit_.price, quantity=D("10"), side="SELL",
                     commission=entry.commission + exit_.commission)
    assert (result.gross, result.net, result.net_percent) == (D("99.05"), D("97.05"), D("9.71"))


def test_slippage_on_a_sub_cent_price_is_its_bps() -> None:
    fill = fill_with_costs(CostModel(slippage_bps=D("1")), "BUY", base_price=D("0.00001234"),
                           quantity=D("100000000"))
    assert (fill.price, fill.slippage) == (D("0.0000123413"), D("0.13"))  # 1 bps of 1,234 USD, against the trader


def test_a_fill_may_carry_its_own_commission() -> None:
    fill = fill_with_costs(CostModel(commission_per_order=D("9")), "BUY", base_price=D("10"), quantity=D("3"),
                           commission=D("1.234"))
    assert fill.commission == D("1.23")


def test_an_open_position_marks_what_closing_now_would_realize() -> None:
    model = CostModel(commission_per_order=D("1"), slippage_bps=D("5"))
    position = OpenPosition("AAPL", "BUY", D("100.05"), D("10"), D("0"), model, D("1.00"))
    # the bid 110.00 sells at 109.945: gross 98.95, minus 1.00 entry and 1.00 estimated exit commission
    assert unrealized_pnl(position, {"bid": "110.00", "ask": "110.10"}) == D("96.95")
    price, result = position.mark(D("110.00"))
    assert (price, result.net) == (D("109.945"), D("96.95"))


@pytest.mark.parametrize("fields", [
    {"commission_per_order": D("-1")},
    {"commission_percent": D("100")},
    {"slippage_bps": D("10000")},
    {"commission_min": D("5"), "commission_max": D("1")},
])
def test_a_model_out_of_range_is_refused(fields: dict[str, D]) -> None:
    with pytest.raises(InvalidCostModel):
        CostModel(**fields)


def test_the_stored_model_round_trips() -> None:
    model = CostModel(commission_per_unit=D("0.005"), commission_min=D("1"), slippage_bps=D("2.5"))
    assert CostModel.from_doc(model.to_doc()) == model
    assert CostModel.from_doc(None) == CostModel() and CostModel().is_zero


amounts = st.decimals(min_value=D("0"), max_value=D("50"), places=3)
prices = st.decimals(min_value=D("0.01"), max_value=D("100000"), places=4)
quantities = st.decimals(min_value=D("0.000001"), max_value=D("10000"), places=6)


@given(per_order=amounts, per_unit=amounts, percent=st.decimals(min_value=D("0"), max_value=D("5"), places=3),
       bps=st.decimals(min_value=D("0"), max_value=D("100"), places=2), entry=prices, exit_=prices,
       quantity=quantities, side=st.sampled_from(["BUY", "SELL"]))
def test_gross_minus_commission_is_net_for_every_trade(per_order: D, per_unit: D, percent: D, bps: D, entry: D,
                                                        exit_: D, quantity: D, side: str) -> None:
    model = CostModel(commission_per_order=per_order, commission_per_unit=per_unit, commission_percent=percent,
                      slippage_bps=bps)
    fill_in = fill_with_costs(model, side, base_price=entry, quantity=quantity)
    fill_out = fill_with_costs(model, exit_side(side), base_price=exit_, quantity=quantity)
    result = net_pnl(entry_price=fill_in.price, exit_price=fill_out.price, quantity=quantity, side=side,
                     commission=fill_in.commission + fill_out.commission)
    assert result.gross - result.commission == result.net
    # slippage only ever costs the trader: the fill is never better than its base price
    assert (fill_in.price >= entry) if side == "BUY" else (fill_in.price <= entry)
    assert (fill_out.price <= exit_) if side == "BUY" else (fill_out.price >= exit_)
    assert fill_in.slippage >= 0 and fill_out.slippage >= 0


@given(st.lists(st.tuples(st.integers(-10**7, 10**7), st.integers(0, 10**5), st.integers(0, 10**4)),
                min_size=1, max_size=30))
def test_gross_minus_commission_is_net_for_every_aggregate(rows: list[tuple[int, int, int]]) -> None:
    tz = ZoneInfo("America/New_York")
    trades = [ClosedTrade(D(net) / 100, datetime(2024, 1, 2 + i % 3, 15, i, tzinfo=timezone.utc),
                          symbol="AAPL" if i % 2 else "MSFT", trade_id=f"t{i}", commission=D(cm) / 100,
                          slippage=D(sl) / 100) for i, (net, cm, sl) in enumerate(rows)]
    cells = aggregate(t.facts(tz) for t in trades)
    total_net = sum(c.pnl for c in cells.values())
    total_cm = sum(c.cm for c in cells.values())
    assert total_net + total_cm == sum(net + cm for net, cm, _ in rows)  # gross, in cents
    assert sum(c.sl for c in cells.values()) == sum(sl for _, _, sl in rows)
