"""Dashboard, /api/metrics and user settings through HTTP, on the emulator.

Trades spread over several days are backtest trades (the client gives each fill's price
and time); paper trades fill at the live quote at server time."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from asgi_lifespan import LifespanManager

from backend.strategy_service.main import create_app


async def _trade(client, auth, publish, execute, *, symbol, side, qty, entry, exit_, strategy="s1", uid="alice", risk=None):
    await publish(symbol, price=entry)
    body = {"symbol": symbol, "side": side, "quantity": qty, "strategy_id": strategy}
    if risk:
        body["risk_amount"] = risk
    t = await execute(uid=uid, **body)
    await publish(symbol, price=exit_)
    r = await client.post("/trades/close-shadow", json={"shadow_id": t["id"]}, headers=auth(uid))
    assert r.status_code == 200, r.text
    return r.json()


async def _bt(client, auth, *, symbol, side, qty, entry, exit_, closed_at, strategy="s1", uid="alice", risk=None):
    """A backtest trade filled an hour before ``closed_at``."""
    body = {"symbol": symbol, "side": side, "quantity": qty, "strategy_id": strategy, "source": "backtest",
            "price": entry, "filled_at": (closed_at - timedelta(hours=1)).isoformat()}
    if risk:
        body["risk_amount"] = risk
    r = await client.post("/trades/execute", json=body, headers=auth(uid))
    assert r.status_code == 201, r.text
    r = await client.post("/trades/close-shadow", json={"shadow_id": r.json()["id"], "price": exit_,
                                                        "closed_at": closed_at.isoformat()}, headers=auth(uid))
    assert r.status_code == 200, r.text
    return r.json()


class TestDashboard:
    async def test_unauthenticated_is_401(self, client):
        assert (await client.get("/trades/shadow/dashboard")).status_code == 401

    async def test_several_days_strategies_symbols_and_sources_by_hand(self, client, auth, publish, execute, db, services):
        # realized: +300 AAPL s1, -150 GOOG s1 (Jan 1); +200 MSFT s2 (Jan 2); -100 TSLA s2, +400 AAPL s1 (Jan 3)
        ny = lambda d, h=0: datetime(2024, 1, d, 20, h, tzinfo=timezone.utc)  # 15:00 New York
        await _bt(client, auth, symbol="AAPL", side="BUY", qty="10", entry="100", exit_="130", risk="150", closed_at=ny(1))
        await _bt(client, auth, symbol="GOOG", side="SELL", qty="5", entry="100", exit_="130", closed_at=ny(1, 5))
        await _bt(client, auth, symbol="MSFT", side="BUY", qty="4", entry="50", exit_="100", strategy="s2", closed_at=ny(2))
        await _bt(client, auth, symbol="TSLA", side="BUY", qty="1", entry="300", exit_="200", strategy="s2", closed_at=ny(3))
        await _bt(client, auth, symbol="AAPL", side="SELL", qty="8", entry="100", exit_="50", risk="200", closed_at=ny(3, 5))
        await _bt(client, auth, symbol="AAPL", side="BUY", qty="1", entry="1", exit_="2", uid="bob", closed_at=ny(1))

        r = await client.get("/trades/shadow/dashboard", headers=auth())
        assert r.status_code == 200
        body = json.loads(r.text)  # numbers stay numbers with two decimals in the raw JSON
        assert '"total_pnl":650.00' in r.text and '"profit_factor":3.60' in r.text
        assert body["total_trades"] == 5 and body["win_rate_trades"] == 60 and body["win_rate_days"] == 100
        assert (body["avg_win"], body["avg_loss"], body["trading_days"]) == (300, 125, 3)
        assert [d["pnl"] for d in body["daily_pnl"]] == [150, 200, 300]
        assert body["equity_curve"][-1]["equity"] == 100650
        assert (body["r_trades"], body["trades_without_risk"], body["expectancy_r"]) == (2, 3, 2)  # 300/150, 400/200

        async def dash(**params):
            resp = await client.get("/trades/shadow/dashboard", params=params, headers=auth())
            assert resp.status_code == 200, resp.text
            return resp.json()

        assert (await dash(start_date="2024-01-02"))["total_pnl"] == 500  # 200 + 300
        assert (await dash(end_date="2024-01-01"))["total_pnl"] == 150
        assert (await dash(start_date="2024-01-02", end_date="2024-01-02"))["total_trades"] == 1
        assert (await dash(source="backtest"))["total_pnl"] == 650
        assert (await dash(source="paper"))["total_trades"] == 0
        # a paper trade closes today, at the live quote: the source filter splits them
        await _trade(client, auth, publish, execute, symbol="MSFT", side="BUY", qty="2", entry="10", exit_="11")
        assert (await dash(source="paper"))["total_pnl"] == 2
        assert (await dash(source="backtest"))["total_pnl"] == 650
        assert (await dash())["total_pnl"] == 652
        assert (await dash(source="live"))["total_trades"] == 0
        assert (await dash(strategy_id="s2"))["total_pnl"] == 100
        assert (await dash(symbol="aapl"))["total_pnl"] == 700
        assert (await dash(symbol="msft", end_date="2024-12-31"))["total_pnl"] == 200
        bad = await client.get("/trades/shadow/dashboard", params={"start_date": "2024-02-01", "end_date": "2024-01-01"}, headers=auth())
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_date_range"

        metrics = await client.get("/trades/shadow/metrics", params={"strategy_id": "s1"}, headers=auth())
        assert metrics.json()["realized_pnl"] == "552.00" and metrics.json()["closed_trades"] == 4  # with the paper +2
        assert await services.maintenance.verify("alice") == []

    async def test_starting_capital_and_time_zone_come_from_settings(self, client, auth, publish, execute, db, services):
        await _bt(client, auth, symbol="AAPL", side="BUY", qty="1", entry="100", exit_="150",
                  closed_at=datetime(2024, 1, 2, 3, 0, tzinfo=timezone.utc))  # Jan 1, 22:00 in New York
        r = await client.put("/users/me/settings", json={"starting_capital": "1000"}, headers=auth())
        assert r.json() == {"starting_capital": "1000.00", "timezone": "America/New_York", "calendar": "XNYS"}
        body = (await client.get("/trades/shadow/dashboard", headers=auth())).json()
        assert (body["total_return"], body["daily_pnl"][0]["date"]) == (5, "2024-01-01")  # 50 / 1000
        await client.put("/users/me/settings", json={"timezone": "UTC"}, headers=auth())
        # the rebuild into UTC runs beside the live aggregates, outside the request: until it
        # switches, the answer stays exact in New York days and says that it is rebuilding
        body = (await client.get("/trades/shadow/dashboard", headers=auth())).json()
        if "rebuild" in body["conventions"]:
            assert body["daily_pnl"][0]["date"] == "2024-01-01" and "UTC" in body["conventions"]["rebuild"]
        for _ in range(100):
            body = (await client.get("/trades/shadow/dashboard", headers=auth())).json()
            if "rebuild" not in body["conventions"]:
                break
            await asyncio.sleep(0.1)
        assert body["daily_pnl"][0]["date"] == "2024-01-02" and body["conventions"]["time_zone"] == "UTC"
        assert await services.maintenance.verify("alice") == []


class TestUserSettings:
    async def test_unauthenticated_is_401(self, client):
        assert (await client.get("/users/me/settings")).status_code == 401
        assert (await client.put("/users/me/settings", json={})).status_code == 401

    async def test_defaults_and_validation(self, client, auth):
        assert (await client.get("/users/me/settings", headers=auth())).json() == {
            "starting_capital": "100000.00", "timezone": "America/New_York", "calendar": "XNYS"}
        bad_tz = await client.put("/users/me/settings", json={"timezone": "Mars/Olympus"}, headers=auth())
        assert bad_tz.status_code == 422 and bad_tz.json()["error"]["code"] == "invalid_timezone"
        bad_calendar = await client.put("/users/me/settings", json={"calendar": "MARS"}, headers=auth())
        assert bad_calendar.status_code == 422 and bad_calendar.json()["error"]["code"] == "invalid_calendar"
        crypto = await client.put("/users/me/settings", json={"calendar": "24/7"}, headers=auth())
        assert crypto.json()["calendar"] == "24/7"
        assert (await client.put("/users/me/settings", json={"starting_capital": "-5"}, headers=auth())).status_code == 422


class TestApiMetrics:
    async def test_unauthenticated_is_401(self, client):
        assert (await client.get("/api/metrics")).status_code == 401

    async def test_wins_losses_break_even_and_survives_a_restart(self, client, auth, publish, execute, settings):
        empty = (await client.get("/api/metrics", headers=auth())).json()
        assert empty == {"totalTrades": 0, "winRate": 0, "totalPnl": 0, "averagePnlPerTrade": 0, "wins": 0, "losses": 0, "breakEven": 0}
        await _trade(client, auth, publish, execute, symbol="A", side="BUY", qty="1", entry="10", exit_="13.50")  # +3.50
        await _trade(client, auth, publish, execute, symbol="A", side="BUY", qty="1", entry="10", exit_="9")  # -1.00
        await _trade(client, auth, publish, execute, symbol="A", side="BUY", qty="1", entry="10", exit_="10")  # 0.00
        r = await client.get("/api/metrics", headers=auth())
        assert '"winRate":33.33' in r.text and '"averagePnlPerTrade":0.83' in r.text
        assert r.json() == {"totalTrades": 3, "winRate": 33.33, "totalPnl": 2.5, "averagePnlPerTrade": 0.83,
                            "wins": 1, "losses": 1, "breakEven": 1}
        fresh = create_app(settings)  # a new process: the record lives in Firestore
        async with LifespanManager(fresh):
            import httpx
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fresh), base_url="http://x") as c2:
                assert (await c2.get("/api/metrics", headers=auth())).json()["totalTrades"] == 3

    async def test_concurrent_closes_of_different_trades_count_exactly(self, client, auth, publish, execute):
        await publish("A", price="10")
        trades = [await execute(symbol="A", side="BUY", quantity="1") for _ in range(50)]
        await publish("A", price="11")
        responses = await asyncio.gather(*[
            client.post("/trades/close-shadow", json={"shadow_id": t["id"]}, headers=auth()) for t in trades])
        assert all(r.status_code == 200 for r in responses), {r.status_code for r in responses}
        record = (await client.get("/api/metrics", headers=auth())).json()
        assert (record["totalTrades"], record["totalPnl"], record["winRate"]) == (50, 50, 100)


class TestStrategySettings:
    async def test_unauthenticated_is_401(self, client):
        assert (await client.get("/strategies/s1/settings")).status_code == 401
        assert (await client.put("/strategies/s1/settings", json={"starting_capital": "1"})).status_code == 401

    async def test_a_strategy_filter_measures_from_the_strategys_own_capital(self, client, auth, services):
        day = datetime(2024, 3, 4, 20, tzinfo=timezone.utc)
        await _bt(client, auth, symbol="AAPL", side="BUY", qty="10", entry="100", exit_="110", closed_at=day, strategy="s1")
        await _bt(client, auth, symbol="AAPL", side="BUY", qty="10", entry="100", exit_="90", closed_at=day, strategy="s2")
        assert (await client.get("/strategies/s1/settings", headers=auth())).json() == {
            "strategy_id": "s1", "starting_capital": None}
        r = await client.put("/strategies/s1/settings", json={"starting_capital": "2000"}, headers=auth())
        assert r.json() == {"strategy_id": "s1", "starting_capital": "2000.00"}
        s1 = (await client.get("/trades/shadow/dashboard", params={"strategy_id": "s1"}, headers=auth())).json()
        assert s1["total_return"] == 5  # +100 on the strategy's own 2,000
        assert s1["conventions"]["equity_base"].startswith("strategy s1's starting capital 2000.00 USD")
        s2 = (await client.get("/trades/shadow/dashboard", params={"strategy_id": "s2"}, headers=auth())).json()
        assert Decimal(str(s2["total_return"])) == Decimal("-0.10")  # -100 on the user's 100,000
        assert s2["conventions"]["equity_base"].startswith("user starting capital 100000.00 USD")
        assert await services.maintenance.verify("alice") == []
        bad = await client.put("/strategies/s1/settings", json={"starting_capital": "-1"}, headers=auth())
        assert bad.status_code == 422
