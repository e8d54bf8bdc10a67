"""The replay over the shipped market data, through the HTTP app on the emulator. Its
metrics must equal an independent computation of the same trades made here from the CSV
(csv module, Fraction moving averages), not by the service."""

from __future__ import annotations

import csv
import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from pathlib import Path

import pytest

from strategy_client.replay import MovingAverageCrossover, read_ohlcv, replay
from strategy_client.report import (
    MONTHS, calendar_figure, equity_figure, format_money, format_number, format_percent, format_price, format_value,
    signed_log, summary_table, write_report,
)

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
        assert any(t.exit_reason == "stop_loss" for t in result.trades)  # the stops are exercised

        pnls = [p for _, _, p, _ in sorted(expected, key=lambda t: t[1])]  # close order (days differ per symbol)
        d, m = result.dashboard, result.metrics
        assert d["total_trades"] == len(pnls) and d["total_pnl"] == sum(pnls)
        assert d["winning_trades"] == sum(p > 0 for p in pnls) and d["losing_trades"] == sum(p < 0 for p in pnls)
        assert d["largest_win"] == max(pnls) and d["largest_loss"] == min(pnls)
        assert d["r_trades"] == len(pnls)  # every trade had a stop, so a risk
        assert Decimal(m["realized_pnl"]) == sum(pnls) and m["closed_trades"] == len(pnls)
        assert Decimal(m["max_drawdown_usd"]) == seed_drawdown_usd(pnls)
        assert d["start_date"] == min(t[1] for t in expected)  # trades land on the bars' dates

        assert (result.first_day, result.last_day) == (series["GOOG"][0].day, series["EURUSD"][-1].day)

        # equity and drawdown are step lines over the replayed range
        equity = equity_figure(d["equity_curve"], d["starting_capital"], result.first_day, result.last_day)
        equity_line, drawdown_line = equity.data
        assert equity_line.line.shape == "hv" and drawdown_line.line.shape == "hv"
        assert equity_line.x[0] == result.first_day.isoformat() and equity_line.y[0] == float(d["starting_capital"])
        assert equity_line.x[-1] == result.last_day.isoformat() and equity_line.y[-1] == float(d["final_equity"])
        assert min(drawdown_line.y) == -float(d["max_drawdown"])

        # the calendar: one row per year of the range, 2007-2016 (no close) included
        calendar = calendar_figure(d["daily_pnl"], result.first_day, result.last_day)
        years = [int(re.match(r"<b>(\d{4})</b>", a.text).group(1)) for a in calendar.layout.annotations]
        assert years == list(range(2005, 2019))
        closes_by_year = {y: sum(p["date"].startswith(str(y)) for p in d["daily_pnl"]) for y in years}
        assert closes_by_year[2010] == 0 and closes_by_year[2005] > 0
        assert "no close" in calendar.layout.annotations[years.index(2010)].text
        x_axes = [calendar.layout[f"xaxis{'' if n == 1 else n}"] for n in range(1, len(years) + 1)]
        y_axes = [calendar.layout[f"yaxis{'' if n == 1 else n}"] for n in range(1, len(years) + 1)]
        assert all(tuple(ax.ticktext) == MONTHS and ax.side == "top" for ax in x_axes)  # months along the top
        assert all(tuple(ax.ticktext) == ("Mon", "Wed", "Fri", "Sun") for ax in y_axes)  # every other weekday
        # the colour scale is symmetric and wide enough for the largest day: nothing is clipped
        scale = calendar.layout.coloraxis
        biggest = max(abs(float(p["pnl"])) for p in d["daily_pnl"])
        assert scale.cmin == -scale.cmax and signed_log(biggest) <= scale.cmax
        assert "log scale" in scale.colorbar.title.text

        # the outputs: summary table and an HTML report, figures formatted as money and percent
        table = summary_table(result)
        labels, values = table.columns[0]._cells, table.columns[1]._cells
        shown = dict(zip(labels, values))
        money = re.compile(r"^-?\d{1,3}(,\d{3})*\.\d{2} USD$")
        assert money.match(shown["Total realized P&L"]) and money.match(shown["Average loss"])
        assert re.match(r"^-?\d+\.\d{2} %$", shown["Total return"]) and re.match(r"^-?\d+\.\d{2} %$", shown["Win rate (trades)"])
        assert not {"None", "False", "True"} & set(values)
        page = write_report(result, tmp_path / "r.html").read_text()
        for heading in ("Performance summary", "Equity and drawdown", "Daily P&L calendar", "Trades", "By symbol",
                        "How these figures are computed"):
            assert f"<h2>{heading}</h2>" in page
        assert "plotly" in page and "no day is clipped" in page
        assert page.count("<tr>") > len(pnls)
        first = result.trades[0]
        assert f"<td class='num'>{format_price(first.entry_price)}</td>" in page
        assert re.search(r"\d\.\d{2}</td>", page) and ">False<" not in page and ">None<" not in page


class TestFormatting:
    """The report's number formats (no storage): hand-checkable."""

    @pytest.mark.parametrize(("value", "text"), [
        ("157258.89", "157,258.89 USD"), (Decimal("-935.67"), "-935.67 USD"), ("60775.0", "60,775.00 USD"),
        ("305", "305.00 USD"), ("0.000001", "0.000001 USD"), (None, "n/a"),
    ])
    def test_money(self, value, text):
        assert format_money(value) == text

    def test_prices_keep_the_service_digits_with_at_least_two_decimals(self):
        assert [format_price(v) for v in ("129.6", "305", "1.234567", "60775.0", None)] == \
            ["129.60", "305.00", "1.234567", "60,775.00", "n/a"]

    def test_percent_numbers_booleans_and_missing(self):
        assert format_percent("4.81") == "4.81 %" and format_percent(Decimal("-8.87")) == "-8.87 %"
        assert format_number("1234567.123456") == "1,234,567.123456" and format_number(2148) == "2,148"
        assert (format_value(True), format_value(False), format_value(None)) == ("yes", "no", "n/a")
        assert format_value("1275.65", "hours") == "1,275.65 hours" and format_value("text") == "text"

    def test_calendar_of_a_range_without_closes_shows_every_year(self):
        calendar = calendar_figure([{"date": "2012-03-05", "pnl": "117095.00", "trades": 1},
                                    {"date": "2014-07-01", "pnl": "-3842.00", "trades": 2}],
                                   date(2011, 6, 1), date(2015, 2, 27))
        assert [a.text[3:7] for a in calendar.layout.annotations] == ["2011", "2012", "2013", "2014", "2015"]
        assert calendar.layout.coloraxis.cmax >= signed_log(117095.0)  # the largest day is not clipped
        assert signed_log(117095.0) - signed_log(3842.0) > 1  # and looks different from a small one
