"""Cost models over the API and the costs of fills, on the Firestore emulator."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from backend.strategy_service.quotes.repository import QuoteRepository
from backend.strategy_service.trades.marking import mark_to_market
from tests.support import trade_doc

MODEL = {"commission_per_order": "1", "slippage_bps": "5"}
ZERO_MODEL = {"commission_per_order": "0", "commission_per_unit": "0", "commission_percent": "0",
              "commission_min": "0", "commission_max": "0", "slippage_bps": "0"}


class TestStrategyCosts:
    async def test_unauthenticated_is_401(self, client):
        r = await client.get("/strategies/s1/costs")
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
        r = await client.put("/strategies/s1/costs", json=MODEL)
        assert r.status_code == 401

    async def test_no_model_until_one_is_set(self, client, auth):
        r = await client.get("/strategies/s1/costs", headers=auth())
        assert r.status_code == 200
        assert r.json() == {"strategy_id": "s1", "applies": "none", **ZERO_MODEL}

    async def test_put_replaces_the_model_and_delete_falls_back_to_the_default(self, client, auth):
        r = await client.put("/strategies/s1/costs", json={"commission_per_unit": "0.005", "commission_min": "1",
                                                           "commission_max": "100"}, headers=auth())
        assert r.status_code == 200, r.text
        assert r.json() == {**ZERO_MODEL, "strategy_id": "s1", "applies": "strategy", "commission_per_unit": "0.005",
                            "commission_min": "1", "commission_max": "100"}
        r = await client.put("/users/me/costs", json={"commission_percent": "0.1"}, headers=auth())
        assert r.status_code == 200 and r.json()["applies"] == "user_default"
        assert (await client.get("/strategies/s1/costs", headers=auth())).json()["applies"] == "strategy"
        other = (await client.get("/strategies/s2/costs", headers=auth())).json()
        assert (other["applies"], other["commission_percent"]) == ("user_default", "0.1")
        r = await client.delete("/strategies/s1/costs", headers=auth())
        assert r.status_code == 200 and r.json()["applies"] == "user_default"
        # another user's strategy of the same id has no model
        assert (await client.get("/strategies/s1/costs", headers=auth("bob"))).json()["applies"] == "none"

    async def test_bad_models_are_refused_and_nothing_is_written(self, client, auth):
        for body, code in (
            ({"commission_per_order": "-1"}, "invalid_cost"),
            ({"commission_min": "5", "commission_max": "1"}, "invalid_cost"),
            ({"commission_percent": "100"}, "invalid_cost"),
            ({"slippage_bps": "10000"}, "invalid_cost"),
            ({"slippage_bps": "lots"}, "validation_error"),
            ({"slippage_bps": "NaN"}, "validation_error"),
            ({"fee": "1"}, "validation_error"),
        ):
            r = await client.put("/strategies/s1/costs", json=body, headers=auth())
            assert r.status_code == 422, body
            assert r.json()["error"]["code"] == code, (body, r.json())
        assert (await client.get("/strategies/s1/costs", headers=auth())).json()["applies"] == "none"


class TestCostsOfFills:
    async def test_a_paper_round_trip_pays_slippage_and_commissions(self, client, auth, publish, execute, db, services):
        await client.put("/strategies/costly/costs", json=MODEL, headers=auth())
        await publish("AAPL", bid="99.90", ask="100.00")
        trade = await execute(symbol="AAPL", side="BUY", quantity="10", strategy_id="costly")
        # buys at the ask 100.00 + 5 bps = 100.05; 1.00 commission; 0.50 slippage
        assert (trade["entry_price"], trade["entry_base_price"], trade["entry_commission"], trade["entry_slippage"]) == (
            "100.05", "100.00", "1.00", "0.50")
        assert trade["notional"] == "1000.50" and trade["current_pnl"] == "-1.00"
        assert trade["cost_model"] == {**ZERO_MODEL, **MODEL}
        # a later change of the model never reprices this trade
        await client.put("/strategies/costly/costs", json={"commission_per_order": "50"}, headers=auth())
        await publish("AAPL", bid="110.00", ask="110.10")
        r = await client.post("/trades/close-shadow", json={"shadow_id": trade["id"]}, headers=auth())
        assert r.status_code == 200, r.text
        closed = r.json()
        # sells at the bid 110.00 - 5 bps = 109.945: gross (109.945 - 100.05) x 10 = 98.95
        assert (closed["exit_price"], closed["exit_base_price"], closed["exit_commission"], closed["exit_slippage"]) == (
            "109.945", "110.00", "1.00", "0.55")
        assert (closed["gross_pnl"], closed["commission"], closed["slippage"], closed["realized_pnl"]) == (
            "98.95", "2.00", "1.05", "96.95")
        assert closed["realized_pnl_percent"] == "9.69"  # 96.95 / 1,000.50
        stored = await trade_doc(db, "alice", trade["id"])
        assert stored["realized_pnl"] == "96.95" and stored["gross_pnl"] == "98.95"

        metrics = (await client.get("/trades/shadow/metrics", headers=auth())).json()
        assert (metrics["realized_pnl"], metrics["gross_pnl"], metrics["total_commission"],
                metrics["total_slippage"]) == ("96.95", "98.95", "2.00", "1.05")
        dash = (await client.get("/trades/shadow/dashboard", headers=auth())).json()
        assert (dash["total_pnl"], dash["gross_pnl"], dash["total_commission"], dash["total_slippage"]) == (
            96.95, 98.95, 2.0, 1.05)
        assert "net" in dash["conventions"]["pnl_basis"]
        assert await services.maintenance.verify("alice") == []

    async def test_an_open_trade_marks_net_of_both_commissions(self, client, auth, publish, execute, services):
        await client.put("/users/me/costs", json=MODEL, headers=auth())  # the user's default applies
        await publish("MSFT", bid="99.90", ask="100.00")
        await execute(symbol="MSFT", side="BUY", quantity="10", strategy_id="any")
        await publish("MSFT", bid="110.00", ask="110.10")
        metrics = (await client.get("/trades/shadow/metrics", headers=auth())).json()
        assert metrics["unrealized_pnl"] == "96.95"  # what closing now would realize
        result = await mark_to_market(services.trades.trades, QuoteRepository(services.storage), batch_size=10,
                                      max_quote_age_seconds=60)
        assert result.updated == 1
        trade = (await client.get("/trades/shadow", headers=auth())).json()["items"][0]
        assert (trade["current_price"], trade["current_pnl"]) == ("109.945", "96.95")

    async def test_a_backtest_fill_may_carry_its_own_commission(self, client, auth, execute, services):
        await client.put("/strategies/bt/costs", json={"commission_percent": "0.1"}, headers=auth())
        t0 = datetime.now(timezone.utc) - timedelta(days=2)
        trade = await execute(symbol="AAPL", side="SELL", quantity="4", strategy_id="bt", source="backtest",
                              price="250.00", filled_at=t0.isoformat(), commission="0.35")
        assert trade["entry_commission"] == "0.35" and trade["entry_price"] == "250.00"
        r = await client.post("/trades/close-shadow", json={
            "shadow_id": trade["id"], "price": "240.00", "closed_at": (t0 + timedelta(hours=1)).isoformat()},
            headers=auth())
        closed = r.json()
        # the exit pays the model's 0.1 % of 960.00 = 0.96; gross (250 - 240) x 4 = 40.00
        assert (closed["gross_pnl"], closed["exit_commission"], closed["commission"], closed["realized_pnl"]) == (
            "40.00", "0.96", "1.31", "38.69")
        assert await services.maintenance.verify("alice") == []

    async def test_a_paper_fill_cannot_choose_its_commission(self, client, auth, publish):
        await publish("AAPL", bid="99.90", ask="100.00")
        r = await client.post("/trades/execute", json={"symbol": "AAPL", "side": "BUY", "quantity": "1",
                                                       "strategy_id": "s", "commission": "0"}, headers=auth())
        assert r.status_code == 422 and r.json()["error"]["code"] == "price_not_allowed"
        r = await client.post("/trades/execute", json={"symbol": "AAPL", "side": "BUY", "quantity": "1",
                                                       "strategy_id": "s", "source": "backtest", "commission": "-1",
                                                       "price": "1", "filled_at": "2024-01-02T15:00:00Z"},
                              headers=auth())
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
