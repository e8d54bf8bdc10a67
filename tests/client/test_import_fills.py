"""Live fills through the real service on the emulator (issue 14): the broker-fills import
and the replay's live twins. These need the server side of issue 14 (``source: "live"``
on execute and close-shadow, ``GET /trades/shortfall``); until it lands they fail with
422 ``validation_error`` on ``source``."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from strategy_client.importer import import_fills, read_fills
from strategy_client.replay import LivePerturbation, MovingAverageCrossover, read_ohlcv, replay

DATA = Path(__file__).resolve().parents[2] / "data"
EXAMPLE = DATA / "examples" / "broker-fills.csv"


async def all_trades(client, headers) -> list[dict]:
    items, cursor = [], None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/trades/shadow", params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


async def run_import(client, headers, path: Path):
    fills, refused = read_fills(path)
    result = await import_fills(client, fills, user_headers=headers, started=datetime.now(timezone.utc))
    result.refused[:0] = refused
    return result


class TestImportFills:
    async def test_the_example_imports_and_a_reimport_changes_nothing(self, client, auth):
        headers = auth("importer")
        first = await run_import(client, headers, EXAMPLE)
        assert first.refused == [] and len(first.recorded) == 5 and first.already_recorded == 0
        trades = await all_trades(client, headers)
        live = sorted((t for t in trades if t.get("source") == "live"), key=lambda t: t["created_at"])
        assert [(t["symbol"], t["side"], t["status"]) for t in live] == [
            ("AAPL", "BUY", "OPEN"), ("AAPL", "BUY", "OPEN"), ("MSFT", "SELL", "CLOSED")]
        # the close of 60 took part of the oldest AAPL fill (100 at 186.21): 40 stay open
        assert Decimal(live[0]["open_quantity"]) == 40 and Decimal(live[0]["entry_price"]) == Decimal("186.21")
        # MSFT: short 20 at 414.10, bought back at 419.90, 1.00 + 1.00 commission: -118.00 net
        assert Decimal(live[2]["realized_pnl"]) == Decimal("-118.00")
        metrics = (await client.get("/trades/shadow/metrics", params={"source": "live"}, headers=headers)).json()

        second = await run_import(client, headers, EXAMPLE)
        assert second.refused == [] and [r.trade_id for r in second.recorded] == [r.trade_id for r in first.recorded]
        assert second.already_recorded == 5
        assert await all_trades(client, headers) == trades  # nothing new, nothing closed twice
        again = (await client.get("/trades/shadow/metrics", params={"source": "live"}, headers=headers)).json()
        assert again == metrics

    async def test_refused_rows_carry_the_service_codes(self, client, auth, tmp_path):
        path = tmp_path / "fills.csv"
        path.write_text(
            "execution_id,filled_at,symbol,side,quantity,price,commission,strategy_id,signal_id,action\n"
            "x1,2024-05-13T09:35:00-04:00,MSFT,SELL,5,414.10,1.00,s,,close\n"     # nothing open
            "x2,2099-01-01T00:00:00+00:00,AAPL,BUY,1,186.21,,s,,open\n"            # in the future
            "x3,2024-05-13T09:30:00-04:00,AAPL,BUY,10,186.21,1.00,s,,open\n"
            "x4,2024-05-14T09:30:00-04:00,AAPL,SELL,11,190.00,1.00,s,,close\n"     # more than open
            "x3,2024-05-13T09:30:00-04:00,AAPL,BUY,10,186.25,1.00,s,,open\n"       # x3 reused
            "x5,2024-05-14T09:31:00-04:00,AAPL,SELL,1o,190.00,1.00,s,,close\n")    # bad number
        result = await run_import(client, auth("importer"), path)
        assert {r.line: (r.execution_id, r.code) for r in result.refused} == {
            2: ("x1", "no_open_live_position"), 3: ("x2", "time_in_future"),
            5: ("x4", "close_quantity_exceeds_open"), 6: ("x3", "idempotency_key_reused"),
            7: ("x5", "invalid_number")}
        assert [r.execution_id for r in result.recorded] == ["x3"]


class TestReplayLiveTwins:
    async def test_every_signal_has_a_live_twin_and_a_rerun_adds_nothing(self, client, auth):
        headers = auth("replayer")
        series = {"GOOG": [b for b in read_ohlcv(DATA / "GOOG.csv") if "2005-01-01" <= b.day.isoformat() <= "2005-12-31"]}

        def strategy():
            return MovingAverageCrossover(fast=5, slow=20, long_short=True)

        live = LivePerturbation(bps=Decimal("10"), seed="1")
        result = await replay(client, series=series, make_strategy=strategy, user_headers=headers, uid="replayer",
                              run_id="live1", live=live)
        assert len(result.trades) > 5
        trades = await all_trades(client, headers)
        backtest = [t for t in trades if t.get("source") == "backtest"]
        live_trades = [t for t in trades if t.get("source") == "live"]
        assert len(live_trades) == len(backtest) == len(result.trades)
        assert {t["signal_id"] for t in live_trades} == {t["signal_id"] for t in backtest}
        assert all(t["status"] == "CLOSED" for t in trades)
        for twin in result.trades:  # within 10 bps of the backtest price
            assert abs(Decimal(twin.live_entry_price) - Decimal(twin.entry_price)) <= Decimal(twin.entry_price) / 1000

        shortfall = await client.get("/trades/shortfall", params={"strategy_id": result.strategy_id, "limit": 200},
                                     headers=headers)
        assert shortfall.status_code == 200, shortfall.text
        assert len(shortfall.json()["items"]) >= len(result.trades)  # at least the opens are linked

        await replay(client, series=series, make_strategy=strategy, user_headers=headers, uid="replayer",
                     run_id="live1", live=live)
        assert await all_trades(client, headers) == trades  # same run id: nothing new
