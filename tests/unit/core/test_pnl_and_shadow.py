"""The pure shadow-trade math (shadow-mode trade metrics specification) on hand-checkable
tables and hypothesis invariants."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.strategy_service.core.aggregates import ClosedTrade
from backend.strategy_service.core.money import quantize_usd, to_decimal, to_plain_str
from backend.strategy_service.core.pnl import OpenPosition, compute_trade_pnl, entry_fill_price, exit_fill_price
from backend.strategy_service.core.shadow import compute_max_drawdown_from_realized_pnls, compute_shadow_metrics

D = Decimal

# entry, current, quantity, side -> pnl_usd, pnl_percent. Each row checks by hand:
# pnl = (current - entry) x qty x (+1 BUY / -1 SELL); percent = pnl / |entry x qty| x 100.
PNL_TABLE = [
    ("100", "110", "10", "BUY", "100.00", "10.00"),
    ("100", "110", "10", "SELL", "-100.00", "-10.00"),
    ("100", "90", "10", "SELL", "100.00", "10.00"),
    ("100", "90", "10", "BUY", "-100.00", "-10.00"),
    ("187.25", "190.10", "10", "BUY", "28.50", "1.52"),  # 28.50 / 1872.50 = 1.5220 %
    ("10", "10.001", "5", "BUY", "0.01", "0.01"),  # 0.005 rounds half up to 0.01; 0.01 %
    ("10", "9.999", "5", "BUY", "-0.01", "-0.01"),  # -0.005: half up is away from zero
    ("10", "10.0009", "5", "BUY", "0.00", "0.01"),  # 0.0045 -> 0.00; 0.009 % -> 0.01
    ("0", "5", "10", "BUY", "50.00", "0.00"),  # cost basis 0: percent is 0
    ("100", "100", "10", "SELL", "0.00", "0.00"),
    ("50000", "51234.56", "0.123456", "BUY", "152.41", "2.47"),  # 1234.56 x 0.123456 = 152.41383936
    ("100", "110", "10", "buy", "100.00", "10.00"),  # letter case of side ignored
]


@pytest.mark.parametrize("entry,current,qty,side,pnl,pct", PNL_TABLE)
def test_compute_trade_pnl_table(entry, current, qty, side, pnl, pct):
    got = compute_trade_pnl(entry_price=entry, current_price=current, quantity=qty, side=side)
    assert got == (D(pnl), D(pct))
    assert (to_plain_str(got[0]), to_plain_str(got[1])) == (pnl, pct)  # the persisted strings


def test_compute_trade_pnl_accepts_int_and_decimal():
    assert compute_trade_pnl(entry_price=100, current_price=D("101.5"), quantity=2, side="BUY") == (
        D("3.00"),
        D("1.50"),
    )


@pytest.mark.parametrize("bad", [100.0, True, "abc", "NaN", "Infinity"])
def test_compute_trade_pnl_refuses_floats_and_non_numbers(bad):
    with pytest.raises((TypeError, ValueError)):
        compute_trade_pnl(entry_price=bad, current_price="1", quantity="1", side="BUY")


def test_compute_trade_pnl_refuses_unknown_side():
    with pytest.raises(ValueError):
        compute_trade_pnl(entry_price="1", current_price="1", quantity="1", side="HOLD")


def test_fill_prices_take_the_right_side_of_the_quote():
    quote = {"bid": D("99.90"), "ask": D("100.10"), "price": D("100")}
    assert entry_fill_price("BUY", **quote) == D("100.10")  # a buyer lifts the ask
    assert entry_fill_price("SELL", **quote) == D("99.90")  # a seller hits the bid
    assert exit_fill_price("BUY", **quote) == D("99.90")  # a long exits at the bid
    assert exit_fill_price("SELL", **quote) == D("100.10")  # a short exits at the ask
    assert entry_fill_price("BUY", bid=None, ask="100.10", price="100") == D("100")  # one side only
    assert exit_fill_price("SELL", bid=None, ask=None, price=None) is None


T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


# realized P&Ls in close order -> (max_drawdown_usd, max_drawdown_percent)
DRAWDOWN_TABLE = [
    ([], ("0.00", "0.00")),
    (["100"], ("0.00", "0.00")),
    (["-50"], ("-50.00", "0.00")),  # the peak is the starting 0: no percent of a gain to lose
    (["100", "-50"], ("-50.00", "-50.00")),
    # curve 100, 50, 1050, 950: worst USD -100 (from 1050), worst percent -50 % (from 100)
    (["100", "-50", "1000", "-100"], ("-100.00", "-50.00")),
    (["100", "-30", "-30", "50", "-200"], ("-210.00", "-210.00")),  # curve 100,70,40,90,-110: 100 -> -110
    (["0.01", "-0.02"], ("-0.02", "-200.00")),
]


@pytest.mark.parametrize("pnls,expected", DRAWDOWN_TABLE)
def test_max_drawdown_table(pnls, expected):
    series = [(_at(i), p) for i, p in enumerate(pnls)]
    assert compute_max_drawdown_from_realized_pnls(series) == (D(expected[0]), D(expected[1]))


def test_max_drawdown_orders_by_close_time_not_input_order():
    # closes in time order: +100 (t1), +20 (t2), -50 (t3): curve 100, 120, 70
    series = [(_at(3), "-50"), (_at(1), "100"), (_at(2), "20")]
    assert compute_max_drawdown_from_realized_pnls(series) == (D("-50.00"), D("-41.67"))


def _closed(pnl: str, minute: int) -> ClosedTrade:
    return ClosedTrade(D(pnl), _at(minute), symbol="X")


def test_compute_shadow_metrics_by_hand():
    closed = [_closed("100.00", 1), _closed("-40.00", 2), _closed("0.00", 3)]
    open_trades = [
        # long 10 @ 100, marked at the bid 105: +50.00
        OpenPosition("AAPL", "BUY", D("100"), D("10"), D("1.00")),
        # short 5 @ 200, marked at the ask 191: (191 - 200) x 5 x -1 = +45.00
        OpenPosition("TSLA", "SELL", D("200"), D("5"), D("0.00")),
        # no quote for MSFT: the stored current_pnl is used
        OpenPosition("MSFT", "BUY", D("300"), D("1"), D("-12.34")),
    ]
    quotes = {"AAPL": {"bid": "105", "ask": "106"}, "TSLA": {"bid": "190", "ask": "191"}}
    m = compute_shadow_metrics(open_trades=open_trades, closed_trades=closed, live_prices_by_symbol=quotes)
    assert m.realized_pnl == D("60.00")
    assert m.unrealized_pnl == D("82.66")
    assert m.net_pnl == D("142.66")
    assert m.win_rate == D("33.33")  # 1 win of 3 closed; the break-even trade is not a win
    assert (m.closed_trades, m.open_trades, m.wins) == (3, 3, 1)
    assert (m.max_drawdown_usd, m.max_drawdown_percent) == (D("-40.00"), D("-40.00"))
    assert m.as_json()["net_pnl"] == "142.66" and m.as_json()["closed_trades"] == 3


def test_compute_shadow_metrics_empty():
    m = compute_shadow_metrics(open_trades=[], closed_trades=[])
    assert {k: v for k, v in m.as_json().items() if k != "conventions"} == {
        "realized_pnl": "0.00", "unrealized_pnl": "0.00", "net_pnl": "0.00", "win_rate": "0.00",
        "closed_trades": 0, "open_trades": 0, "wins": 0,
        "max_drawdown_usd": "0.00", "max_drawdown_percent": "0.00",
        "gross_pnl": "0.00", "total_commission": "0.00", "total_slippage": "0.00",
    }


prices = st.decimals(min_value=D("0.0001"), max_value=D("100000"), places=4)
quantities = st.decimals(min_value=D("0.000001"), max_value=D("100000"), places=6)
cents = st.decimals(min_value=D("-100000"), max_value=D("100000"), places=2)


@given(entry=prices, current=prices, qty=quantities)
def test_long_and_short_are_mirror_images(entry, current, qty):
    long = compute_trade_pnl(entry_price=entry, current_price=current, quantity=qty, side="BUY")
    short = compute_trade_pnl(entry_price=entry, current_price=current, quantity=qty, side="SELL")
    assert short == (-long[0], -long[1])  # ROUND_HALF_UP is symmetric around zero


@given(entry=prices, current=prices, qty=quantities)
def test_persisted_strings_round_trip_exactly(entry, current, qty):
    pnl, pct = compute_trade_pnl(entry_price=entry, current_price=current, quantity=qty, side="BUY")
    assert to_decimal(to_plain_str(pnl)) == pnl and pnl == quantize_usd(pnl)
    assert to_decimal(to_plain_str(pct)) == pct


@given(pnls=st.lists(cents, max_size=40))
def test_realized_sum_and_drawdown_invariants(pnls):
    closed = [_closed(to_plain_str(p), i) for i, p in enumerate(pnls)]
    m = compute_shadow_metrics(open_trades=[], closed_trades=closed)
    assert m.realized_pnl == sum(pnls, D(0))  # the per-trade sum equals the total, exactly
    assert m.max_drawdown_usd <= 0 and m.max_drawdown_percent <= 0
    assert m.max_drawdown_usd >= sum((p for p in pnls if p < 0), D(0))  # never deeper than all losses
    assert 0 <= m.win_rate <= 100
