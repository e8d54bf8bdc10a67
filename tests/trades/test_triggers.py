"""Exits the service triggers (stop loss, take profit, trailing stop), through the HTTP API
on the Firestore emulator: set at execute, fired by quote publishes and the mark-to-market
job, moved by PATCH /trades/shadow/{id}."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from backend.strategy_service.quotes.repository import QuoteRepository
from backend.strategy_service.trades.marking import mark_to_market
from tests.support import quote_ref, trade_doc, trade_docs


async def get_trade(client, auth, trade_id, uid="alice"):
    r = await client.get(f"/trades/shadow/{trade_id}", headers=auth(uid))
    assert r.status_code == 200, r.text
    return r.json()


class TestExecuteWithExits:
    async def test_unauthenticated_is_401(self, client):
        r = await client.post("/trades/execute", json={"symbol": "AAPL", "side": "BUY", "quantity": 1, "strategy_id": "s",
                                                       "take_profit": "110"})
        assert r.status_code == 401

    async def test_exits_are_stored_with_their_trigger_thresholds(self, client, auth, publish, execute, db, services):
        await publish("AAPL", bid="99.50", ask="100.00")
        trade = await execute(symbol="AAPL", side="BUY", quantity="10", stop_loss="95", take_profit="110",
                              trailing_stop_percent="2.5")
        # the water mark starts at the fill quote's exit side (the bid); 99.50 x 0.975 = 97.0125
        assert (trade["stop_loss"], trade["take_profit"], trade["trailing_stop_percent"]) == ("95", "110", "2.5")
        assert (trade["water_mark"], trade["trailing_stop"], trade["risk_amount"]) == ("99.50", "97.012500", "50.00")
        assert "trigger" not in trade
        doc = await trade_doc(db, "alice", trade["id"])
        # lo: the tighter stop 97.0125 x 10^6; hi: the water mark 99.50 x 10^6 + 1 (it moves above it)
        assert doc["trigger"] == {"key": "AAPL|bid", "lo": 97_012_500, "hi": 99_500_001}
        short = await execute(symbol="AAPL", side="SELL", quantity="1", stop_loss="101.5")
        assert (await trade_doc(db, "alice", short["id"]))["trigger"] == {"key": "AAPL|ask", "hi": 101_500_000}
        plain = await execute(symbol="AAPL", side="BUY", quantity="1")
        assert "trigger" not in await trade_doc(db, "alice", plain["id"])

    @pytest.mark.parametrize("extra,code", [
        ({"side": "BUY", "stop_loss": "100.00"}, "stop_loss_wrong_side"),  # at the fill (the ask)
        ({"side": "BUY", "stop_loss": "101"}, "stop_loss_wrong_side"),
        ({"side": "BUY", "take_profit": "100"}, "take_profit_wrong_side"),
        ({"side": "BUY", "take_profit": "99.99", "stop_loss": "90"}, "take_profit_wrong_side"),
        ({"side": "SELL", "stop_loss": "99.50"}, "stop_loss_wrong_side"),  # a short fills at the bid
        ({"side": "SELL", "stop_loss": "99"}, "stop_loss_wrong_side"),
        ({"side": "SELL", "take_profit": "99.51"}, "take_profit_wrong_side"),
        ({"side": "BUY", "trailing_stop_percent": "0"}, "trailing_stop_invalid"),
        ({"side": "BUY", "trailing_stop_percent": "100"}, "trailing_stop_invalid"),
        ({"side": "SELL", "trailing_stop_percent": "-2"}, "trailing_stop_invalid"),
        ({"side": "BUY", "trailing_stop_percent": "abc"}, "validation_error"),
        ({"side": "BUY", "take_profit": "-1"}, "validation_error"),
        ({"side": "BUY", "take_profit": "1e13"}, "validation_error"),
    ])
    async def test_bad_exits_are_422_and_write_nothing(self, client, auth, publish, db, services, extra, code):
        await publish("AAPL", bid="99.50", ask="100.00")
        r = await client.post("/trades/execute", json={"symbol": "AAPL", "quantity": "1", "strategy_id": "s", **extra},
                              headers=auth())
        assert r.status_code == 422, r.text
        err = r.json()["error"]
        assert err["code"] == code and err["message"] and "None" not in err["message"]
        assert await trade_docs(db, "alice") == []
        assert await services.trades.trades.open_notional("alice") == 0

    async def test_a_backtest_trade_is_never_exited_by_live_quotes(self, client, auth, publish, execute, db, services):
        trade = await execute(symbol="AAPL", side="BUY", quantity="1", source="backtest", price="100",
                              filled_at="2024-01-02T15:00:00+00:00", stop_loss="95", take_profit="110")
        assert "trigger" not in await trade_doc(db, "alice", trade["id"])
        await publish("AAPL", bid="90", ask="90.10")
        await publish("AAPL", bid="120", ask="120.10")
        assert (await get_trade(client, auth, trade["id"]))["status"] == "OPEN"


class TestPublishTriggers:
    async def test_unauthenticated_is_401(self, client):
        assert (await client.put("/quotes/AAPL", json={"bid": "1", "ask": "2"})).status_code == 401

    async def test_a_stop_exits_a_long_at_the_bid(self, client, auth, publish, execute, db):
        await publish("AAPL", bid="99.90", ask="100.00")
        trade = await execute(symbol="AAPL", side="BUY", quantity="10", stop_loss="95")
        other = await execute(symbol="AAPL", side="BUY", quantity="1", stop_loss="90", uid="bob")
        await publish("AAPL", bid="95.01", ask="95.05")
        assert (await get_trade(client, auth, trade["id"]))["status"] == "OPEN"
        await publish("AAPL", bid="95.00", ask="95.04")
        closed = await get_trade(client, auth, trade["id"])
        # 10 x (95.00 - 100.00) = -50.00, a -1 R loss (risk 50.00)
        assert (closed["status"], closed["exit_reason"], closed["exit_price"], closed["realized_pnl"]) == (
            "CLOSED", "stop_loss", "95.00", "-50.00")
        assert "trigger" not in await trade_doc(db, "alice", trade["id"])  # removed by the close's own write
        assert (await get_trade(client, auth, other["id"], uid="bob"))["status"] == "OPEN"

    async def test_a_gap_through_the_stop_fills_at_the_worse_quote(self, client, auth, publish, execute):
        await publish("AAPL", bid="100", ask="100")
        long = await execute(symbol="AAPL", side="BUY", quantity="10", stop_loss="95")
        await publish("AAPL", bid="90.00", ask="90.20")
        closed = await get_trade(client, auth, long["id"])
        assert (closed["exit_reason"], closed["exit_price"], closed["realized_pnl"]) == ("stop_loss", "90.00", "-100.00")
        await publish("TSLA", bid="200", ask="200")
        short = await execute(symbol="TSLA", side="SELL", quantity="2", stop_loss="205")
        await publish("TSLA", bid="209.50", ask="210.00")  # a short buys back at the ask
        closed = await get_trade(client, auth, short["id"])
        assert (closed["exit_reason"], closed["exit_price"], closed["realized_pnl"]) == ("stop_loss", "210.00", "-20.00")

    async def test_a_target_fills_at_the_target_price(self, client, auth, publish, execute):
        await publish("AAPL", bid="100", ask="100")
        long = await execute(symbol="AAPL", side="BUY", quantity="10", stop_loss="95", take_profit="110")
        short = await execute(symbol="AAPL", side="SELL", quantity="4", take_profit="90")
        await publish("AAPL", bid="109.99", ask="110.50")  # the ask is no long's exit side
        assert (await get_trade(client, auth, long["id"]))["status"] == "OPEN"
        await publish("AAPL", bid="112.00", ask="112.10")  # crossed: still the target price
        closed = await get_trade(client, auth, long["id"])
        assert (closed["exit_reason"], closed["exit_price"], closed["realized_pnl"]) == ("take_profit", "110", "100.00")
        await publish("AAPL", bid="89.90", ask="90.00")  # touches the short's target at the ask
        closed = await get_trade(client, auth, short["id"])
        assert (closed["exit_reason"], closed["exit_price"], closed["realized_pnl"]) == ("take_profit", "90", "40.00")

    async def test_a_trailing_stop_follows_the_price_up_then_fires(self, client, auth, publish, execute, db):
        await publish("AAPL", bid="100", ask="100")
        trade = await execute(symbol="AAPL", side="BUY", quantity="10", trailing_stop_percent="2.5")
        assert (trade["water_mark"], trade["trailing_stop"]) == ("100", "97.500000")
        for bid in ("104", "108", "106", "105.31"):  # 108 x 0.975 = 105.30
            await publish("AAPL", bid=bid, ask=bid)
        now = await get_trade(client, auth, trade["id"])
        assert (now["status"], now["water_mark"], now["trailing_stop"]) == ("OPEN", "108", "105.300000")
        assert now["current_price"] == "108"  # marked when its water mark moved
        assert (await trade_doc(db, "alice", trade["id"]))["trigger"] == {"key": "AAPL|bid", "lo": 105_300_000,
                                                                           "hi": 108_000_001}
        await publish("AAPL", bid="105.20", ask="105.25")
        closed = await get_trade(client, auth, trade["id"])
        # 10 x (105.20 - 100) = 52.00: the trailing stop locked a gain in
        assert (closed["status"], closed["exit_reason"], closed["exit_price"], closed["realized_pnl"]) == (
            "CLOSED", "trailing_stop", "105.20", "52.00")

    async def test_a_quote_reads_only_the_trades_it_reaches(self, client, auth, publish, execute, db, services):
        await publish("AAPL", bid="100", ask="100")
        for uid in ("alice", "bob", "carol"):
            for _ in range(3):
                await execute(uid=uid, symbol="AAPL", side="BUY", quantity="1", stop_loss="90", take_profit="130")
            await execute(uid=uid, symbol="AAPL", side="SELL", quantity="1", stop_loss="120")
            await execute(uid=uid, symbol="AAPL", side="BUY", quantity="1")  # no exits: never a candidate
        reached = await execute(symbol="AAPL", side="BUY", quantity="1", stop_loss="95")
        trailing = await execute(uid="bob", symbol="AAPL", side="BUY", quantity="1", trailing_stop_percent="50")
        # the bid falls to 94: the stop at 95 fires, nothing else is read (the trailing long's
        # water mark 100 does not move, its stop 50 is far)
        await quote_ref(db, "AAPL").set({"bid": "94", "ask": "94", "updated_at": datetime.now(timezone.utc)})
        run = await services.triggers.run(await services.quotes.quotes.get("AAPL"))
        assert (run.candidates, run.closed, run.moved, run.failed) == (1, 1, 0, 0)
        assert (await get_trade(client, auth, reached["id"]))["exit_reason"] == "stop_loss"
        await quote_ref(db, "AAPL").set({"bid": "101", "ask": "101", "updated_at": datetime.now(timezone.utc)})
        run = await services.triggers.run(await services.quotes.quotes.get("AAPL"))
        assert (run.candidates, run.closed, run.moved) == (1, 0, 1)  # only the trailing stop's mark moves
        assert (await get_trade(client, auth, trailing["id"], uid="bob"))["water_mark"] == "101"

    async def test_a_failing_close_never_fails_the_publish(self, client, auth, publish, execute, services, monkeypatch):
        await publish("AAPL", bid="100", ask="100")
        trade = await execute(symbol="AAPL", side="BUY", quantity="1", stop_loss="95")

        async def broken_close(*args, **kwargs):
            raise RuntimeError("storage went away")

        monkeypatch.setattr(services.trades, "close", broken_close)
        r = await client.put("/quotes/AAPL", json={"bid": "94", "ask": "94"}, headers=auth.publisher())
        assert r.status_code == 200 and r.json()["bid"] == "94"
        assert (await get_trade(client, auth, trade["id"]))["status"] == "OPEN"  # the next quote or the job retries
        monkeypatch.undo()
        await publish("AAPL", bid="94", ask="94")
        assert (await get_trade(client, auth, trade["id"]))["exit_reason"] == "stop_loss"

    async def test_past_its_wait_a_publish_answers_and_the_closes_go_on(self, client, auth, publish, execute, db,
                                                                        services, monkeypatch):
        await publish("AAPL", bid="100", ask="100")
        trade = await execute(symbol="AAPL", side="BUY", quantity="1", stop_loss="95")
        monkeypatch.setattr(services.triggers.settings, "TRIGGER_WAIT_SECONDS", 0)
        await quote_ref(db, "AAPL").set({"bid": "94", "ask": "94", "updated_at": datetime.now(timezone.utc)})
        run = await services.triggers.on_quote(await services.quotes.quotes.get("AAPL"))
        assert run.pending  # the publish would answer now
        r = await client.put("/quotes/AAPL", json={"bid": "94", "ask": "94"}, headers=auth.publisher())
        assert r.status_code == 200
        await services.triggers.drain()
        assert (await get_trade(client, auth, trade["id"]))["exit_reason"] == "stop_loss"

    async def test_twenty_publishes_and_a_manual_close_realize_once(self, client, auth, publish, execute, services):
        await publish("AAPL", bid="100", ask="100")
        trade = await execute(symbol="AAPL", side="BUY", quantity="3", stop_loss="95")
        publishes = [client.put("/quotes/AAPL", json={"bid": "94.00", "ask": "94.00"}, headers=auth.publisher())
                     for _ in range(20)]
        manual = client.post("/trades/close-shadow", json={"shadow_id": trade["id"]}, headers=auth())
        *published, closed = await asyncio.gather(*publishes, manual)
        assert [r.status_code for r in published] == [200] * 20, [r.text for r in published if r.status_code != 200]
        assert closed.status_code in (200, 409), closed.text
        stored = await get_trade(client, auth, trade["id"])
        assert stored["status"] == "CLOSED" and stored["exit_reason"] in ("stop_loss", "Manual close")
        assert stored["realized_pnl"] == "-18.00"  # 3 x (94 - 100), whichever close won
        metrics = (await client.get("/trades/shadow/metrics", headers=auth())).json()
        assert (metrics["closed_trades"], metrics["open_trades"], metrics["realized_pnl"]) == (1, 0, "-18.00")
        api = (await client.get("/api/metrics", headers=auth())).json()
        assert api["totalTrades"] == 1
        assert await services.maintenance.verify("alice") == []


class TestUpdateExits:
    async def test_unauthenticated_is_401(self, client):
        assert (await client.patch("/trades/shadow/abc", json={"stop_loss": "1"})).status_code == 401

    async def test_moves_and_removes_exits_and_keeps_the_risk(self, client, auth, publish, execute, db):
        await publish("AAPL", bid="100", ask="100")
        trade = await execute(symbol="AAPL", side="BUY", quantity="10", stop_loss="95", take_profit="110")
        r = await client.patch(f"/trades/shadow/{trade['id']}", json={"stop_loss": "97"}, headers=auth())
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["stop_loss"], body["take_profit"], body["risk_amount"]) == ("97", "110", "50.00")  # R as at entry
        assert (await trade_doc(db, "alice", trade["id"]))["trigger"] == {"key": "AAPL|bid", "lo": 97_000_000,
                                                                          "hi": 110_000_000}
        r = await client.patch(f"/trades/shadow/{trade['id']}", json={"take_profit": None, "trailing_stop_percent": "5"},
                               headers=auth())
        body = r.json()
        assert "take_profit" not in body and (body["stop_loss"], body["trailing_stop_percent"]) == ("97", "5")
        # a trailing stop added later starts at the last mark (here the entry): 100 x 0.95 = 95 < 97
        assert (body["water_mark"], body["trailing_stop"]) == ("100", "95.000000")
        r = await client.patch(f"/trades/shadow/{trade['id']}",
                               json={"stop_loss": None, "trailing_stop_percent": None}, headers=auth())
        body = r.json()
        assert not {"stop_loss", "take_profit", "trailing_stop_percent", "water_mark", "trailing_stop"} & set(body)
        assert body["risk_amount"] == "50.00"
        assert "trigger" not in await trade_doc(db, "alice", trade["id"])
        await publish("AAPL", bid="90", ask="90")  # below every removed stop: nothing exits
        assert (await get_trade(client, auth, trade["id"]))["status"] == "OPEN"
        same = await client.patch(f"/trades/shadow/{trade['id']}", json={}, headers=auth())
        assert same.status_code == 200 and same.json()["status"] == "OPEN"

    async def test_a_moved_stop_is_the_one_that_fires(self, client, auth, publish, execute):
        await publish("AAPL", bid="100", ask="100")
        trade = await execute(symbol="AAPL", side="SELL", quantity="2", stop_loss="110")
        r = await client.patch(f"/trades/shadow/{trade['id']}", json={"stop_loss": "104"}, headers=auth())
        assert r.status_code == 200, r.text
        await publish("AAPL", bid="104.00", ask="104.05")
        closed = await get_trade(client, auth, trade["id"])
        assert (closed["exit_reason"], closed["exit_price"], closed["realized_pnl"]) == ("stop_loss", "104.05", "-8.10")

    @pytest.mark.parametrize("body,code", [
        ({"stop_loss": "100"}, "stop_loss_wrong_side"),
        ({"stop_loss": "120"}, "stop_loss_wrong_side"),
        ({"take_profit": "99"}, "take_profit_wrong_side"),
        ({"trailing_stop_percent": "100"}, "trailing_stop_invalid"),
        ({"trailing_stop_percent": "0"}, "trailing_stop_invalid"),
        ({"stop_loss": "-1"}, "validation_error"),
        ({"stop_loss": "abc"}, "validation_error"),
        ({"risk_amount": "5"}, "validation_error"),  # R is the entry's: not a field here
    ])
    async def test_bad_values_are_422_and_change_nothing(self, client, auth, publish, execute, db, body, code):
        await publish("AAPL", bid="100", ask="100")
        trade = await execute(symbol="AAPL", side="BUY", quantity="1", stop_loss="95")
        before = await trade_doc(db, "alice", trade["id"])
        r = await client.patch(f"/trades/shadow/{trade['id']}", json=body, headers=auth())
        assert r.status_code == 422 and r.json()["error"]["code"] == code, r.text
        assert await trade_doc(db, "alice", trade["id"]) == before

    async def test_another_users_trade_is_404_and_a_closed_one_409(self, client, auth, publish, execute, db):
        await publish("AAPL", bid="100", ask="100")
        trade = await execute(symbol="AAPL", side="BUY", quantity="1", stop_loss="95")
        r = await client.patch(f"/trades/shadow/{trade['id']}", json={"stop_loss": "90"}, headers=auth("mallory"))
        assert r.status_code == 404 and r.json()["error"]["code"] == "trade_not_found"
        assert (await trade_doc(db, "alice", trade["id"]))["stop_loss"] == "95"
        await client.post("/trades/close-shadow", json={"shadow_id": trade["id"]}, headers=auth())
        r = await client.patch(f"/trades/shadow/{trade['id']}", json={"stop_loss": "90"}, headers=auth())
        assert r.status_code == 409 and r.json()["error"]["code"] == "trade_closed"
        assert (await client.patch("/trades/shadow/bad..id", json={}, headers=auth())).status_code == 422

    async def test_a_patch_racing_a_close_never_reopens_the_trade(self, client, auth, publish, execute, db):
        await publish("AAPL", bid="100", ask="100")
        trade = await execute(symbol="AAPL", side="BUY", quantity="1", stop_loss="95")
        patches = [client.patch(f"/trades/shadow/{trade['id']}", json={"stop_loss": f"9{i}"}, headers=auth())
                   for i in range(5)]
        close = client.post("/trades/close-shadow", json={"shadow_id": trade["id"]}, headers=auth())
        *answers, closed = await asyncio.gather(*patches, close)
        assert closed.status_code == 200
        assert {r.status_code for r in answers} <= {200, 409}
        assert all(r.json()["error"]["code"] == "trade_closed" for r in answers if r.status_code == 409)
        doc = await trade_doc(db, "alice", trade["id"])
        assert doc["status"] == "CLOSED" and "trigger" not in doc


class TestMarkToMarketTriggers:
    async def test_the_job_exits_and_trails_from_quotes_written_without_a_publish(self, client, auth, publish,
                                                                                   execute, db, services):
        await publish("AAPL", bid="100", ask="100")
        stopped = await execute(symbol="AAPL", side="BUY", quantity="1", stop_loss="95")
        trailing = await execute(symbol="AAPL", side="SELL", quantity="1", trailing_stop_percent="10")
        await quote_ref(db, "AAPL").set({"bid": "94.50", "ask": "94.60", "updated_at": datetime.now(timezone.utc)})
        result = await mark_to_market(services.trades.trades, QuoteRepository(services.storage), batch_size=10,
                                      max_quote_age_seconds=60, triggers=services.triggers)
        assert (result.scanned, result.exited, result.water_marks_moved) == (2, 1, 1)
        closed = await get_trade(client, auth, stopped["id"])
        assert (closed["exit_reason"], closed["exit_price"], closed["realized_pnl"]) == ("stop_loss", "94.50", "-5.50")
        short = await get_trade(client, auth, trailing["id"])
        # the short's water mark follows the ask down: 94.60 x 1.10 = 104.06
        assert (short["water_mark"], short["trailing_stop"], short["current_pnl"]) == ("94.60", "104.060000", "5.40")
