"""The replay's stop and target rule (strategy_client.replay.bar_exit), by hand: exact
Decimal prices, one row per case. No service."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from strategy_client.replay import STOP_LOSS, TAKE_PROFIT, Bar, bar_exit


def bar(o: str, h: str, lo: str, c: str) -> Bar:
    return Bar(date(2024, 3, 4), D(o), D(h), D(lo), D(c), D(0))


STOP, TARGET = D("95.00"), D("110.00")  # a long's levels (entry 100)
SHORT_STOP, SHORT_TARGET = D("105.00"), D("90.00")  # a short's levels (entry 100)

# (case, side, bar (open, high, low, close), stop, target, expected (price, reason) or None)
TABLE = [
    # --- a long ---
    ("inside the range: nothing", "BUY", ("100", "109.99", "95.01", "101"), STOP, TARGET, None),
    ("low touches the stop exactly", "BUY", ("100", "101", "95.00", "96"), STOP, TARGET, (D("95.00"), STOP_LOSS)),
    ("low below the stop, opened above it", "BUY", ("98", "99", "93.50", "94"), STOP, TARGET, (D("95.00"), STOP_LOSS)),
    ("gap down through the stop: the open", "BUY", ("92.10", "93", "91", "92.5"), STOP, TARGET, (D("92.10"), STOP_LOSS)),
    ("opened exactly at the stop", "BUY", ("95.00", "97", "94", "96"), STOP, TARGET, (D("95.00"), STOP_LOSS)),
    ("high touches the target exactly", "BUY", ("104", "110.00", "103", "109"), STOP, TARGET, (D("110.00"), TAKE_PROFIT)),
    ("high above the target, opened below it", "BUY", ("108", "112", "107", "111"), STOP, TARGET,
     (D("110.00"), TAKE_PROFIT)),
    ("gap up through the target: the open", "BUY", ("113.40", "115", "112", "114"), STOP, TARGET,
     (D("113.40"), TAKE_PROFIT)),
    ("both in one bar: the stop wins", "BUY", ("100", "111", "94", "105"), STOP, TARGET, (D("95.00"), STOP_LOSS)),
    ("both, gapped above the target: still the stop", "BUY", ("112", "113", "94.5", "96"), STOP, TARGET,
     (D("95.00"), STOP_LOSS)),
    ("no stop, no target", "BUY", ("50", "200", "1", "100"), None, None, None),
    ("stop only, not reached", "BUY", ("100", "130", "96", "120"), STOP, None, None),
    ("target only, reached", "BUY", ("100", "130", "80", "120"), None, TARGET, (D("110.00"), TAKE_PROFIT)),
    ("sub-cent levels kept exact", "BUY", ("97.1", "98", "96.99", "97"), D("97.000001"), None,
     (D("97.000001"), STOP_LOSS)),
    # --- a short: the mirror image ---
    ("short inside the range", "SELL", ("100", "104.99", "90.01", "99"), SHORT_STOP, SHORT_TARGET, None),
    ("short: high touches the stop", "SELL", ("100", "105.00", "99", "104"), SHORT_STOP, SHORT_TARGET,
     (D("105.00"), STOP_LOSS)),
    ("short: gap up through the stop", "SELL", ("107.25", "108", "106", "107"), SHORT_STOP, SHORT_TARGET,
     (D("107.25"), STOP_LOSS)),
    ("short: low touches the target", "SELL", ("95", "96", "90.00", "91"), SHORT_STOP, SHORT_TARGET,
     (D("90.00"), TAKE_PROFIT)),
    ("short: gap down through the target", "SELL", ("88.80", "89", "87", "88"), SHORT_STOP, SHORT_TARGET,
     (D("88.80"), TAKE_PROFIT)),
    ("short: both in one bar, the stop wins", "SELL", ("100", "106", "89", "95"), SHORT_STOP, SHORT_TARGET,
     (D("105.00"), STOP_LOSS)),
]


@pytest.mark.parametrize(("case", "side", "ohlc", "stop", "target", "expected"), TABLE, ids=[row[0] for row in TABLE])
def test_bar_exit_table(case, side, ohlc, stop, target, expected):
    got = bar_exit(side, bar(*ohlc), stop, target)
    assert got == expected
    if got is not None:  # the exact Decimal: no rounding, same digits
        assert str(got[0]) == str(expected[0])


def test_an_unknown_side_is_refused():
    with pytest.raises(ValueError, match="BUY or SELL"):
        bar_exit("LONG", bar("100", "101", "99", "100"), STOP, TARGET)
