"""The replay's live fills (``--live-perturb-bps``), without a server: the perturbed price
is deterministic, inside the +/- N bps band and on the price tick; every backtest execute
carries a signal_id; each execute and close is followed by a live fill of the same
signal_id and strategy_id; and a re-run with the same run id records nothing new."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from decimal import Decimal as D

import httpx
import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st

from strategy_client.cli import live_perturbation_of_options
from strategy_client.replay import LivePerturbation, perturbed_price, price_tick, replay
from tests.unit.client.fake_service import FakeService
from tests.unit.client.test_replay_logic import Scripted, bars

HEADERS = {"Authorization": "Bearer test"}


class TestPerturbedPrice:
    def test_the_same_seed_gives_the_same_price(self):
        prices = [perturbed_price(D("186.21"), D("10"), random.Random(f"7:sig-{n}")) for n in range(50)]
        again = [perturbed_price(D("186.21"), D("10"), random.Random(f"7:sig-{n}")) for n in range(50)]
        other = [perturbed_price(D("186.21"), D("10"), random.Random(f"8:sig-{n}")) for n in range(50)]
        assert prices == again and prices != other
        assert len(set(prices)) > 30  # spread over the band, not a constant

    @given(base=st.decimals(min_value=D("0.0001"), max_value=D("100000"), places=6),
           bps=st.decimals(min_value=D(0), max_value=D(1000), places=2), seed=st.integers())
    def test_inside_the_band_and_on_the_tick(self, base, bps, seed):
        price = perturbed_price(base, bps, random.Random(seed))
        tick = price_tick(base)
        assert abs(price - base) <= base * bps / 10_000
        assert price % tick == 0 and price > 0

    def test_the_tick_is_0_0001_or_the_data_s_own(self):
        assert [price_tick(D(t)) for t in ("186.21", "186", "1.17505", "0.000123")] == \
            [D("0.0001"), D("0.0001"), D("0.00001"), D("0.000001")]
        price = perturbed_price(D("186.21"), D("25"), random.Random(1))
        assert price.as_tuple().exponent == -4 and price != D("186.21")

    def test_zero_bps_is_the_backtest_price(self):
        assert perturbed_price(D("1.17505"), D(0), random.Random(3)) == D("1.17505")

    @pytest.mark.parametrize("bps", ["-1", "1000.01"])
    def test_out_of_range_is_refused(self, bps):
        with pytest.raises(ValueError, match="between 0 and 1000"):
            perturbed_price(D("100"), D(bps), random.Random(0))
        with pytest.raises(typer.BadParameter):
            live_perturbation_of_options(bps, "0")

    def test_the_live_fill_has_a_commission_and_a_latency(self):
        at = datetime(2024, 1, 2, 21, tzinfo=timezone.utc)
        price, commission, when = LivePerturbation(bps=D("5"), seed="s").fill("sig", D("100"), D("150"), at)
        assert abs(price - 100) <= D("0.05") and commission == D("1.50")  # 1 bp of ~15,000 USD
        assert 1 <= (when - at).total_seconds() <= 5
        assert LivePerturbation(bps=D("5")).fill("sig", D("10"), D("1"), at)[1] == D("1.00")  # the minimum


async def run(fake, series, make, **kwargs):
    async with httpx.AsyncClient(transport=fake.transport(), base_url="http://fake") as client:
        return await replay(client, series=series, make_strategy=make, user_headers=HEADERS, uid="u", **kwargs)


async def test_each_signal_is_sent_as_a_backtest_and_a_live_fill_of_the_same_signal():
    fake = FakeService()
    series = {"AAA": bars(
        ("100", "101", "99", "100"),     # long at 100, stop 95
        ("100", "102", "99", "101"),
        ("101", "102", "90", "91"),      # stop at 95
        ("91", "92", "90", "91"),        # flat
        ("91", "95", "90", "94"),        # long again at 94
        ("94", "96", "93", "95"),        # end of data: close at 95
    )}
    live = LivePerturbation(bps=D("10"), seed="42")
    result = await run(fake, series, lambda: Scripted([1, 1, 1, 0, 1, 1], stop="90.5"), quantity=D("10"),
                       run_id="r1", live=live)
    calls = [(p, b.get("source"), b.get("signal_id"), b.get("exit_reason")) for m, p, b in fake.calls if m == "POST"]
    assert calls == [
        ("/trades/execute", "backtest", "replay-r1-AAA-0-open", None),
        ("/trades/execute", "live", "replay-r1-AAA-0-open", None),
        ("/trades/close-shadow", None, "replay-r1-AAA-2-close", "stop_loss"),
        ("/trades/close-shadow", "live", "replay-r1-AAA-2-close", "stop_loss"),
        ("/trades/execute", "backtest", "replay-r1-AAA-4-open", None),
        ("/trades/execute", "live", "replay-r1-AAA-4-open", None),
        ("/trades/close-shadow", None, "replay-r1-AAA-5-close", "end of data"),
        ("/trades/close-shadow", "live", "replay-r1-AAA-5-close", "end of data"),
    ]
    lives = [b for m, p, b in fake.calls if b and b.get("source") == "live"]
    assert [b["execution_id"] for b in lives] == ["live-" + b["signal_id"] for b in lives]
    assert all(b["strategy_id"] == "scripted" for b in lives)
    open_, close = lives[0], lives[1]
    assert (open_["side"], open_["quantity"], open_["broker"]) == ("BUY", "10", "replay")
    assert (close["symbol"], "shadow_id" in close) == ("AAA", False)  # by strategy and symbol
    assert abs(D(open_["price"]) - 100) <= D("0.1") and abs(D(close["price"]) - D("90.5")) <= D("0.0905")
    assert open_["filled_at"] > "2024-01-01T16:00:00-05:00" and close["closed_at"] > "2024-01-03T12:00:00-05:00"
    assert [t["status"] for t in fake.live.values()] == ["CLOSED", "CLOSED"]
    t1 = result.trades[0]
    assert (t1.live_id, t1.live_entry_price, t1.live_exit_price) == ("L1", open_["price"], close["price"])

    # the same run again: every live call answers its first result; nothing new
    before = [dict(t) for t in fake.live.values()]
    again = await run(fake, series, lambda: Scripted([1, 1, 1, 0, 1, 1], stop="90.5"), quantity=D("10"),
                      run_id="r1", live=live)
    assert list(fake.live.values()) == before
    assert [t.live_entry_price for t in again.trades] == [t.live_entry_price for t in result.trades]


async def test_without_the_option_no_live_fill_and_no_close_signal():
    fake = FakeService()
    await run(fake, {"AAA": bars(("10", "11", "9", "10"), ("10", "11", "9", "10"))}, lambda: Scripted([1, 1]),
              run_id="r")
    executes = [b for m, p, b in fake.calls if p == "/trades/execute"]
    closes = [b for m, p, b in fake.calls if p == "/trades/close-shadow"]
    assert [b["signal_id"] for b in executes] == ["replay-r-AAA-0-open"] and not fake.live
    assert all("signal_id" not in b for b in closes)

