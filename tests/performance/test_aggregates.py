"""The aggregates maintained at close, on the emulator: a randomized run of executes,
closes and partial closes with trading costs across many days whose aggregates and served
metrics equal a full recomputation (``verify``), through the checkpoint's fast and fallback
paths."""

from __future__ import annotations

import asyncio
import os
import random
from datetime import datetime, timedelta, timezone

from backend.strategy_service.performance.filters import TradeFilter


class TestRandomizedRunEqualsFullRecomputation:
    async def test_unauthenticated_dashboard_is_401(self, client):
        assert (await client.get("/trades/shadow/dashboard")).status_code == 401

    async def test_random_executes_and_closes_across_many_days(self, client, auth, publish, execute, db, services):
        rng = random.Random(20261122)
        symbols, strategies = ["AAPL", "MSFT", "BRK.B"], ["ma.cross:v1", "s2"]
        # trading costs: a percent with a minimum, and per unit with slippage
        await client.put("/strategies/ma.cross:v1/costs", headers=auth(),
                         json={"commission_percent": "0.05", "commission_min": "1"})
        await client.put("/strategies/s2/costs", headers=auth(),
                         json={"commission_per_unit": "0.005", "commission_min": "0.35", "slippage_bps": "2"})
        base = datetime(2023, 3, 1, 14, 30, tzinfo=timezone.utc)

        async def backtest_trade(i: int) -> None:
            fill = base + timedelta(days=rng.randrange(0, 400), minutes=rng.randrange(0, 600))
            close = fill + timedelta(minutes=rng.randrange(0, 3000))  # some close on a later day
            body = {"symbol": rng.choice(symbols), "side": rng.choice(["BUY", "SELL"]),
                    "quantity": str(rng.randrange(1, 50)), "strategy_id": rng.choice(strategies),
                    "source": "backtest", "price": f"{rng.randrange(5000, 20000) / 100}",
                    "filled_at": fill.isoformat()}
            if rng.random() < 0.5:
                body["risk_amount"] = str(rng.randrange(1, 300))
            r = await client.post("/trades/execute", json=body, headers=auth())
            assert r.status_code == 201, r.text
            trade = r.json()
            if rng.random() < 0.3:  # a part closed earlier (some stay open with it)
                part = fill + (close - fill) * rng.random()
                r = await client.post("/trades/close-shadow", headers=auth(), json={
                    "shadow_id": trade["id"], "price": f"{rng.randrange(5000, 20000) / 100}",
                    "closed_at": part.isoformat(), "quantity": str(max(1, int(body["quantity"]) // 3)),
                    **({"commission": "0.35"} if rng.random() < 0.3 else {})})
                assert r.status_code == 200, r.text
                if r.json()["status"] == "CLOSED":
                    return
            if rng.random() < 0.9:  # some stay open
                price = f"{rng.randrange(5000, 20000) / 100}"
                r = await client.post("/trades/close-shadow", headers=auth(), json={
                    "shadow_id": trade["id"], "price": price, "closed_at": close.isoformat()})
                assert r.status_code == 200, r.text

        # closes arrive out of order and concurrently (batches of 20 in flight);
        # RANDOM_RUN_TRADES=3000 scripts/test -k random_executes runs a bigger one
        total = int(os.environ.get("RANDOM_RUN_TRADES", "240")) // 20 * 20
        for start in range(0, total, 20):
            await asyncio.gather(*[backtest_trade(i) for i in range(start, start + 20)])
            if start == total // 2 // 20 * 20:  # a read in the middle stores fold checkpoints...
                assert (await client.get("/trades/shadow/dashboard", headers=auth())).status_code == 200
                await client.get("/trades/shadow/metrics", params={"symbol": "BRK.B"}, headers=auth())
        # ... that the later closes, many on earlier days, invalidate
        await publish("AAPL", bid="100", ask="100.10")
        paper = [await execute(symbol="AAPL", side=rng.choice(["BUY", "SELL"]), quantity="3") for _ in range(10)]
        await publish("AAPL", bid="101.37", ask="101.40")
        await asyncio.gather(*[client.post("/trades/close-shadow", json={"shadow_id": t["id"]}, headers=auth()) for t in paper])

        assert await services.maintenance.verify("alice") == []
        # verify's reads stored checkpoints: a read now folds only the closes of the latest
        # day's last minutes (the 10 paper closes), however many trades and days there are
        selection = await services.performance.load_selection("alice", TradeFilter())
        assert selection.folded <= 10 and len(selection.rollup.by_day) > 100 and selection.fold.count > 200
        assert await services.maintenance.verify("alice") == []


class TestBacktestTrades:
    async def test_unauthenticated_execute_is_401(self, client):
        r = await client.post("/trades/execute", json={"symbol": "A", "side": "BUY", "quantity": "1",
                                                       "strategy_id": "s", "source": "backtest"})
        assert r.status_code == 401

    async def test_fill_price_and_time_rules(self, client, auth, publish, execute):
        def body(**extra):
            return {"symbol": "AAPL", "side": "BUY", "quantity": "2", "strategy_id": "s", **extra}

        async def post(path, payload):
            return await client.post(path, json=payload, headers=auth())

        when = "2024-03-04T15:00:00+00:00"
        # a paper trade never chooses its fill price or time
        for extra in ({"price": "1"}, {"filled_at": when}, {"source": "paper", "price": "1", "filled_at": when}):
            r = await post("/trades/execute", body(**extra))
            assert r.status_code == 422 and r.json()["error"]["code"] == "price_not_allowed", r.text
        for extra in ({}, {"price": "10"}, {"filled_at": when}):
            r = await post("/trades/execute", body(source="backtest", **extra))
            assert r.status_code == 422 and r.json()["error"]["code"] == "backtest_fill_required"
        naive = await post("/trades/execute", body(source="backtest", price="10", filled_at="2024-03-04T15:00:00"))
        assert naive.status_code == 422 and naive.json()["error"]["code"] == "validation_error"
        future = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
        r = await post("/trades/execute", body(source="backtest", price="10", filled_at=future))
        assert r.status_code == 422 and r.json()["error"]["code"] == "time_in_future"

        r = await post("/trades/execute", body(source="backtest", price="10.125", filled_at=when))
        assert r.status_code == 201, r.text
        trade = r.json()
        assert (trade["entry_price"], trade["created_at"], trade["source"]) == ("10.125", when, "backtest")
        close = {"shadow_id": trade["id"]}
        r = await post("/trades/close-shadow", close)  # no price: refused, stays open
        assert r.status_code == 422 and r.json()["error"]["code"] == "backtest_fill_required"
        r = await post("/trades/close-shadow", {**close, "price": "11", "closed_at": "2024-03-04T14:59:59+00:00"})
        assert r.status_code == 422 and r.json()["error"]["code"] == "closed_before_filled"
        r = await post("/trades/close-shadow", {**close, "price": "11", "closed_at": "2024-03-05T10:00:00-05:00"})
        assert r.status_code == 200, r.text
        assert (r.json()["realized_pnl"], r.json()["closed_at"]) == ("1.75", "2024-03-05T15:00:00+00:00")  # 2 x 0.875

        await publish("AAPL", price="100")
        paper = await execute(symbol="AAPL", side="BUY", quantity="1")
        r = await post("/trades/close-shadow", {"shadow_id": paper["id"], "price": "500", "closed_at": when})
        assert r.status_code == 422 and r.json()["error"]["code"] == "price_not_allowed"
        dash = (await client.get("/trades/shadow/dashboard", headers=auth())).json()
        assert (dash["total_pnl"], dash["daily_pnl"][0]["date"]) == (1.75, "2024-03-05")
