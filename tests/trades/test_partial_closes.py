"""Partial closes over the API, on the Firestore emulator."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

from google.api_core import exceptions as gexc
from google.cloud.firestore_v1.async_batch import AsyncWriteBatch

from tests.support import trade_doc

MODEL = {"commission_per_order": "1", "slippage_bps": "5"}


class TestPartialClose:
    async def test_two_parts_then_the_rest_to_the_cent(self, client, auth, publish, execute, db, services):
        await client.put("/strategies/parts/costs", json=MODEL, headers=auth())
        await publish("AAPL", bid="99.90", ask="100.00")
        trade = await execute(symbol="AAPL", side="BUY", quantity="10", strategy_id="parts")
        await publish("AAPL", bid="110.00", ask="110.10")
        r = await client.post("/trades/close-shadow", json={"shadow_id": trade["id"], "quantity": "3"}, headers=auth())
        assert r.status_code == 200, r.text
        part = r.json()
        assert (part["status"], part["open_quantity"], part["realized_pnl_to_date"]) == ("OPEN", "7.000000", "28.39")
        assert part["exits"][0]["realized_pnl"] == "28.39" and part["exits"][0]["realization_id"] == f"{trade['id']}~1"
        metrics = (await client.get("/trades/shadow/metrics", headers=auth())).json()
        # the part is realized at once; the position is not counted until it is fully closed
        assert (metrics["realized_pnl"], metrics["closed_trades"], metrics["open_trades"]) == ("28.39", 0, 1)
        await publish("AAPL", bid="90.00", ask="90.10")
        r = await client.post("/trades/close-shadow", json={"shadow_id": trade["id"], "quantity": "3"}, headers=auth())
        assert r.json()["exits"][1]["realized_pnl"] == "-31.59"
        await publish("AAPL", bid="105.00", ask="105.10")
        r = await client.post("/trades/close-shadow", json={"shadow_id": trade["id"]}, headers=auth())
        closed = r.json()
        assert (closed["status"], closed["open_quantity"], len(closed["exits"])) == ("CLOSED", "0.000000", 3)
        assert (closed["gross_pnl"], closed["commission"], closed["slippage"], closed["realized_pnl"],
                closed["realized_pnl_percent"], closed["exit_price"]) == (
            "18.99", "4.00", "1.02", "14.99", "1.50", "101.949")
        stored = await trade_doc(db, "alice", trade["id"])
        assert stored["status"] == "CLOSED" and len(stored["exits"]) == 3
        metrics = (await client.get("/trades/shadow/metrics", headers=auth())).json()
        assert (metrics["realized_pnl"], metrics["closed_trades"], metrics["wins"], metrics["gross_pnl"],
                metrics["total_commission"], metrics["max_drawdown_usd"]) == (
            "14.99", 1, 1, "18.99", "4.00", "-31.59")
        dash = (await client.get("/trades/shadow/dashboard", headers=auth())).json()
        assert (dash["total_trades"], dash["total_pnl"], dash["expectancy"], dash["largest_win"]) == (
            1, 14.99, 14.99, 14.99)
        assert "once" in dash["conventions"]["partial_closes"]
        api = (await client.get("/api/metrics", headers=auth())).json()
        assert (api["totalTrades"], api["totalPnl"], api["averagePnlPerTrade"]) == (1, 14.99, 14.99)
        assert await services.maintenance.verify("alice") == []

    async def test_each_part_is_realized_on_its_own_day(self, client, auth, execute, services):
        t0 = (datetime.now(timezone.utc) - timedelta(days=10)).replace(hour=15, minute=0, second=0, microsecond=0)
        trade = await execute(symbol="MSFT", side="SELL", quantity="4", source="backtest", price="300",
                              filled_at=t0.isoformat())
        for days, quantity, price in ((1, "1", "290"), (2, "2", "310"), (3, None, "280")):
            body = {"shadow_id": trade["id"], "price": price, "closed_at": (t0 + timedelta(days=days)).isoformat()}
            if quantity:
                body["quantity"] = quantity
            r = await client.post("/trades/close-shadow", json=body, headers=auth())
            assert r.status_code == 200, r.text
        dash = (await client.get("/trades/shadow/dashboard", headers=auth())).json()
        # short 4 @ 300: +10.00 on day 1, -20.00 on day 2, +20.00 on day 3; one position worth +10.00
        assert [(d["pnl"], d["trades"]) for d in dash["daily_pnl"]] == [(10.0, 0), (-20.0, 0), (20.0, 1)]
        assert (dash["total_trades"], dash["total_pnl"], dash["winning_trades"]) == (1, 10.0, 1)
        assert await services.maintenance.verify("alice") == []
        result = await services.maintenance.rebuild("alice")
        assert (result["realizations"], result["trades"]) == (3, 1)
        assert await services.maintenance.verify("alice") == []

    async def test_bad_quantities_are_refused_and_nothing_is_written(self, client, auth, publish, execute, db):
        await publish("AAPL", bid="99.90", ask="100.00")
        trade = await execute(symbol="AAPL", side="BUY", quantity="10")
        for quantity, code in (("0", "invalid_close_quantity"), ("-1", "invalid_close_quantity"),
                               ("10.5", "close_quantity_exceeds_open"), ("0.0000001", "quantity_precision"),
                               ("abc", "validation_error")):
            r = await client.post("/trades/close-shadow", json={"shadow_id": trade["id"], "quantity": quantity},
                                  headers=auth())
            assert r.status_code == 422, quantity
            assert r.json()["error"]["code"] == code, (quantity, r.json())
        stored = await trade_doc(db, "alice", trade["id"])
        assert stored["status"] == "OPEN" and not stored.get("exits")

    async def test_concurrent_parts_never_realize_more_than_the_position(self, client, auth, publish, execute, db,
                                                                        services):
        await publish("AAPL", bid="99.90", ask="100.00")
        trade = await execute(symbol="AAPL", side="BUY", quantity="10")
        responses = await asyncio.gather(*(
            client.post("/trades/close-shadow", json={"shadow_id": trade["id"], "quantity": "3"}, headers=auth())
            for _ in range(6)))
        codes = sorted(r.status_code for r in responses)
        refused = [r.json()["error"]["code"] for r in responses if r.status_code != 200]
        assert codes.count(200) == 3 and set(refused) <= {"close_quantity_exceeds_open", "trade_busy"}, refused
        stored = await trade_doc(db, "alice", trade["id"])
        assert [e["quantity"] for e in stored["exits"]] == ["3.000000"] * 3 and stored["open_quantity"] == "1.000000"
        assert await services.maintenance.verify("alice") == []

    async def test_a_retried_part_with_its_key_is_closed_once(self, client, auth, publish, execute, db):
        await publish("AAPL", bid="99.90", ask="100.00")
        trade = await execute(symbol="AAPL", side="BUY", quantity="10")
        body = {"shadow_id": trade["id"], "quantity": "2", "idempotency_key": "exit-1"}
        first = await client.post("/trades/close-shadow", json=body, headers=auth())
        again = await client.post("/trades/close-shadow", json=body, headers=auth())
        assert first.status_code == again.status_code == 200
        assert again.json()["open_quantity"] == "8.000000" and len(again.json()["exits"]) == 1


class TestTriggeredExitAfterAPart:
    async def test_a_stop_closes_what_remains_with_its_costs(self, client, auth, publish, execute, services):
        await client.put("/strategies/parts/costs", json=MODEL, headers=auth())
        await publish("AAPL", bid="99.90", ask="100.00")
        trade = await execute(symbol="AAPL", side="BUY", quantity="10", strategy_id="parts", stop_loss="95")
        await publish("AAPL", bid="110.00", ask="110.10")
        r = await client.post("/trades/close-shadow", json={"shadow_id": trade["id"], "quantity": "4"}, headers=auth())
        assert r.json()["status"] == "OPEN"
        await publish("AAPL", bid="94.00", ask="94.10")  # through the stop: the rest sells at the bid 94.00 - 5 bps
        await services.triggers.drain()  # closes still running after the publish answered
        closed = (await client.get(f"/trades/shadow/{trade['id']}", headers=auth())).json()
        assert closed["status"] == "CLOSED" and closed["exit_reason"] == "stop_loss"
        last = closed["exits"][-1]
        # 6 at 93.953: gross (93.953 - 100.05) x 6 = -36.582 -> -36.58; 1.00 + 0.60 of the entry's 1.00
        assert (last["quantity"], last["price"], last["gross_pnl"], last["entry_commission"], last["realized_pnl"]) == (
            "6.000000", "93.953", "-36.58", "0.60", "-38.18")
        assert await services.maintenance.verify("alice") == []


class TestReviewRegressions:
    async def test_a_backdated_part_after_a_checkpoint_moves_the_drawdown(self, client, auth, execute, services):
        d0 = (datetime.now(timezone.utc) - timedelta(days=20)).replace(hour=15, minute=0, second=0, microsecond=0)

        async def close(trade_id, day, price, quantity=None):
            body = {"shadow_id": trade_id, "price": price, "closed_at": (d0 + timedelta(days=day)).isoformat()}
            if quantity:
                body["quantity"] = quantity
            r = await client.post("/trades/close-shadow", json=body, headers=auth())
            assert r.status_code == 200, r.text

        def fill(day):
            return dict(symbol="AAPL", side="BUY", quantity="10", source="backtest", price="100",
                        filled_at=(d0 + timedelta(days=day)).isoformat())
        a = await execute(**fill(0))
        await close(a["id"], 1, "110")              # +100 on day 1
        b = await execute(**fill(2))
        await close(b["id"], 3, "105")              # +50 on day 3
        await client.get("/trades/shadow/dashboard", headers=auth())  # stores a fold checkpoint
        c = await execute(**fill(1))
        await close(c["id"], 2, "1", quantity="5")  # -495 on day 2, before the checkpoint
        metrics = (await client.get("/trades/shadow/metrics", headers=auth())).json()
        assert metrics["max_drawdown_usd"] == "-495.00"  # 100, -395, -345
        assert await services.maintenance.verify("alice") == []

    async def test_a_trigger_that_no_longer_applies_does_not_close(self, client, auth, publish, execute, services):
        await publish("AAPL", bid="99.90", ask="100.00")
        trade = await execute(symbol="AAPL", side="BUY", quantity="10", stop_loss="95")
        r = await client.patch(f"/trades/shadow/{trade['id']}", json={"stop_loss": None}, headers=auth())
        assert r.status_code == 200, r.text
        await publish("AAPL", bid="94.00", ask="94.10")
        # a trigger that saw the old stop: the close re-evaluates the rule on the trade it reads
        after = await services.trades.close("alice", trade["id"], exit_reason="stop_loss", trigger_price=D("94.00"))
        assert after.is_open and not after.exits

    async def test_a_trailing_stop_added_later_starts_at_the_quotes_exit_side(self, client, auth, publish, execute):
        await publish("AAPL", bid="99.00", ask="101.00")
        trade = await execute(symbol="AAPL", side="BUY", quantity="1")  # fills at the ask, 101.00
        r = await client.patch(f"/trades/shadow/{trade['id']}", json={"trailing_stop_percent": "1"}, headers=auth())
        assert (r.json()["water_mark"], r.json()["trailing_stop"]) == ("99.00", "98.010000")
        await publish("AAPL", bid="99.00", ask="101.00")
        stored = (await client.get(f"/trades/shadow/{trade['id']}", headers=auth())).json()
        assert stored["status"] == "OPEN"


class TestACommitThatAppliedButErred:
    async def test_a_retried_close_whose_first_commit_applied_is_recognised(self, client, auth, publish, execute,
                                                                           monkeypatch):
        await publish("AAPL", bid="99.90", ask="100.00")
        trade = await execute(symbol="AAPL", side="BUY", quantity="10")
        original, calls = AsyncWriteBatch.commit, []

        async def applied_then_lost(self, *args, **kwargs):
            result = await original(self, *args, **kwargs)
            calls.append(1)
            if len(calls) == 1:  # the write applied; its answer did not come back
                raise gexc.FailedPrecondition("the retry of an applied commit")
            return result

        monkeypatch.setattr(AsyncWriteBatch, "commit", applied_then_lost)
        r = await client.post("/trades/close-shadow", json={"shadow_id": trade["id"], "quantity": "3"}, headers=auth())
        assert r.status_code == 200, r.text
        assert (r.json()["open_quantity"], len(r.json()["exits"])) == ("7.000000", 1)  # one part, not two
