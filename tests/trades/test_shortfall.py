"""Linked signals and their implementation shortfall over the API, on the Firestore emulator."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D
from zoneinfo import ZoneInfo

from backend.strategy_service.core.shortfall import SignalFill, signal_shortfall, summarize

T0 = (datetime.now(timezone.utc) - timedelta(days=2)).replace(hour=15, minute=0, second=0, microsecond=0)


def live(signal: str, execution: str, price: str, quantity: str = "100", minutes: int = 1, **extra):
    return {"symbol": "AAPL", "side": "BUY", "quantity": quantity, "strategy_id": "s1", "source": "live",
            "price": price, "filled_at": (T0 + timedelta(minutes=minutes)).isoformat(), "commission": "1.00",
            "execution_id": execution, "signal_id": signal, **extra}


def backtest(signal: str, price: str = "100.00", **extra):
    return {"symbol": "AAPL", "side": "BUY", "quantity": "100", "strategy_id": "s1", "source": "backtest",
            "price": price, "filled_at": T0.isoformat(), "signal_id": signal, **extra}


class TestShortfall:
    async def test_unauthenticated_is_401(self, client):
        assert (await client.get("/trades/shortfall")).status_code == 401

    async def test_a_paper_signal_and_its_live_fill(self, client, auth, publish, execute):
        await publish("AAPL", bid="99.98", ask="100.02")  # decision: the mid, 100.00
        shadow = await execute(symbol="AAPL", side="BUY", quantity="100", strategy_id="s1", signal_id="p1")
        assert (shadow["decision_price"], shadow["entry_price"]) == ("100.00", "100.02")
        live_fill = {**live("p1", "E-p1", "100.05"), "filled_at": datetime.now(timezone.utc).isoformat()}
        assert (await client.post("/trades/execute", json=live_fill, headers=auth())).status_code == 201
        body = (await client.get("/trades/shortfall", headers=auth())).json()
        row = body["items"][0]
        assert (row["shadow"]["slippage_bps"], row["live"]["slippage_bps"], row["shortfall_bps"]) == (
            "2.00", "5.00", "3.00")
        assert (row["shadow"]["slippage_usd"], row["live"]["slippage_usd"], row["shortfall_usd"]) == (
            "2.00", "5.00", "3.00")
        assert row["linked"] and row["live"]["latency_ms"] >= 0 and "positive = worse" in body["conventions"]["sign"]

    async def test_linking_in_both_arrival_orders_and_partial_live_fills(self, client, auth):
        await client.put("/strategies/s1/costs", json={"slippage_bps": "2"}, headers=auth())  # 100.00 -> 100.02
        post = lambda body: client.post("/trades/execute", json=body, headers=auth())  # noqa: E731
        # shadow first, then live
        assert (await post(backtest("a"))).status_code == 201
        assert (await post(live("a", "E-a", "100.05"))).status_code == 201
        # live first (two partial fills: 60 at 100.04, 40 at 100.065 = 100.05), then shadow
        assert (await post(live("b", "E-b1", "100.04", quantity="60"))).status_code == 201
        early = (await client.get("/trades/shortfall", headers=auth())).json()
        b = next(r for r in early["items"] if r["signal_id"] == "b")
        assert b["shadow"] is None and b["shortfall_bps"] is None and not b["linked"]
        assert (await post(live("b", "E-b2", "100.065", quantity="40", minutes=2))).status_code == 201
        assert (await post(backtest("b"))).status_code == 201
        # a signal never filled live
        assert (await post(backtest("c"))).status_code == 201
        body = (await client.get("/trades/shortfall", headers=auth())).json()
        rows = {r["signal_id"]: r for r in body["items"]}
        for signal in ("a", "b"):
            assert (rows[signal]["shortfall_bps"], rows[signal]["shortfall_usd"]) == ("3.00", "3.00"), signal
        assert (rows["b"]["live"]["price"], rows["b"]["live"]["fills"], rows["b"]["live"]["commission"]) == (
            "100.05", 2, "2.00")
        assert rows["c"]["live"] is None
        summary = body["summary"]
        assert (summary["signals"], summary["linked"], summary["filled_live_percent"], summary["mean_bps"],
                summary["median_bps"], summary["total_usd"]) == (3, 2, "66.67", "3.00", "3.00", "6.00")
        assert body["groups"][0]["strategy_id"] == "s1" and body["groups"][0]["signals"] == 3
        # paging
        first = (await client.get("/trades/shortfall", params={"limit": 2}, headers=auth())).json()
        assert len(first["items"]) == 2 and first["next_cursor"]
        rest = (await client.get("/trades/shortfall", params={"limit": 2, "cursor": first["next_cursor"]},
                                 headers=auth())).json()
        assert len(rest["items"]) == 1 and rest["next_cursor"] is None
        assert {r["signal_id"] for r in first["items"] + rest["items"]} == {"a", "b", "c"}
        bad = await client.get("/trades/shortfall", params={"cursor": "s1|nope"}, headers=auth())
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_cursor"

    async def test_a_live_fill_for_another_users_signal_is_a_signal_of_its_own_user(self, client, auth, services):
        assert (await client.post("/trades/execute", json=backtest("x"), headers=auth())).status_code == 201
        r = await client.post("/trades/execute", json=live("x", "E-bob", "100.05"), headers=auth("bob"))
        assert r.status_code == 201  # bob's own signal "x": never linked to alice's
        alice = (await client.get("/trades/shortfall", headers=auth())).json()["summary"]
        bob = (await client.get("/trades/shortfall", headers=auth("bob"))).json()["summary"]
        assert (alice["signals"], alice["linked"], alice["live_only"]) == (1, 0, 0)
        assert (bob["signals"], bob["linked"], bob["live_only"]) == (0, 0, 1)
        assert await services.maintenance.verify("alice") == [] and await services.maintenance.verify("bob") == []

    async def test_the_tracking_difference(self, client, auth, services):
        post = lambda path, body: client.post(path, json=body, headers=auth())  # noqa: E731
        shadow = (await post("/trades/execute", backtest("t"))).json()
        real = (await post("/trades/execute", live("t", "E-t", "100.05"))).json()
        closed_at = (T0 + timedelta(hours=2)).isoformat()
        await post("/trades/close-shadow", {"shadow_id": shadow["id"], "price": "101.00", "closed_at": closed_at})
        await post("/trades/close-shadow", {"source": "live", "strategy_id": "s1", "symbol": "AAPL", "price": "100.98",
                                            "closed_at": closed_at, "commission": "1.00", "execution_id": "X-t"})
        body = (await client.get("/trades/shortfall", params={"shadow_source": "backtest"}, headers=auth())).json()
        # shadow (101.00 - 100.00) x 100 = 100.00; live (100.98 - 100.05) x 100 - 2.00 = 91.00
        assert body["tracking"] == [{"date": T0.date().isoformat(), "live_pnl": "91.00", "shadow_pnl": "100.00",
                                     "cumulative_live": "91.00", "cumulative_shadow": "100.00",
                                     "tracking_difference": "-9.00"}]
        assert await services.maintenance.verify("alice") == []


class TestVerifyAfterAMixedRun:
    async def test_random_shadow_and_live_fills_verify_clean(self, client, auth, db, services):
        rng = random.Random(1422)
        expected = []

        async def one(i: int) -> None:
            side = rng.choice(["BUY", "SELL"])
            decision = D(rng.randrange(5000, 20000)) / 100
            signal = f"m{i}"
            shadow_body = {"symbol": "MSFT", "side": side, "quantity": "10", "strategy_id": "mix", "source": "backtest",
                           "price": str(decision), "filled_at": T0.isoformat(), "signal_id": signal}
            parts = [D(rng.randrange(-30, 30)) / 100 for _ in range(rng.randrange(0, 3))]
            lives = [{"symbol": "MSFT", "side": side, "quantity": "5", "strategy_id": "mix", "source": "live",
                      "price": str(decision + p), "filled_at": (T0 + timedelta(seconds=k + 1)).isoformat(),
                      "commission": "0.50", "execution_id": f"E-{signal}-{k}", "signal_id": signal}
                     for k, p in enumerate(parts)]
            bodies = [shadow_body] + lives
            rng.shuffle(bodies)  # any arrival order
            for body in bodies:
                r = await client.post("/trades/execute", json=body, headers=auth())
                assert r.status_code == 201, r.text
            expected.append(signal_shortfall(
                strategy_id="mix", signal_id=signal, symbol="MSFT", side=side, decision_price=decision, decided_at=T0,
                shadow=[SignalFill("s", decision, D("10"), T0)],
                live=[SignalFill(str(k), decision + p, D("5"), T0, D("0.50")) for k, p in enumerate(parts)]))

        for start in range(0, 40, 10):
            await asyncio.gather(*[one(i) for i in range(start, start + 10)])
        body = (await client.get("/trades/shortfall", params={"strategy_id": "mix", "limit": 200},
                                 headers=auth())).json()
        want = summarize(expected)
        assert (body["summary"]["signals"], body["summary"]["linked"]) == (want.signals, want.linked)
        assert (body["summary"]["mean_bps"], body["summary"]["median_bps"], body["summary"]["total_usd"]) == (
            str(want.mean_bps) if want.mean_bps is not None else None,
            str(want.median_bps) if want.median_bps is not None else None, str(want.total_usd))
        assert await services.maintenance.verify("alice") == []
        # a signal document that lost a fill is reported
        doc = [s async for s in db.collection("users", "alice", "signals").stream() if (s.to_dict() or {}).get("live")][0]
        live = doc.to_dict()["live"]
        first = sorted(live)[0]
        await doc.reference.update({f"live.`{first}`.price": "1"})
        problems = await services.maintenance.verify("alice")
        assert any(p.startswith(f"signal {doc.id} live fill {first}") for p in problems), problems


async def counter_docs(db, uid: str = "alice") -> dict[str, dict]:
    return {s.id: s.to_dict() or {} async for s in db.collection("users", uid, "aggSignals").stream()}


class TestShortfallCounters:
    """The summary and groups come from counters the fills maintain (shortfall/repository.py),
    not from the signals: exact, concurrent, rebuilt with the time zone."""

    async def test_the_summary_reads_the_counters_not_the_signals(self, client, auth, db, services):
        post = lambda body: client.post("/trades/execute", json=body, headers=auth())  # noqa: E731
        for signal, price in (("a", "100.05"), ("b", "99.99")):
            assert (await post(backtest(signal))).status_code == 201
            assert (await post(live(signal, f"E-{signal}", price))).status_code == 201
        before = (await client.get("/trades/shortfall", headers=auth())).json()
        assert (before["summary"]["linked"], before["summary"]["mean_bps"], before["summary"]["median_bps"]) == (
            2, "2.00", "2.00")  # 5 and -1 bps
        async for s in db.collection("users", "alice", "signals").stream():  # the signals gone...
            await s.reference.delete()
        after = (await client.get("/trades/shortfall", headers=auth())).json()
        assert after["items"] == [] and after["summary"] == before["summary"]  # ...the figures stay
        assert after["groups"] == before["groups"]
        docs = await counter_docs(db)
        assert all(doc_id.startswith(f"0~{T0.astimezone(ZoneInfo('America/New_York')).date().isoformat()}~")
                   for doc_id in docs), docs

    async def test_concurrent_fills_of_one_signal_count_once(self, client, auth, services):
        bodies = [backtest("c")] + [live("c", f"E-c{k}", f"100.0{k}", quantity="10", minutes=k + 1) for k in range(6)]
        answers = await asyncio.gather(*[client.post("/trades/execute", json=b, headers=auth()) for b in bodies])
        assert [a.status_code for a in answers] == [201] * 7, [a.text for a in answers]
        body = (await client.get("/trades/shortfall", headers=auth())).json()
        # live VWAP of 100.00 .. 100.05 by 10 = 100.025: 2.50 bps, 60 x 0.025 = 1.50 USD
        assert (body["summary"]["signals"], body["summary"]["linked"], body["summary"]["median_bps"],
                body["summary"]["total_usd"], body["summary"]["live_commission"]) == (1, 1, "2.50", "1.50", "6.00")
        assert await services.maintenance.verify("alice") == []

    async def test_a_rebuild_moves_signals_to_the_days_of_the_new_zone(self, client, auth, db, services):
        late = T0.replace(hour=2)  # 02:00 UTC: the previous day in New York, this day in Tokyo
        body = {**backtest("z"), "filled_at": late.isoformat()}
        assert (await client.post("/trades/execute", json=body, headers=auth())).status_code == 201
        real = {**live("z", "E-z", "100.05"), "filled_at": (late + timedelta(seconds=2)).isoformat()}
        assert (await client.post("/trades/execute", json=real, headers=auth())).status_code == 201
        day = lambda: client.get("/trades/shortfall", headers=auth())  # noqa: E731
        assert (await day()).json()["groups"][0]["day"] == (late.date() - timedelta(days=1)).isoformat()
        await db.collection("users", "alice", "settings").document("profile").set({"timezone": "Asia/Tokyo"},
                                                                                  merge=True)
        result = await services.maintenance.rebuild("alice")
        assert result["signals"] == 1
        groups = (await day()).json()["groups"]
        assert [(g["day"], g["linked"], g["mean_bps"]) for g in groups] == [(late.date().isoformat(), 1, "5.00")]
        assert await services.maintenance.verify("alice") == []
        # a fill after the rebuild changes the new generation's counters from the right state
        more = {**live("z", "E-z2", "100.15"), "filled_at": (late + timedelta(seconds=3)).isoformat()}
        assert (await client.post("/trades/execute", json=more, headers=auth())).status_code == 201
        assert (await day()).json()["summary"]["mean_bps"] == "10.00"  # live VWAP 100.10
        assert await services.maintenance.verify("alice") == []

    async def test_a_signal_recorded_before_the_counters_is_reported_and_counted_by_rebuild(self, client, auth, db,
                                                                                           services):
        assert (await client.post("/trades/execute", json=backtest("old"), headers=auth())).status_code == 201
        assert (await client.post("/trades/execute", json=live("old", "E-old", "100.05"), headers=auth())).status_code == 201
        ref = db.collection("users", "alice", "signals").document("s1|old")
        from google.cloud import firestore
        await ref.update({"agg_gen": firestore.DELETE_FIELD})  # as the service before the counters wrote it
        async for s in db.collection("users", "alice", "aggSignals").stream():
            await s.reference.delete()
        problems = await services.maintenance.verify("alice")
        assert any("not counted" in p for p in problems) and any("shortfall counters" in p for p in problems), problems
        await services.maintenance.rebuild("alice")
        assert await services.maintenance.verify("alice") == []
        summary = (await client.get("/trades/shortfall", headers=auth())).json()["summary"]
        assert (summary["linked"], summary["mean_bps"]) == (1, "5.00")

    async def test_fills_during_a_rebuild_count_once_in_both_generations(self, client, auth, services):
        post = lambda body: client.post("/trades/execute", json=body, headers=auth())  # noqa: E731
        for i in range(30):
            assert (await post(backtest(f"r{i}"))).status_code == 201

        async def fill_slowly() -> None:
            for i in range(30):
                r = await post(live(f"r{i}", f"E-r{i}", "100.03", minutes=i + 1))
                assert r.status_code == 201, r.text
                await asyncio.sleep(0.01)

        result, _ = await asyncio.gather(services.maintenance.rebuild("alice"), fill_slowly())
        assert result["generation"] == 1
        summary = (await client.get("/trades/shortfall", headers=auth())).json()["summary"]
        assert (summary["signals"], summary["linked"], summary["total_usd"]) == (30, 30, "90.00")
        assert await services.maintenance.verify("alice") == []

    async def test_the_shards_of_a_settled_day_are_merged_by_a_read(self, client, auth, db, services):
        await db.collection("users", "alice", "settings").document("profile").set({"aggregate_shards": 8}, merge=True)
        for i in range(12):
            assert (await client.post("/trades/execute", json=backtest(f"h{i}"), headers=auth())).status_code == 201
            assert (await client.post("/trades/execute", json=live(f"h{i}", f"E-h{i}", f"100.0{i % 10}"),
                                      headers=auth())).status_code == 201
        spread = await counter_docs(db)
        assert len(spread) > 1
        first = (await client.get("/trades/shortfall", headers=auth())).json()
        merged = await counter_docs(db)
        assert len(merged) == 1 and next(iter(merged)).endswith("~00"), merged
        again = (await client.get("/trades/shortfall", headers=auth())).json()
        assert again["summary"] == first["summary"] and first["summary"]["linked"] == 12
        assert await services.maintenance.verify("alice") == []

    async def test_the_idle_shards_of_today_are_merged_by_a_read(self, client, auth, db, services, monkeypatch):
        from backend.strategy_service.performance import service as performance_service
        monkeypatch.setattr(performance_service, "IDLE_SHARD_SECONDS", 0.0)  # every shard counts as idle
        await db.collection("users", "alice", "settings").document("profile").set({"aggregate_shards": 8}, merge=True)
        now = datetime.now(timezone.utc) - timedelta(seconds=30)
        for i in range(12):
            body = {**backtest(f"n{i}"), "filled_at": now.isoformat()}
            assert (await client.post("/trades/execute", json=body, headers=auth())).status_code == 201
            real = {**live(f"n{i}", f"E-n{i}", "100.02"), "filled_at": (now + timedelta(seconds=1)).isoformat()}
            assert (await client.post("/trades/execute", json=real, headers=auth())).status_code == 201
        assert len(await counter_docs(db)) > 1
        first = (await client.get("/trades/shortfall", headers=auth())).json()
        merged = await counter_docs(db)
        assert len(merged) == 1 and next(iter(merged)).endswith("~00"), merged
        assert first["summary"]["linked"] == 12 and first["summary"]["mean_bps"] == "2.00"
        assert await services.maintenance.verify("alice") == []

    async def test_marks_only_go_up_so_overlapping_rebuilds_count_a_signal_once(self, client, auth, services):
        from backend.strategy_service.users.models import Generation
        assert (await client.post("/trades/execute", json=backtest("o"), headers=auth())).status_code == 201
        assert (await client.post("/trades/execute", json=live("o", "E-o", "100.05"), headers=auth())).status_code == 201
        repo = services.shortfall.signals
        zone = ZoneInfo("America/New_York")
        live_gen, older, newer = Generation(0, zone), Generation(1, zone, "building"), Generation(2, zone, "building")
        assert await repo.count_into("alice", newer, live_gen) == 1
        assert await repo.count_into("alice", older, live_gen) == 0  # an older rebuild leaves it alone
        assert await repo.count_into("alice", newer, live_gen) == 0
        counters, _ = await repo.counters("alice", 2, None, None)
        assert [c.linked for c in counters.values()] == [1]

    async def test_verify_merges_a_past_months_counter_shards_and_keeps_their_figures(self, client, auth, db, services):
        await db.collection("users", "alice", "settings").document("profile").set({"aggregate_shards": 8}, merge=True)
        past = (T0 - timedelta(days=45)).isoformat()
        for i in range(12):
            body = {**backtest(f"p{i}"), "filled_at": past}
            assert (await client.post("/trades/execute", json=body, headers=auth())).status_code == 201
            real = {**live(f"p{i}", f"E-p{i}", "100.03"), "filled_at": past}
            assert (await client.post("/trades/execute", json=real, headers=auth())).status_code == 201
        assert len(await counter_docs(db)) > 1
        assert await services.maintenance.verify("alice") == []  # merges the settled shards...
        assert len(await counter_docs(db)) == 1
        assert await services.maintenance.verify("alice") == []  # ...into the same figures
        summary = (await client.get("/trades/shortfall", headers=auth())).json()["summary"]
        assert (summary["linked"], summary["mean_bps"]) == (12, "3.00")
