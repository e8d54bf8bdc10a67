"""Live fills (real broker executions) over the API, on the Firestore emulator."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from backend.strategy_service.quotes.repository import QuoteRepository
from backend.strategy_service.trades.marking import mark_to_market
from tests.support import trade_doc

T0 = (datetime.now(timezone.utc) - timedelta(days=3)).replace(hour=15, minute=0, second=0, microsecond=0)


def live(**extra):
    body = {"symbol": "NOQT", "side": "BUY", "quantity": "10", "strategy_id": "s1", "source": "live",
            "price": "100.05", "filled_at": T0.isoformat(), "commission": "0.35", "execution_id": "E-1",
            "broker_order_id": "O-9", "broker": "ibkr", "signal_id": "sig-1"}
    body.update(extra)
    return body


class TestLiveExecute:
    async def test_unauthenticated_is_401(self, client):
        assert (await client.post("/trades/execute", json=live())).status_code == 401

    async def test_a_live_fill_is_recorded_as_it_happened(self, client, auth, db, services):
        # a cost model for the strategy does not apply: the broker's price and commission are facts
        await client.put("/strategies/s1/costs", json={"commission_per_order": "9", "slippage_bps": "50"},
                         headers=auth())
        r = await client.post("/trades/execute", json=live(), headers=auth())  # no quote of NOQT exists
        assert r.status_code == 201, r.text
        t = r.json()
        assert (t["source"], t["status"], t["entry_price"], t["entry_commission"], t["notional"]) == (
            "live", "OPEN", "100.05", "0.35", "1000.50")
        assert (t["execution_id"], t["broker_order_id"], t["broker"], t["signal_id"]) == ("E-1", "O-9", "ibkr", "sig-1")
        assert t["created_at"].startswith(T0.date().isoformat())
        # the same execution again: the same trade, nothing recorded twice
        again = await client.post("/trades/execute", json=live(), headers=auth())
        assert again.status_code == 201 and again.json()["id"] == t["id"]
        other = await client.post("/trades/execute", json=live(price="100.06"), headers=auth())
        assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
        assert (await trade_doc(db, "alice", t["id"]))["entry_price"] == "100.05"

    async def test_bad_live_fills_are_refused(self, client, auth):
        for body, code in (
            ({**live(), "execution_id": None}, "execution_id_required"),
            ({**live(), "price": None}, "backtest_fill_required"),
            (live(filled_at=(datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()), "time_in_future"),
            (live(commission="-1"), "validation_error"),
        ):
            r = await client.post("/trades/execute", json={k: v for k, v in body.items() if v is not None},
                                  headers=auth())
            assert r.status_code == 422, body
            assert r.json()["error"]["code"] == code, (body, r.json())


class TestLiveClose:
    async def test_unauthenticated_is_401(self, client):
        r = await client.post("/trades/close-shadow", json={"source": "live", "strategy_id": "s1", "symbol": "NOQT"})
        assert r.status_code == 401

    async def test_parts_close_the_oldest_position_once_each(self, client, auth, services):
        first = (await client.post("/trades/execute", json=live(), headers=auth())).json()
        second = (await client.post("/trades/execute", json=live(execution_id="E-2", filled_at=(T0 + timedelta(
            minutes=5)).isoformat()), headers=auth())).json()

        async def close(execution_id, quantity=None, price="101.00"):
            body = {"source": "live", "strategy_id": "s1", "symbol": "noqt", "price": price, "commission": "0.35",
                    "closed_at": (T0 + timedelta(hours=1)).isoformat(), "execution_id": execution_id}
            if quantity:
                body["quantity"] = quantity
            return await client.post("/trades/close-shadow", json=body, headers=auth())

        r = await close("X-1", "4")
        assert r.status_code == 200, r.text
        assert (r.json()["id"], r.json()["open_quantity"]) == (first["id"], "6.000000")
        again = await close("X-1", "4")  # re-sent: nothing closed twice
        assert (again.json()["id"], again.json()["open_quantity"]) == (first["id"], "6.000000")
        r = await close("X-2")  # the rest of the oldest
        assert (r.json()["id"], r.json()["status"]) == (first["id"], "CLOSED")
        # (101.00 - 100.05) x 10 = 9.50 gross; 0.35 entry + 0.35 + 0.35 exits
        assert (r.json()["gross_pnl"], r.json()["commission"], r.json()["realized_pnl"]) == ("9.50", "1.05", "8.45")
        r = await close("X-3")
        assert (r.json()["id"], r.json()["status"]) == (second["id"], "CLOSED")
        r = await close("X-4")
        assert r.status_code == 409 and r.json()["error"]["code"] == "no_open_live_position"
        r = await client.post("/trades/close-shadow", json={"source": "live", "symbol": "NOQT"}, headers=auth())
        assert r.status_code == 422 and r.json()["error"]["code"] == "close_target_required"
        dash = (await client.get("/trades/shadow/dashboard", params={"source": "live"}, headers=auth())).json()
        assert dash["total_trades"] == 2
        assert await services.maintenance.verify("alice") == []


    async def test_a_live_close_of_a_backtest_trade_by_its_id_is_refused(self, client, auth):
        bt = {"symbol": "NOQT", "side": "BUY", "quantity": "10", "strategy_id": "s1", "source": "backtest",
              "price": "100", "filled_at": T0.isoformat()}
        trade = (await client.post("/trades/execute", json=bt, headers=auth())).json()
        r = await client.post("/trades/close-shadow", json={
            "source": "live", "shadow_id": trade["id"], "price": "101", "closed_at": (T0 + timedelta(hours=1)).isoformat(),
            "execution_id": "X-bt"}, headers=auth())
        assert r.status_code == 422 and r.json()["error"]["code"] == "close_source_mismatch", r.text
        got = (await client.get(f"/trades/shadow/{trade['id']}", headers=auth())).json()
        assert got["status"] == "OPEN"

    async def test_one_execution_closes_several_positions_first_in_first_out(self, client, auth, db, services):
        first = (await client.post("/trades/execute", json=live(), headers=auth())).json()  # 10 @ 100.05
        second = (await client.post("/trades/execute", json=live(execution_id="E-2", price="101.05", filled_at=(
            T0 + timedelta(minutes=5)).isoformat()), headers=auth())).json()  # 10 @ 101.05
        body = {"source": "live", "strategy_id": "s1", "symbol": "NOQT", "price": "102.00", "commission": "1.50",
                "quantity": "15", "closed_at": (T0 + timedelta(hours=1)).isoformat(), "execution_id": "X-fifo"}
        r = await client.post("/trades/close-shadow", json=body, headers=auth())
        assert r.status_code == 200, r.text
        assert (r.json()["id"], r.json()["open_quantity"]) == (second["id"], "5.000000")  # the last one it closed
        oldest = (await client.get(f"/trades/shadow/{first['id']}", headers=auth())).json()
        # 10 of 15 units: 1.00 of the 1.50 commission; (102.00 - 100.05) x 10 = 19.50 gross, 0.35 + 1.00
        assert (oldest["status"], oldest["gross_pnl"], oldest["commission"], oldest["realized_pnl"]) == (
            "CLOSED", "19.50", "1.35", "18.15")
        part = r.json()["exits"][0]
        assert (part["quantity"], part["commission"]) == ("5.000000", "0.50")
        again = await client.post("/trades/close-shadow", json=body, headers=auth())  # re-sent: nothing twice
        assert (again.json()["id"], again.json()["open_quantity"]) == (second["id"], "5.000000")
        other = await client.post("/trades/close-shadow", json={**body, "quantity": "14"}, headers=auth())
        assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
        too_many = await client.post("/trades/close-shadow", json={**body, "quantity": "6", "execution_id": "X-6"},
                                     headers=auth())
        assert too_many.status_code == 422 and too_many.json()["error"]["code"] == "close_quantity_exceeds_open"
        marker = (await db.collection("users", "alice", "liveExecutions").document("X-fifo").get()).to_dict()
        assert marker["trade_ids"] == [first["id"], second["id"]]
        assert await services.maintenance.verify("alice") == []


class TestMarkToMarket:
    async def test_live_trades_are_never_marked_at_our_quotes(self, client, auth, publish, services):
        r = await client.post("/trades/execute", json=live(symbol="MSFT", execution_id="E-m"), headers=auth())
        await publish("MSFT", bid="150.00", ask="150.10")
        result = await mark_to_market(services.trades.trades, QuoteRepository(services.storage), batch_size=10,
                                      max_quote_age_seconds=60)
        assert (result.live, result.updated) == (1, 0)
        stored = (await client.get(f"/trades/shadow/{r.json()['id']}", headers=auth())).json()
        assert stored["current_price"] == "100.05"
        # nor by the metrics: its unrealized P&L is its stored one (minus the entry commission)
        metrics = (await client.get("/trades/shadow/metrics", params={"source": "live"}, headers=auth())).json()
        assert metrics["unrealized_pnl"] == "-0.35"


class TestLiveCloseConcurrency:
    async def test_two_executions_at_once_close_two_positions(self, client, auth, db):
        ids = []
        for k in range(2):
            r = await client.post("/trades/execute", json=live(execution_id=f"O-{k}", filled_at=(
                T0 + timedelta(minutes=k)).isoformat()), headers=auth())
            ids.append(r.json()["id"])

        def close(execution_id):
            return client.post("/trades/close-shadow", json={
                "source": "live", "strategy_id": "s1", "symbol": "NOQT", "price": "101.00", "commission": "0.35",
                "closed_at": (T0 + timedelta(hours=1)).isoformat(), "execution_id": execution_id}, headers=auth())

        first, second = await asyncio.gather(close("C-0"), close("C-1"))
        assert first.status_code == second.status_code == 200, (first.text, second.text)
        assert {first.json()["id"], second.json()["id"]} == set(ids)  # each closed its own position
        for trade_id in ids:
            assert (await trade_doc(db, "alice", trade_id))["status"] == "CLOSED"
        # the same execution re-sent at once and later: one close, the first answer
        again = await asyncio.gather(close("C-0"), close("C-0"))
        assert {r.json()["id"] for r in again} == {first.json()["id"]}
        changed = await client.post("/trades/close-shadow", json={
            "source": "live", "strategy_id": "s1", "symbol": "NOQT", "price": "150.00", "commission": "0.35",
            "closed_at": (T0 + timedelta(hours=1)).isoformat(), "execution_id": "C-0"}, headers=auth())
        assert changed.status_code == 422 and changed.json()["error"]["code"] == "idempotency_key_reused"

    async def test_executions_across_positions_at_once_close_each_unit_once(self, client, auth, db, services):
        for k in range(3):  # 3 positions of 10
            r = await client.post("/trades/execute", json=live(execution_id=f"P-{k}", filled_at=(
                T0 + timedelta(minutes=k)).isoformat()), headers=auth())
            assert r.status_code == 201

        def close(execution_id):
            return client.post("/trades/close-shadow", json={
                "source": "live", "strategy_id": "s1", "symbol": "NOQT", "price": "101.00", "commission": "0.30",
                "quantity": "15", "closed_at": (T0 + timedelta(hours=1)).isoformat(), "execution_id": execution_id},
                headers=auth())

        answers = await asyncio.gather(close("F-0"), close("F-1"), close("F-0"))
        assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
        trades = [d.to_dict() async for d in db.collection("users", "alice", "shadowTradeHistory").stream()]
        assert all(t["status"] == "CLOSED" for t in trades) and len(trades) == 3  # 30 units, each once
        assert await services.maintenance.verify("alice") == []

    async def test_an_execution_that_read_the_oldest_before_another_took_part_of_it_goes_on(
            self, client, auth, services, monkeypatch):
        for k in range(2):  # two positions of 10
            assert (await client.post("/trades/execute", json=live(execution_id=f"Q-{k}", filled_at=(
                T0 + timedelta(minutes=k)).isoformat()), headers=auth())).status_code == 201
        repo = services.trades.trades
        stale = await repo.oldest_open_live("alice", strategy_id="s1", symbol="NOQT", limit=100)
        body = {"source": "live", "strategy_id": "s1", "symbol": "NOQT", "price": "101.00", "commission": "0",
                "closed_at": (T0 + timedelta(hours=1)).isoformat()}
        r = await client.post("/trades/close-shadow", json={**body, "quantity": "5", "execution_id": "R-1"},
                              headers=auth())
        assert r.status_code == 200
        real = type(repo).oldest_open_live
        calls = []

        async def first_stale(self, *args, **kwargs):  # the second execution read before R-1
            calls.append(1)
            return stale if len(calls) == 1 else await real(self, *args, **kwargs)

        monkeypatch.setattr(type(repo), "oldest_open_live", first_stale)
        r = await client.post("/trades/close-shadow", json={**body, "quantity": "8", "execution_id": "R-2"},
                              headers=auth())
        assert r.status_code == 200, r.text  # 5 of the oldest, 3 of the next, as in order
        assert r.json()["open_quantity"] == "7.000000" and len(calls) == 2
        assert await services.maintenance.verify("alice") == []

    async def test_an_execution_id_recorded_on_another_trade_answers_that_trade(self, client, auth):
        ids = [(await client.post("/trades/execute", json=live(execution_id=f"S-{k}", filled_at=(
            T0 + timedelta(minutes=k)).isoformat()), headers=auth())).json()["id"] for k in range(2)]
        body = {"source": "live", "price": "101.00", "commission": "0.35",
                "closed_at": (T0 + timedelta(hours=1)).isoformat(), "execution_id": "T-1"}
        first = await client.post("/trades/close-shadow", json={**body, "shadow_id": ids[0]}, headers=auth())
        assert first.status_code == 200 and first.json()["status"] == "CLOSED"
        same = await client.post("/trades/close-shadow", json={**body, "shadow_id": ids[1]}, headers=auth())
        assert same.status_code == 200 and same.json()["id"] == ids[0]  # the execution's own answer
        other = await client.post("/trades/close-shadow", json={**body, "shadow_id": ids[1], "price": "99"},
                                  headers=auth())
        assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
        still = (await client.get(f"/trades/shadow/{ids[1]}", headers=auth())).json()
        assert still["status"] == "OPEN"

    async def test_a_signal_holds_a_bounded_number_of_fills(self, client, auth, monkeypatch):
        from backend.strategy_service.trades import service as trades_service
        monkeypatch.setattr(trades_service, "MAX_SIGNAL_FILLS", 2)
        for k in range(2):
            r = await client.post("/trades/execute", json=live(execution_id=f"B-{k}"), headers=auth())
            assert r.status_code == 201, r.text
        r = await client.post("/trades/execute", json=live(execution_id="B-2"), headers=auth())
        assert r.status_code == 422 and r.json()["error"]["code"] == "too_many_signal_fills", r.text
        assert (await client.post("/trades/execute", json=live(execution_id="B-0"), headers=auth())).status_code == 201

    async def test_a_fill_of_another_side_for_a_signal_is_refused(self, client, auth):
        r = await client.post("/trades/execute", json=live(execution_id="S-1", signal_id="same"), headers=auth())
        assert r.status_code == 201
        r = await client.post("/trades/execute", json=live(execution_id="S-2", signal_id="same", side="SELL"),
                              headers=auth())
        assert r.status_code == 422 and r.json()["error"]["code"] == "signal_mismatch"

    async def test_live_positions_are_outside_the_open_notional_limit(self, client, auth, services):
        await client.post("/trades/execute", json=live(execution_id="N-1"), headers=auth())
        assert await services.trades.trades.open_notional("alice") == 0
        assert await services.maintenance.verify("alice") == []

    async def test_a_malformed_shortfall_cursor_is_422(self, client, auth):
        for cursor in ("a/b", "..", "__x__"):
            r = await client.get("/trades/shortfall", params={"cursor": cursor}, headers=auth())
            assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error", cursor
