"""The dashboard metrics specification's formulas and worked examples as exact Decimal
tables, run against the functions that serve requests, plus invariants."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from backend.strategy_service.core.aggregates import ClosedTrade
from backend.strategy_service.core.dashboard import Basis, compute_dashboard, q2
from backend.strategy_service.core.formulas import (
    average,
    cagr,
    calmar_ratio,
    drawdown_percent,
    profit_factor,
    sharpe_ratio,
    sortino_ratio,
    sqn,
    total_return,
    win_rate,
)

D = Decimal
NY = ZoneInfo("America/New_York")


def ds(*values: str) -> list[Decimal]:
    return [D(v) for v in values]


def at(day: int, hour: int = 15) -> datetime:
    """2024-01-<day> <hour>:00 New York time (UTC-5 in January)."""
    return datetime(2024, 1, day, hour, tzinfo=NY).astimezone(timezone.utc)


# The document's "Complete Example": 5 trades over 3 trading days.
COMPLETE = [
    ClosedTrade(D("300"), at(1), symbol="AAPL", strategy_id="s1"),
    ClosedTrade(D("-150"), at(1), symbol="GOOGL", strategy_id="s1"),
    ClosedTrade(D("200"), at(2), symbol="MSFT", strategy_id="s2"),
    ClosedTrade(D("-100"), at(3), symbol="TSLA", strategy_id="s2"),
    ClosedTrade(D("400"), at(3), symbol="AAPL", strategy_id="s1"),
]


def test_the_documents_complete_example():
    m = compute_dashboard(COMPLETE, starting_capital=D("100000"), tz=NY)
    assert m.total_trades == 5
    assert m.win_rate_trades == D("60.00")  # 3 / 5
    assert m.win_rate_days == D("100.00")  # 3 of 3 days profitable: +150, +200, +300
    assert m.profit_factor == D("3.60")  # 900 / 250
    assert m.avg_win == D("300.00")  # 900 / 3
    assert m.avg_loss == D("125.00")  # 250 / 2
    assert m.total_pnl == D("650.00")
    assert m.trading_days == 3 and (m.start_date, m.end_date) == ("2024-01-01", "2024-01-03")
    assert [(d.date, d.pnl, d.trades) for d in m.daily_pnl] == [
        ("2024-01-01", D("150.00"), 2), ("2024-01-02", D("200.00"), 1), ("2024-01-03", D("300.00"), 2)]
    assert [e.equity for e in m.equity_curve] == [D("100150.00"), D("100350.00"), D("100650.00")]
    assert m.total_return == D("0.65")  # 650 / 100000
    assert m.daily_pnl[0].return_percent == D("0.15")  # 150 / 100000
    assert m.max_drawdown == D("0.00")
    assert (m.largest_win, m.largest_loss, m.expectancy) == (D("400.00"), D("-150.00"), D("130.00"))
    assert m.payoff_ratio == D("2.40")  # 300 / 125
    assert (m.max_consecutive_wins, m.max_consecutive_losses) == (1, 1)
    assert [(r.value, r.trades, r.total_pnl) for r in m.by_symbol] == [
        ("AAPL", 2, D("700.00")), ("GOOGL", 1, D("-150.00")), ("MSFT", 1, D("200.00")), ("TSLA", 1, D("-100.00"))]
    assert [(r.value, r.total_pnl) for r in m.by_strategy] == [("s1", D("550.00")), ("s2", D("100.00"))]
    assert m.conventions["time_zone"] == "America/New_York"


# The document's worked examples, one row each.
def test_win_rate_trades_example():  # 55 winning of 100
    assert win_rate(55, 100) == D(55)


def test_win_rate_days_example():  # 18 profitable of 30 days
    assert win_rate(18, 30) == D(60)
    assert win_rate(0, 0) == 0  # no trades, no days


def test_profit_factor_example_and_special_cases():
    assert q2(profit_factor(D(500 + 300 + 200), D(200 + 150 + 100))[0]) == D("2.22")  # 1000 / 450
    empty = compute_dashboard([], starting_capital=D("100000"), tz=NY)
    assert (empty.profit_factor, empty.profit_factor_infinite) == (None, False)  # no trades: null
    assert profit_factor(D(5 + 1), D(0)) == (None, True)  # no losses: null, infinite
    assert profit_factor(D(0), D(5 + 1)) == (D(0), False)  # no wins: 0
    assert profit_factor(D(0), D(0)) == (None, False)  # only break-even


def test_average_win_and_loss_examples():
    assert q2(average(D(500 + 300 + 200), 3)) == D("333.33")
    assert q2(average(D(200 + 150 + 100), 3)) == D("150.00")
    assert average(D(0), 0) == 0


def test_total_return_example():
    assert total_return(D("100000"), D("125000")) == D(25)


def test_cagr_example_and_edges():
    assert q2(cagr(D("100000"), D("150000"), D("730.5"))) == D("22.47")  # 2 years of 365.25 days
    assert cagr(D("100000"), D("150000"), 0) == 0
    assert cagr(D("0"), D("150000"), 10) == 0
    assert cagr(D("100000"), D("0"), 10) == D(-100)


def test_max_drawdown_example():
    assert q2(drawdown_percent(D("120000"), D("95000"))) == D("20.83")  # 25000 / 120000
    assert drawdown_percent(D("0"), D("-5")) == 0  # no positive peak: no percent
    m = compute_dashboard([ClosedTrade(D("20000"), at(1)), ClosedTrade(D("-25000"), at(2))],
                          starting_capital=D("100000"), tz=NY)
    assert m.max_drawdown == D("20.83")  # peak 120,000, trough 95,000, on the served path


def test_sharpe_by_hand():
    # returns 0.02, 0.00: mean 0.01, population std 0.01 -> 1 x sqrt(252) = 15.874...
    assert q2(sharpe_ratio(ds("0.02", "0.00"))) == D("15.87")
    assert sharpe_ratio(ds("0.01")) is None  # fewer than 2 returns
    assert sharpe_ratio(ds("0.01", "0.01")) is None  # zero deviation


def test_sortino_calmar_sqn_by_hand():
    # returns 0.03, -0.01: mean 0.01, downside sqrt((0 + 0.0001) / 2) = 0.0070711 -> 1.41421 x 15.8745 = 22.45
    assert q2(sortino_ratio(ds("0.03", "-0.01"))) == D("22.45")
    assert sortino_ratio(ds("0.01", "0.02")) is None  # no downside
    assert calmar_ratio(D("30"), D("15")) == D(2)
    assert calmar_ratio(D("30"), D("0")) is None
    # R = 2, -1, 2: n 3, sum 3, squares 9: mean 1, sample std sqrt(3); sqrt(3) x 1 / sqrt(3) = 1
    assert q2(sqn(3, D(3), D(9))) == D("1.00")


def test_r_multiples_example_and_daily_r():
    trade = ClosedTrade(D("400"), at(1), risk=D("200"))
    assert trade.r_multiple == D(2)  # the document's +2R
    m = compute_dashboard(
        [trade, ClosedTrade(D("-100"), at(1), risk=D("100")), ClosedTrade(D("50"), at(2))],
        starting_capital=D("100000"), tz=NY,
    )
    assert m.daily_pnl[0].r_return == D("1.00")  # 2R - 1R
    assert m.daily_pnl[1].r_return is None  # no trade with a risk that day
    assert (m.r_trades, m.trades_without_risk) == (2, 1)
    assert m.avg_risk_per_trade == D("150.00")
    assert m.daily_pnl[0].r_units == D("2.00")  # 300 / 150
    assert m.expectancy_r == D("0.50")


def test_a_day_is_the_close_date_in_the_trading_time_zone():
    late = datetime(2024, 1, 2, 3, 0, tzinfo=timezone.utc)  # 22:00 on Jan 1 in New York
    m = compute_dashboard([ClosedTrade(D("10"), late)], starting_capital=D("1000"), tz=NY)
    assert m.daily_pnl[0].date == "2024-01-01"
    m = compute_dashboard([ClosedTrade(D("10"), late)], starting_capital=D("1000"), tz=ZoneInfo("UTC"))
    assert m.daily_pnl[0].date == "2024-01-02"


def test_equity_curve_drawdown_per_day():
    trades = [ClosedTrade(D("20000"), at(1)), ClosedTrade(D("-25000"), at(2)), ClosedTrade(D("1000"), at(3))]
    m = compute_dashboard(trades, starting_capital=D("100000"), tz=NY)
    assert [(e.equity, e.drawdown) for e in m.equity_curve] == [
        (D("120000.00"), D("0.00")), (D("95000.00"), D("20.83")), (D("96000.00"), D("20.00"))]
    assert m.max_drawdown == D("20.83")


def test_streaks_and_break_even():
    pnls = ds("1", "2", "0", "3", "-1", "-2", "-3", "4")
    streaks = compute_dashboard([ClosedTrade(p, at(1) + timedelta(minutes=i)) for i, p in enumerate(pnls)],
                                starting_capital=D("100"), tz=NY)
    assert (streaks.max_consecutive_wins, streaks.max_consecutive_losses) == (2, 3)
    m = compute_dashboard([ClosedTrade(D("0"), at(1)), ClosedTrade(D("5"), at(1))], starting_capital=D("100"), tz=NY)
    assert (m.total_trades, m.winning_trades, m.losing_trades, m.break_even_trades) == (2, 1, 0, 1)
    assert m.win_rate_trades == D("50.00") and m.profit_factor is None and m.profit_factor_infinite


def test_empty_dashboard():
    m = compute_dashboard([], starting_capital=D("100000"), tz=NY)
    assert (m.total_trades, m.total_pnl, m.profit_factor, m.sharpe_ratio, m.daily_pnl) == (0, D("0.00"), None, None, [])


pnl_st = st.decimals(min_value=D("-5000"), max_value=D("5000"), places=2)
trade_st = st.builds(
    lambda pnl, minutes: ClosedTrade(pnl, datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=minutes)),
    pnl_st, st.integers(min_value=0, max_value=60 * 24 * 60),
)


@given(st.lists(trade_st, max_size=60))
def test_invariants(trades):
    m = compute_dashboard(trades, starting_capital=D("100000"), tz=NY)
    assert sum((d.pnl for d in m.daily_pnl), D(0)) == m.total_pnl  # days add up to the total
    assert sum(d.trades for d in m.daily_pnl) == m.total_trades == len(trades)
    assert m.winning_trades + m.losing_trades + m.break_even_trades == m.total_trades
    assert m.max_drawdown >= 0 and all(e.drawdown >= 0 for e in m.equity_curve)
    assert sum((r.total_pnl for r in m.by_symbol), D(0)) == m.total_pnl
    assert 0 <= m.win_rate_trades <= 100 and 0 <= m.win_rate_days <= 100


# -------- conventions a professional signs: sessions, continuous equity, CAGR, equity <= 0
def test_a_window_continues_the_account_and_a_short_window_has_no_cagr():
    # capital 100,000; +1,000 on Jan 2 before the window; -500 on Mar 1 and +250 on Mar 4 in it
    trades = [ClosedTrade(D("1000"), datetime(2024, 1, 2, 20, tzinfo=timezone.utc)),
              ClosedTrade(D("-500"), datetime(2024, 3, 1, 20, tzinfo=timezone.utc)),
              ClosedTrade(D("250"), datetime(2024, 3, 4, 20, tzinfo=timezone.utc))]
    m = compute_dashboard(trades, starting_capital=D("100000"), tz=NY, basis=Basis(D("100000"), start=date(2024, 3, 1)))
    assert m.starting_capital == D("101000.00")  # the window starts where the account stood
    assert [e.equity for e in m.equity_curve] == [D("100500.00"), D("100750.00")]
    assert m.total_return == D("-0.25")  # -250 / 101,000
    assert m.max_drawdown == D("0.50")  # 500 / 101,000 from the window's starting equity
    assert "+ 1000.00 USD realized before 2024-03-01" in m.conventions["equity_base"]
    assert m.cagr is None and m.calmar_ratio is None and "4 days" in m.conventions["cagr"]
    assert m.conventions["return_days"] == 2  # NYSE sessions Fri Mar 1 and Mon Mar 4


def test_daily_returns_cover_every_session_zero_days_included():
    # Mon Jan 8 +100 and Fri Jan 12 -50 on 10,000: five sessions, three without a close
    trades = [ClosedTrade(D("100"), at(8)), ClosedTrade(D("-50"), at(12))]
    m = compute_dashboard(trades, starting_capital=D("10000"), tz=NY)
    assert m.conventions["return_days"] == 5 and m.conventions["calendar"] == "XNYS"
    by_hand = [D("0.01"), D(0), D(0), D(0), D(-50) / D(10100)]
    assert m.sharpe_ratio == q2(sharpe_ratio(by_hand))
    assert m.sortino_ratio == q2(sortino_ratio(by_hand))


def test_a_day_starting_at_negative_equity_has_no_return():
    # 1,000 of capital; -1,500 on Jan 1 leaves -500; Jan 2 starts below zero: no return
    trades = [ClosedTrade(D("-1500"), at(1)), ClosedTrade(D("100"), at(2))]
    m = compute_dashboard(trades, starting_capital=D("1000"), tz=NY, basis=Basis(D("1000"), calendar="24/7"))
    assert [d.return_percent for d in m.daily_pnl] == [D("-150.00"), None]
    assert m.conventions["days_without_return"] == 1 and "negative equity" in m.conventions["days_without_return_note"]


def test_cagr_over_a_year_or_more():
    # 100,000 to 121,000 over 2 years of days (731 days inclusive, 24/7): about 10 % a year
    trades = [ClosedTrade(D("10000"), datetime(2022, 1, 1, 20, tzinfo=timezone.utc)),
              ClosedTrade(D("11000"), datetime(2024, 1, 1, 20, tzinfo=timezone.utc))]
    m = compute_dashboard(trades, starting_capital=D("100000"), tz=NY, basis=Basis(D("100000"), calendar="24/7"))
    assert m.cagr == q2(cagr(D("100000"), D("121000"), 731)) and "731 days" in m.conventions["cagr"]
