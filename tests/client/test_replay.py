"""The replay over the shipped market data, through the HTTP app on the emulator. Its
metrics must equal an independent computation of the same trades made here from the CSV
(csv module, Fraction moving averages), not by the service."""

from __future__ import annotations

import csv
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from pathlib import Path

import pytest

from strategy_client.replay import MovingAverageCrossover, read_ohlcv, replay
from strategy_client.report import summary_table, write_report

DATA = Path(__file__).resolve().parents[2] / "data"


def rows_of(path: Path, start: str = "", end: str = "9999") -> list[tuple[str, Decimal, Decimal, Decimal, Decimal]]:
    with path.open() as handle:
        return [(r["Date"], Decimal(r["Open"]), Decimal(r["High"]), Decimal(r["Low"]), Decimal(r["Close"]))
                for r in csv.DictReader(handle) if start <= r["Date"] <= end]


def expected_trades(rows, *, fast, slow, long_short, stop_pct, notional):
    """(day closed, realized P&L, has stop) of each round trip, computed independently."""
    out, pos, last, stopped = [], None, 0, 0
    with localcontext() as ctx:
        ctx.prec = 60
        for i, (day, o, h, low, c) in enumerate(rows):
            if pos and pos["stop"] is not None:
                long = pos["dir"] > 0
                if (long and low <= pos["stop"]) or (not long and h >= pos["stop"]):
                    px = min(o, pos["stop"]) if long else max(o, pos["stop"])
                    out.append((day, ((px - pos["entry"]) * pos["qty"] * pos["dir"]).quantize(Decimal("0.01"), ROUND_HALF_UP), True))
                    stopped, pos = pos["dir"], None
            if i == len(rows) - 1:
                want = 0
            elif i + 1 >= slow:
                closes = [r[4] for r in rows[: i + 1]]
                f = sum(Fraction(x) for x in closes[-fast:]) / fast
                s = sum(Fraction(x) for x in closes[-slow:]) / slow
                last = 1 if f > s else (-1 if long_short else 0) if f < s else last
                want = last
            else:
                want = 0
            if want != stopped:
                stopped = 0
            have = pos["dir"] if pos else 0
            if want != have:
                if pos:
                    out.append((day, ((c - pos["entry"]) * pos["qty"] * pos["dir"]).quantize(Decimal("0.01"), ROUND_HALF_UP),
                                pos["stop"] is not None))
                    pos = None
                if want and not stopped:
                    stop = None
                    if stop_pct:
                        stop = (c * (1 - want * Decimal(stop_pct) / 100)).quantize(Decimal("0.000001"), ROUND_HALF_UP)
                    pos = {"dir": want, "entry": c, "stop": stop,
                           "qty": (Decimal(notional) / c).quantize(Decimal("0.000001"), ROUND_HALF_UP)}
    return out


def seed_drawdown_usd(pnls):
    cum = peak = worst = Decimal(0)
    for p in pnls:
        cum += p
        peak = max(peak, cum)
        worst = min(worst, cum - peak)
    return worst


class TestReplay:
    async def test_unauthenticated_replay_is_refused(self, client):
        bars = read_ohlcv(DATA / "GOOG.csv")[:40]
        with pytest.raises(Exception, match="401"):
            await replay(client, series={"GOOG": bars}, make_strategy=MovingAverageCrossover, user_headers={},
                         uid="nobody")

    async def test_replay_leaves_live_quotes_untouched(self, client, auth, publish):
        """Backtest fills carry their own prices: the replay publishes no quote, so what
        paper trades fill at stays as the publisher left it."""
        before = await publish("GOOG", bid="806.10", ask="806.19")
        bars = read_ohlcv(DATA / "GOOG.csv")[:80]
        eurusd = read_ohlcv(DATA / "EURUSD.csv")[:80]
        result = await replay(client, series={"GOOG": bars, "EURUSD": eurusd},
                              make_strategy=lambda: MovingAverageCrossover(fast=5, slow=20),
                              user_headers=auth("replayer"), uid="replayer", run_id="q1")
        assert result.trades  # the replay did trade
        after = await client.get("/quotes/GOOG", headers=auth("someone"))
        assert after.status_code == 200 and after.json() == before
        assert (await client.get("/quotes/EURUSD", headers=auth("someone"))).status_code == 404

    async def test_shipped_data_metrics_equal_an_independent_computation(self, client, auth, tmp_path):
        params = {"fast": 5, "slow": 20, "long_short": True, "stop_pct": "3", "notional": "10000"}
        files = {"GOOG": ("2005-01-01", "2006-12-31"), "EURUSD": ("", "9999")}
        series = {sym: [b for b in read_ohlcv(DATA / f"{sym}.csv") if start <= b.day.isoformat() <= end]
                  for sym, (start, end) in files.items()}
        result = await replay(
            client, series=series,
            make_strategy=lambda: MovingAverageCrossover(fast=5, slow=20, long_short=True, stop_loss_percent=Decimal("3")),
            user_headers=auth("replayer"), uid="replayer", run_id="t1",
        )
        expected = []
        for sym, (start, end) in files.items():
            expected += [(sym, *t) for t in expected_trades(rows_of(DATA / f"{sym}.csv", start, end),
                                                            **{k: params[k] for k in params})]
        got = [(t.symbol, t.exit_day.isoformat(), Decimal(t.realized_pnl), t.stop_loss is not None) for t in result.trades]
        assert got == expected and len(expected) > 20
        assert any(t.exit_reason == "stop loss" for t in result.trades)  # the stops are exercised

        pnls = [p for _, _, p, _ in sorted(expected, key=lambda t: t[1])]  # close order (days differ per symbol)
        d, m = result.dashboard, result.metrics
        assert d["total_trades"] == len(pnls) and d["total_pnl"] == sum(pnls)
        assert d["winning_trades"] == sum(p > 0 for p in pnls) and d["losing_trades"] == sum(p < 0 for p in pnls)
        assert d["largest_win"] == max(pnls) and d["largest_loss"] == min(pnls)
        assert d["r_trades"] == len(pnls)  # every trade had a stop, so a risk
        assert Decimal(m["realized_pnl"]) == sum(pnls) and m["closed_trades"] == len(pnls)
        assert Decimal(m["max_drawdown_usd"]) == seed_drawdown_usd(pnls)
        assert d["start_date"] == min(t[1] for t in expected)  # trades land on the bars' dates

        # the outputs: summary table and an HTML report with its charts
        assert summary_table(result).row_count > 10
        page = write_report(result, tmp_path / "r.html").read_text()
        assert "Equity curve and drawdown" in page and "Daily P&L calendar" in page and "plotly" in page
        assert page.count("<tr>") > len(pnls)
