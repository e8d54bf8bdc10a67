"""The replay client against a stand-in of the service's cost contract (fake_service.py),
no server: the cost model is set before any fill, stops and targets close at the bar's
price and time with their reason, and, on the shipped data, every trade's net P&L equals
backtesting.py's with the equivalent commission setting (the same check as
tests/client/test_reference_backtester.py, which runs it against the real service)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import httpx
import pytest

from strategy_client.replay import Bar, Costs, read_ohlcv, replay
from tests.client.reference import TickCrossover, reference_trades
from tests.unit.client.fake_service import FakeService

DATA = Path(__file__).resolve().parents[3] / "data"
HEADERS = {"Authorization": "Bearer test"}


class Scripted:
    """Targets from a list (one per bar), a fixed stop and target for longs."""

    name = "scripted"

    def __init__(self, targets: Sequence[int], stop: str | None = None, target: str | None = None) -> None:
        self.targets, self.stop, self.goal = list(targets), stop, target

    def target(self, bars: Sequence[Bar]) -> int:
        return self.targets[len(bars) - 1]

    def stop_loss(self, bars: Sequence[Bar], side: str) -> D | None:
        return D(self.stop) if self.stop else None

    def take_profit(self, bars: Sequence[Bar], side: str) -> D | None:
        return D(self.goal) if self.goal else None


def bars(*ohlc: tuple[str, str, str, str]) -> list[Bar]:
    return [Bar(date(2024, 1, 1 + n), D(o), D(h), D(lo), D(c), D(0)) for n, (o, h, lo, c) in enumerate(ohlc)]


async def run(fake: FakeService, series, make, **kwargs):
    async with httpx.AsyncClient(transport=fake.transport(), base_url="http://fake") as client:
        return await replay(client, series=series, make_strategy=make, user_headers=HEADERS, uid="u", run_id="r",
                            **kwargs)


async def test_the_cost_model_is_put_once_before_the_first_fill():
    fake = FakeService()
    series = {"AAA": bars(("10", "11", "9", "10"), ("10", "11", "9", "10.5"), ("10.5", "12", "10", "11"))}
    await run(fake, series, lambda: Scripted([1, 1, 1]), quantity=D("100"),
              costs=Costs(commission_per_order=D("1.25"), slippage_bps=D("5")))
    methods = [(m, p) for m, p, _ in fake.calls]
    assert methods[0] == ("PUT", "/strategies/scripted/costs")
    assert methods.count(("PUT", "/strategies/scripted/costs")) == 1
    assert fake.calls[0][2] == {"commission_per_order": "1.25", "commission_per_unit": "0", "commission_percent": "0",
                                "commission_min": "0", "commission_max": "0", "slippage_bps": "5"}


async def test_without_costs_nothing_is_put():
    fake = FakeService()
    await run(fake, {"AAA": bars(("10", "11", "9", "10"), ("10", "11", "9", "10"))}, lambda: Scripted([1, 1]))
    assert not [c for c in fake.calls if c[0] == "PUT"]


async def test_a_gap_through_the_target_closes_at_the_open_and_blocks_a_same_side_reentry():
    fake = FakeService()
    series = {"AAA": bars(
        ("100", "101", "99", "100"),     # signal long: buy at 100, stop 95, target 110
        ("112", "115", "111", "114"),    # gap above the target: take profit at the open, 112
        ("114", "116", "113", "115"),    # signal still long: no re-entry after the target
        ("115", "116", "100", "101"),    # signal flat
        ("101", "102", "100", "101"),    # signal long again: buy at 101
        ("101", "102", "90", "91"),      # the stop (95) and the range: stop at 95
        ("91", "92", "90", "91"),        # last bar: nothing open
    )}
    result = await run(fake, series, lambda: Scripted([1, 1, 1, 0, 1, 1, 1], stop="95", target="110"),
                       quantity=D("10"), costs=Costs(commission_per_order=D("1")))
    closes = [b for m, p, b in fake.calls if p == "/trades/close-shadow"]
    assert [(c["price"], c["closed_at"], c["exit_reason"]) for c in closes] == [
        ("112", "2024-01-02T12:00:00-05:00", "take_profit"),
        ("95", "2024-01-06T12:00:00-05:00", "stop_loss"),
    ]
    executes = [b for m, p, b in fake.calls if p == "/trades/execute"]
    assert [(e["price"], e["stop_loss"], e["take_profit"], e["filled_at"]) for e in executes] == [
        ("100", "95", "110", "2024-01-01T16:00:00-05:00"), ("101", "95", "110", "2024-01-05T16:00:00-05:00")]
    t1, t2 = result.trades
    assert (t1.gross_pnl, t1.commission, t1.realized_pnl, t1.take_profit) == ("120.00", "2.00", "118.00", "110")
    assert (t2.gross_pnl, t2.commission, t2.realized_pnl, t2.exit_reason) == ("-60.00", "2.00", "-62.00", "stop_loss")


@pytest.mark.parametrize(("costs", "commission"), [
    (Costs(commission_percent=D("0.1")), 0.001),
    (Costs(commission_per_order=D("1.25"), commission_percent=D("0.1")), (1.25, 0.001)),
], ids=["percent", "fixed+percent"])
@pytest.mark.parametrize(("symbol", "size", "tick", "stop", "target"), [
    ("GOOG", 1000, D("0.01"), D("3"), D("6")), ("EURUSD", 1_000_000, D("0.00001"), D("0.5"), D("1")),
])
async def test_net_pnl_equals_backtesting_py_on_the_shipped_data(costs, commission, symbol, size, tick, stop, target):
    series = {symbol: read_ohlcv(DATA / f"{symbol}.csv")}

    def make():
        return TickCrossover(fast=10, slow=30, long_short=True, stop_loss_percent=stop, take_profit_percent=target,
                             tick=tick)

    result = await run(FakeService(), series, make, quantity=D(size), costs=costs)
    reference = reference_trades(series[symbol], make, size=size, commission=commission)
    got = [(t.entry_day, t.exit_day, t.side, D(t.entry_price), D(t.exit_price), D(t.gross_pnl), D(t.commission),
            D(t.realized_pnl)) for t in result.trades]
    want = [(r.entry_day, r.exit_day, r.side, r.entry_price, r.exit_price, r.gross, r.commission, r.net)
            for r in reference]
    assert got == want and len(want) > 5
    assert {t.exit_reason for t in result.trades} >= {"stop_loss", "take_profit"}
    gaps = {t.exit_reason for t in result.trades if t.exit_reason in ("stop_loss", "take_profit")
            and D(t.exit_price) not in (D(t.stop_loss), D(t.take_profit))}
    assert gaps == ({"stop_loss", "take_profit"} if symbol == "GOOG" else set())  # GOOG gaps through both


def test_backtesting_py_commission_semantics_by_hand():
    """What the comparison relies on, on three bars: ``commission=(fixed, rate)`` charges
    ``fixed + size x price x rate`` on the entry fill and again on the exit fill, and
    ``_trades['PnL']`` is net of both; a trade_on_close order fills at its bar's close.
    (backtesting.py calls ``next()`` from the second bar on: the first is flat here, as
    ma-cross is before ``slow`` bars.)"""
    four = bars(("98", "99", "97", "98"), ("99", "101", "98", "100"), ("104", "111", "103", "110"),
                ("110", "112", "109", "111"))
    [trade] = reference_trades(four, lambda: Scripted([0, 1, 0, 0]), size=10, commission=(1.0, 0.001))
    assert (trade.entry_price, trade.exit_price) == (D("100"), D("110"))  # the closes of bars 1 and 2
    # entry 1 + 10 x 100 x 0.001 = 2.00; exit 1 + 10 x 110 x 0.001 = 2.10
    assert (trade.gross, trade.commission, trade.net) == (D("100.00"), D("4.10"), D("95.90"))
