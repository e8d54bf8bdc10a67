"""The issue's "done when": a replay with costs equal to a reference backtester's commission
setting gives the same net trade P&L to the cent. The reference is backtesting.py
(``backtesting`` on PyPI, the test extra), run on the same shipped bars with the same
strategy object (tests/client/reference.py explains how it is made to fill where the
replay fills), against the replay through the HTTP app on the emulator.

Settings compared (docs/replay.md):
- ``Backtest(commission=0.001)`` <-> ``commission_percent = "0.1"``;
- ``Backtest(commission=(1.25, 0.001))`` <-> ``commission_per_order = "1.25"`` and
  ``commission_percent = "0.1"``.

backtesting.py keeps commissions as floats; the service rounds each fill's commission to
the cent. The comparison uses sizes and price ticks with which every commission and every
gross P&L is a whole number of cents in exact arithmetic (GOOG 1,000 shares on a 0.01 tick,
EURUSD 1,000,000 units on a 0.00001 tick, 0.1 %), so neither side rounds; the reference's
floats become Decimal through ``Decimal(str(x))`` and are quantized to the cent,
ROUND_HALF_UP, only at the comparison (reference.usd).
"""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from strategy_client.replay import COST_FIELDS, Costs, read_ohlcv, replay
from tests.client.reference import TickCrossover, reference_trades

DATA = Path(__file__).resolve().parents[2] / "data"

#: symbol -> (units per entry, price tick, stop %, target %)
INSTRUMENTS = {"GOOG": (1000, D("0.01"), D("3"), D("6")), "EURUSD": (1_000_000, D("0.00001"), D("0.5"), D("1"))}


def strategy_of(symbol: str, *, targets: bool = True):
    size, tick, stop, target = INSTRUMENTS[symbol]
    return lambda: TickCrossover(fast=10, slow=30, long_short=True, stop_loss_percent=stop,
                                 take_profit_percent=target if targets else None, tick=tick)


async def replay_and_reference(client, auth, symbol, costs, commission, *, targets=True):
    size = INSTRUMENTS[symbol][0]
    bars = read_ohlcv(DATA / f"{symbol}.csv")
    make = strategy_of(symbol, targets=targets)
    uid = f"ref-{symbol.lower()}"
    result = await replay(client, series={symbol: bars}, make_strategy=make, user_headers=auth(uid), uid=uid,
                          quantity=D(size), costs=costs, run_id=f"ref-{symbol}")
    return result, reference_trades(bars, make, size=size, commission=commission)


def one_to_one(result, reference):
    """The trades of both, side by side: days, side, size, fill prices, and the net P&L."""
    got = [(t.entry_day, t.exit_day, t.side, D(t.quantity), D(t.entry_price), D(t.exit_price), D(t.realized_pnl))
           for t in result.trades]
    want = [(r.entry_day, r.exit_day, r.side, D(r.size), r.entry_price, r.exit_price, r.net) for r in reference]
    return got, want


@pytest.mark.parametrize("symbol", list(INSTRUMENTS))
@pytest.mark.parametrize(("costs", "commission"), [
    (Costs(commission_percent=D("0.1")), 0.001),
    (Costs(commission_per_order=D("1.25"), commission_percent=D("0.1")), (1.25, 0.001)),
], ids=["percent", "fixed+percent"])
async def test_net_trade_pnl_equals_backtesting_py_to_the_cent(client, auth, symbol, costs, commission):
    result, reference = await replay_and_reference(client, auth, symbol, costs, commission)
    got, want = one_to_one(result, reference)
    assert got == want and len(want) > 5  # every trade: same days, side, size, prices, net P&L
    assert {t.exit_reason for t in result.trades} >= {"stop_loss", "take_profit"}  # the bar exits are exercised
    # the split as well: gross (price move) and commission (entry + exit fills), net = gross - commission
    assert [(D(t.gross_pnl), D(t.commission)) for t in result.trades] == [(r.gross, r.commission) for r in reference]
    assert all(D(t.commission) > 0 and D(t.slippage) == 0 for t in result.trades)
    assert {k: D(result.costs[k]) for k in COST_FIELDS} == {k: D(v) for k, v in costs.to_body().items()}
    # and the service's totals of the run are the reference's sums
    d = result.dashboard
    assert d["total_trades"] == len(reference)
    assert D(d["gross_pnl"]) == sum(r.gross for r in reference)
    assert D(d["total_commission"]) == sum(r.commission for r in reference)
    assert D(d["total_pnl"]) == sum(r.net for r in reference) == D(result.metrics["realized_pnl"])
    assert D(d["total_slippage"]) == 0


async def test_without_costs_the_fills_and_pnl_equal_backtesting_py(client, auth):
    """No cost model and ``commission=0``, stops only: the fill matching alone (no new
    endpoint or field is needed, so this one runs on a service without costs too)."""
    result, reference = await replay_and_reference(client, auth, "GOOG", None, 0.0, targets=False)
    got, want = one_to_one(result, reference)
    assert got == want and len(want) > 20
    assert {t.exit_reason for t in result.trades} >= {"stop_loss", "signal"}
