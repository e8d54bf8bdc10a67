"""The trades API through an HTTP client, on the Firestore emulator."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from tests.support import paper_order_doc, quote_ref, trade_doc, trade_docs, trade_ref




class TestExecute:
    async def test_unauthenticated_is_401(self, client):
        r = await client.post("/trades/execute", json={"symbol": "AAPL", "side": "BUY", "quantity": 1, "strategy_id": "s"})
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "unauthenticated"

    async def test_malformed_and_invalid_tokens_are_401(self, client, auth, project_id):
        for headers in (
            {"Authorization": "Basic abc"},
            {"Authorization": "Bearer not-a-jwt"},
            auth("alice", aud="demo-other-project"),
            auth("alice", iss="https://securetoken.google.com/demo-other-project"),
            auth("alice", sub=""),
        ):
            r = await client.post("/trades/execute", json={}, headers=headers)
            assert r.status_code == 401, headers

    async def test_buy_fills_at_the_ask_and_stores_the_seed_fields(self, client, auth, publish, db, services):
        await publish("AAPL", bid="187.20", ask="187.25", price="187.22")
        r = await client.post(
            "/trades/execute",
            json={"symbol": "aapl", "side": "BUY", "quantity": "10", "strategy_id": "ma-cross", "signal_id": "sig-1"},
            headers=auth("alice"),
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["status"] == "OPEN" and body["mode"] == "shadow"
        assert (body["symbol"], body["side"], body["quantity"], body["entry_price"]) == ("AAPL", "BUY", "10.000000", "187.25")
        assert (body["current_pnl"], body["pnl_percent"], body["notional"]) == ("0.00", "0.00", "1872.50")
        doc = await trade_doc(db, "alice", body["id"])
        for field in ("shadow_id", "uid", "symbol", "side", "quantity", "notional", "entry_price", "status",
                      "created_at", "created_at_iso", "current_price", "current_pnl", "pnl_percent", "strategy_id"):
            assert field in doc, field
        assert doc["uid"] == "alice" and doc["signal_id"] == "sig-1"
        assert isinstance(doc["created_at"], datetime)
        assert all(isinstance(doc[f], str) for f in ("quantity", "notional", "entry_price", "current_pnl"))

    async def test_sell_fills_at_the_bid_and_notional_gives_the_quantity(self, client, auth, publish):
        await publish("TSLA", bid="250.00", ask="250.50")
        r = await client.post("/trades/execute", json={"symbol": "TSLA", "side": "SELL", "notional": 1000, "strategy_id": "s"},
                              headers=auth())
        assert r.status_code == 201, r.text
        # 1000 / 250.00 = 4 units at the bid
        assert (r.json()["entry_price"], r.json()["quantity"], r.json()["notional"]) == ("250.00", "4.000000", "1000.00")

    async def test_json_numbers_are_exact_decimals_not_floats(self, client, auth, publish):
        await publish("BTC", price="1")
        raw = b'{"symbol":"BTC","side":"BUY","quantity":1234567.000000499999,"strategy_id":"s"}'
        r = await client.post("/trades/execute", content=raw, headers={**auth(), "Content-Type": "application/json"})
        # exact: the service sees every digit of ...000000499999 (through a binary float it
        # would be 1234567.0000005) and refuses what it cannot keep rather than round it
        assert r.status_code == 422 and r.json()["error"]["code"] == "quantity_precision", r.text
        assert "1234567.000000499999" in r.json()["error"]["message"]
        raw = b'{"symbol":"BTC","side":"BUY","quantity":1234567.000001,"notional":0.1,"strategy_id":"s"}'
        r = await client.post("/trades/execute", content=raw, headers={**auth(), "Content-Type": "application/json"})
        assert r.status_code == 201 and r.json()["quantity"] == "1234567.000001", r.text

    async def test_missing_quote_is_422_and_writes_nothing(self, client, auth, db, services):
        r = await client.post("/trades/execute", json={"symbol": "NOPE", "side": "BUY", "quantity": 1, "strategy_id": "s"}, headers=auth())
        assert r.status_code == 422 and r.json()["error"]["code"] == "quote_not_found"
        assert await trade_docs(db, "alice") == []

    async def test_stale_quote_is_422(self, client, auth, db, services, settings):
        ref = quote_ref(db, "OLD")
        await ref.set({"bid": "1", "ask": "2", "updated_at": datetime.now(timezone.utc) - timedelta(seconds=settings.MAX_QUOTE_AGE_SECONDS + 5)})
        r = await client.post("/trades/execute", json={"symbol": "OLD", "side": "BUY", "quantity": 1, "strategy_id": "s"}, headers=auth())
        assert r.status_code == 422 and r.json()["error"]["code"] == "quote_stale"
        assert await trade_docs(db, "alice") == []

    async def test_zero_price_quote_is_never_filled(self, client, auth, db, services):
        await quote_ref(db, "ZERO").set({"bid": "0", "ask": "0", "price": "0", "updated_at": datetime.now(timezone.utc)})
        r = await client.post("/trades/execute", json={"symbol": "ZERO", "side": "BUY", "quantity": 1, "strategy_id": "s"}, headers=auth())
        assert r.status_code == 422 and r.json()["error"]["code"] == "quote_invalid"

    async def test_numeric_quote_fields_are_accepted_on_read(self, client, auth, db, services):
        await quote_ref(db, "NUM").set({"bid": 10.1, "ask": 10.2, "updated_at": datetime.now(timezone.utc)})
        r = await client.post("/trades/execute", json={"symbol": "NUM", "side": "BUY", "quantity": 3, "strategy_id": "s"}, headers=auth())
        assert r.status_code == 201 and r.json()["entry_price"] == "10.2"

    @pytest.mark.parametrize(
        "body,code",
        [
            ({"symbol": "AAPL", "side": "BUY", "quantity": 1, "strategy_id": "s", "status": "CLOSED"}, "validation_error"),
            ({"symbol": "AAPL", "side": "BUY", "quantity": 1, "strategy_id": "s", "entry_price": "1"}, "validation_error"),
            ({"symbol": "AAPL", "side": "BUY", "quantity": 1, "strategy_id": "s", "uid": "bob"}, "validation_error"),
            ({"symbol": "AAPL", "side": "HOLD", "quantity": 1, "strategy_id": "s"}, "validation_error"),
            ({"symbol": "AAPL", "side": "BUY", "quantity": 0, "strategy_id": "s"}, "validation_error"),
            ({"symbol": "AAPL", "side": "BUY", "quantity": -5, "strategy_id": "s"}, "validation_error"),
            ({"symbol": "AAPL", "side": "BUY", "quantity": "1e13", "strategy_id": "s"}, "validation_error"),
            ({"symbol": "AAPL", "side": "BUY", "quantity": "abc", "strategy_id": "s"}, "validation_error"),
            ({"symbol": "AAPL", "side": "BUY", "strategy_id": "s"}, "quantity_or_notional_required"),
            ({"symbol": "A/B", "side": "BUY", "quantity": 1, "strategy_id": "s"}, "validation_error"),
            ({"symbol": "X" * 40, "side": "BUY", "quantity": 1, "strategy_id": "s"}, "validation_error"),
            ({"symbol": "AAPL", "side": "BUY", "quantity": 1}, "validation_error"),
            # what cannot be represented is refused, never silently rounded
            ({"symbol": "AAPL", "side": "BUY", "quantity": "0.000000001", "strategy_id": "s"}, "quantity_precision"),
            ({"symbol": "AAPL", "side": "BUY", "quantity": "1.0000009", "strategy_id": "s"}, "quantity_precision"),
            ({"symbol": "AAPL", "side": "BUY", "notional": "0.0001", "strategy_id": "s"}, "notional_precision"),
            ({"symbol": "AAPL", "side": "BUY", "quantity": "0.000001", "strategy_id": "s"}, "notional_too_small"),
            # 1e12 units at 2 USD: far above the maximum notional per trade
            ({"symbol": "AAPL", "side": "BUY", "quantity": "1000000000000", "strategy_id": "s"}, "notional_limit_exceeded"),
        ],
    )
    async def test_bad_input_is_refused_with_a_stable_code(self, client, auth, publish, db, services, body, code):
        await publish("AAPL", bid="1", ask="2")
        r = await client.post("/trades/execute", json=body, headers=auth())
        assert r.status_code == 422, r.text
        err = r.json()["error"]
        assert err["code"] == code and err["message"] and err["request_id"]
        for name in ("quantity", "notional"):  # the message names what was wrong
            if code.startswith(name) and name in body:
                assert str(body[name]) in err["message"], err["message"]
        assert "None" not in err["message"]
        assert await trade_docs(db, "alice") == []

    @pytest.mark.parametrize("raw", [b'{"symbol":"AAPL","side":"BUY","quantity":NaN,"strategy_id":"s"}',
                                     b'{"symbol":"AAPL","side":"BUY","quantity":Infinity,"strategy_id":"s"}',
                                     b'{"symbol":"AAPL",', b'\xff\xfe'])
    async def test_nan_infinity_and_broken_json_are_400(self, client, auth, raw):
        r = await client.post("/trades/execute", content=raw, headers={**auth(), "Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"

    async def test_huge_exponent_is_refused(self, client, auth):
        r = await client.post("/trades/execute", content=b'{"symbol":"AAPL","side":"BUY","quantity":1e999,"strategy_id":"s"}',
                              headers={**auth(), "Content-Type": "application/json"})
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"

    async def test_oversized_body_is_413(self, client, auth):
        r = await client.post("/trades/execute", content=b"{" + b" " * 20000 + b"}", headers={**auth(), "Content-Type": "application/json"})
        assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"

    async def test_idempotency_key_replays_the_same_trade(self, client, auth, publish, db, services):
        await publish("AAPL", bid="100", ask="101")
        body = {"symbol": "AAPL", "side": "BUY", "quantity": 2, "strategy_id": "s"}
        first = await client.post("/trades/execute", json=body, headers={**auth(), "Idempotency-Key": "order-42"})
        await publish("AAPL", bid="200", ask="201")  # a replay must not refill at the new quote
        second = await client.post("/trades/execute", json={**body, "idempotency_key": "order-42"}, headers=auth())
        assert (first.status_code, second.status_code) == (201, 201)
        assert first.json() == second.json()
        assert len(await trade_docs(db, "alice")) == 1
        other = await client.post("/trades/execute", json={**body, "quantity": 3}, headers={**auth(), "Idempotency-Key": "order-42"})
        assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
        bob = await client.post("/trades/execute", json=body, headers={**auth("bob"), "Idempotency-Key": "order-42"})
        assert bob.status_code == 201 and bob.json()["id"] != first.json()["id"]  # keys are per user
        mismatch = await client.post("/trades/execute", json={**body, "idempotency_key": "order-43"},
                                     headers={**auth(), "Idempotency-Key": "order-42"})
        assert mismatch.status_code == 422 and mismatch.json()["error"]["code"] == "idempotency_key_mismatch"
        for bad_key in ("-starts-with-dash", "k" * 129, "has space"):
            r = await client.post("/trades/execute", json=body, headers={**auth(), "Idempotency-Key": bad_key})
            assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"

    async def test_concurrent_retries_with_one_key_create_one_trade(self, client, auth, publish, db, services):
        await publish("AAPL", bid="100", ask="101")
        body = {"symbol": "AAPL", "side": "BUY", "quantity": 2, "strategy_id": "s"}
        responses = await asyncio.gather(*[
            client.post("/trades/execute", json=body, headers={**auth(), "Idempotency-Key": "burst-1"}) for _ in range(20)
        ])
        assert {r.status_code for r in responses} == {201}
        assert len({r.json()["id"] for r in responses}) == 1
        assert len(await trade_docs(db, "alice")) == 1

    async def test_shadow_mode_off_writes_a_paper_order_with_string_money(self, client, auth, publish, db, services):
        await services.trades.trades.set_shadow_mode(False)
        await publish("AAPL", bid="100", ask="101")
        r = await client.post("/trades/execute", json={"symbol": "AAPL", "side": "BUY", "notional": "505", "strategy_id": "s"}, headers=auth())
        assert r.status_code == 201, r.text
        assert r.json()["mode"] == "paper" and r.json()["quantity"] == "5.000000"
        order = await paper_order_doc(db, r.json()["id"])
        assert order["uid"] == "alice" and order["notional"] == "505.00" and isinstance(order["entry_price"], str)
        assert await trade_docs(db, "alice") == []


class TestCloseShadow:
    async def test_unauthenticated_is_401(self, client):
        r = await client.post("/trades/close-shadow", json={"shadow_id": "abc"})
        assert r.status_code == 401

    async def test_long_closes_at_the_bid_and_realizes_pnl(self, client, auth, publish, execute, db, services):
        await publish("AAPL", bid="187.20", ask="187.25")
        trade = await execute(symbol="AAPL", side="BUY", quantity="10")
        await publish("AAPL", bid="190.10", ask="190.15")
        r = await client.post("/trades/close-shadow", json={"shadow_id": trade["id"]}, headers=auth())
        assert r.status_code == 200, r.text
        body = r.json()
        # 10 x (190.10 - 187.25) = 28.50; 28.50 / 1872.50 = 1.522 %
        assert (body["status"], body["exit_price"], body["realized_pnl"], body["realized_pnl_percent"]) == ("CLOSED", "190.10", "28.50", "1.52")
        assert (body["final_pnl"], body["final_pnl_percent"], body["is_win"], body["exit_reason"]) == ("28.50", "1.52", True, "Manual close")
        assert body["closed_at"] and body["closed_at_iso"]

    async def test_short_closes_at_the_ask_and_ignores_a_stale_current_pnl(self, client, auth, publish, execute, db, services):
        await publish("TSLA", bid="250.00", ask="250.50")
        trade = await execute(symbol="TSLA", side="SELL", quantity="4")
        await trade_ref(db, "alice", trade["id"]).update({"current_pnl": "999.99"})  # stale mark
        await publish("TSLA", bid="240.00", ask="240.40")
        r = await client.post("/trades/close-shadow", json={"shadow_id": trade["id"], "exit_reason": "take profit"}, headers=auth())
        # short 4 @ 250.00, bought back at the ask 240.40: (240.40 - 250.00) x 4 x -1 = 38.40
        assert r.json()["realized_pnl"] == "38.40" and r.json()["exit_reason"] == "take profit"
        assert r.json()["realized_pnl_percent"] == "3.84"

    async def test_break_even_is_not_a_win(self, client, auth, publish, execute):
        await publish("X", price="10")
        trade = await execute(symbol="X", side="BUY", quantity="1")
        r = await client.post("/trades/close-shadow", json={"shadow_id": trade["id"]}, headers=auth())
        assert (r.json()["realized_pnl"], r.json()["is_win"]) == ("0.00", False)

    async def test_closing_twice_returns_the_stored_result(self, client, auth, publish, execute):
        await publish("AAPL", bid="100", ask="100")
        trade = await execute(symbol="AAPL", side="BUY", quantity="1")
        await publish("AAPL", bid="110", ask="110")
        first = await client.post("/trades/close-shadow", json={"shadow_id": trade["id"]}, headers=auth())
        await publish("AAPL", bid="50", ask="50")
        second = await client.post("/trades/close-shadow", json={"shadow_id": trade["id"]}, headers=auth())
        assert second.status_code == 200 and second.json() == first.json()
        assert second.json()["realized_pnl"] == "10.00"

    async def test_another_users_trade_is_404_and_unchanged(self, client, auth, publish, execute, db, services):
        await publish("AAPL", bid="100", ask="100")
        trade = await execute(symbol="AAPL", side="BUY", quantity="1")
        r = await client.post("/trades/close-shadow", json={"shadow_id": trade["id"]}, headers=auth("mallory"))
        assert r.status_code == 404 and r.json()["error"]["code"] == "trade_not_found"
        assert (await trade_doc(db, "alice", trade["id"])).get("status") == "OPEN"

    async def test_without_a_quote_the_trade_stays_open(self, client, auth, publish, execute, db, services):
        await publish("AAPL", bid="100", ask="100")
        trade = await execute(symbol="AAPL", side="BUY", quantity="1")
        await quote_ref(db, "AAPL").delete()
        r = await client.post("/trades/close-shadow", json={"shadow_id": trade["id"]}, headers=auth())
        assert r.status_code == 422 and r.json()["error"]["code"] == "quote_not_found"
        assert (await trade_doc(db, "alice", trade["id"])).get("status") == "OPEN"

    async def test_fifty_concurrent_closes_realize_once_without_5xx(self, client, auth, publish, execute, db, services):
        await publish("AAPL", bid="100", ask="100")
        trade = await execute(symbol="AAPL", side="BUY", quantity="3")
        await publish("AAPL", bid="101", ask="101")
        responses = await asyncio.gather(*[
            client.post("/trades/close-shadow", json={"shadow_id": trade["id"]}, headers=auth()) for _ in range(50)
        ])
        assert all(r.status_code < 500 for r in responses), [r.text for r in responses if r.status_code >= 500]
        ok = [r.json() for r in responses if r.status_code == 200]
        assert ok and all(r.status_code in (200, 409) for r in responses)
        assert {(b["realized_pnl"], b["closed_at"]) for b in ok} == {("3.00", ok[0]["closed_at"])}  # one realization


class TestShadowMetrics:
    async def test_unauthenticated_is_401(self, client):
        assert (await client.get("/trades/shadow/metrics")).status_code == 401

    async def test_metrics_match_a_hand_calculation(self, client, auth, publish, execute):
        await publish("AAPL", bid="100.00", ask="100.00")
        await publish("TSLA", bid="200.00", ask="200.00")
        a1 = await execute(symbol="AAPL", side="BUY", quantity="10")
        a2 = await execute(symbol="AAPL", side="BUY", quantity="5")
        t1 = await execute(symbol="TSLA", side="SELL", quantity="2")
        await execute(symbol="TSLA", side="SELL", quantity="1")  # stays open
        await execute(symbol="AAPL", side="BUY", quantity="1", uid="bob")  # someone else's
        await publish("AAPL", bid="110.00", ask="110.50")
        await client.post("/trades/close-shadow", json={"shadow_id": a1["id"]}, headers=auth())  # +100.00
        await publish("TSLA", bid="205.00", ask="206.00")
        await client.post("/trades/close-shadow", json={"shadow_id": t1["id"]}, headers=auth())  # (206-200)x2x-1 = -12.00
        await publish("AAPL", bid="90.00", ask="90.10")
        await client.post("/trades/close-shadow", json={"shadow_id": a2["id"]}, headers=auth())  # (90-100)x5 = -50.00
        await publish("TSLA", bid="195.00", ask="196.00")  # open short 1 @ 200, marked at the ask 196: +4.00
        r = await client.get("/trades/shadow/metrics", headers=auth())
        assert r.status_code == 200
        # curve 100, 88, 38: worst drawdown -62.00 = -62 % of the peak 100
        body = r.json()
        assert "running peak of the cumulative realized P&L" in body.pop("conventions")["max_drawdown_percent"]
        assert body == {
            "realized_pnl": "38.00", "unrealized_pnl": "4.00", "net_pnl": "42.00", "win_rate": "33.33",
            "closed_trades": 3, "open_trades": 1, "wins": 1,
            "max_drawdown_usd": "-62.00", "max_drawdown_percent": "-62.00",
            "gross_pnl": "38.00", "total_commission": "0.00", "total_slippage": "0.00",
        }


class TestLimits:
    async def test_open_notional_is_capped_and_freed_by_a_close(self, client, auth, publish, execute, db, services):
        from tests.support import user_ref

        await user_ref(db, "alice", "settings", "profile").set({"max_open_notional": "1000"}, merge=True)
        await publish("AAPL", bid="100", ask="100")
        first = await execute(symbol="AAPL", side="BUY", quantity="6")  # 600 of 1,000
        r = await client.post("/trades/execute", json={"symbol": "AAPL", "side": "BUY", "quantity": "5",
                                                       "strategy_id": "s"}, headers=auth())
        assert r.status_code == 422 and r.json()["error"]["code"] == "open_notional_limit_exceeded"
        assert "1100.00 USD" in r.json()["error"]["message"]
        await client.post("/trades/close-shadow", json={"shadow_id": first["id"]}, headers=auth())
        await execute(symbol="AAPL", side="BUY", quantity="5")  # 500: room again
        assert await services.maintenance.verify("alice") == []


class TestListAndGet:
    async def test_an_unknown_cursor_is_400(self, client, auth):
        r = await client.get("/trades/shadow", params={"cursor": "garbage"}, headers=auth())
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_cursor"

    async def test_unauthenticated_is_401(self, client):
        assert (await client.get("/trades/shadow")).status_code == 401
        assert (await client.get("/trades/shadow/abc")).status_code == 401

    async def test_pages_and_status_filter(self, client, auth, publish, execute):
        await publish("AAPL", price="10")
        ids = [(await execute(symbol="AAPL", side="BUY", quantity="1"))["id"] for _ in range(5)]
        await client.post("/trades/close-shadow", json={"shadow_id": ids[0]}, headers=auth())
        seen, cursor = [], None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/trades/shadow", params=params, headers=auth())).json()
            seen += [t["id"] for t in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert sorted(seen) == sorted(ids) and len(seen) == 5
        assert seen == list(reversed(ids))  # newest first
        closed = (await client.get("/trades/shadow", params={"status": "CLOSED"}, headers=auth())).json()
        assert [t["id"] for t in closed["items"]] == [ids[0]]
        assert (await client.get("/trades/shadow", params={"limit": 10_000}, headers=auth())).json()["error"]["code"] == "page_size_too_large"
        assert (await client.get("/trades/shadow", params={"status": "WEIRD"}, headers=auth())).status_code == 422

    async def test_get_one_and_other_users_404(self, client, auth, publish, execute):
        await publish("AAPL", price="10")
        trade = await execute(symbol="AAPL", side="BUY", quantity="1")
        mine = await client.get(f"/trades/shadow/{trade['id']}", headers=auth())
        assert mine.status_code == 200 and mine.json()["entry_price"] == "10"
        assert "request_hash" not in mine.json()
        theirs = await client.get(f"/trades/shadow/{trade['id']}", headers=auth("bob"))
        assert theirs.status_code == 404 and theirs.json()["error"]["code"] == "trade_not_found"
        assert (await client.get("/trades/shadow/bad..id", headers=auth())).status_code == 422


class TestRiskAtExecute:
    async def test_stop_loss_and_risk_amount_give_the_trade_risk(self, client, auth, publish, execute, db, services):
        await publish("AAPL", bid="99.50", ask="100.00")
        by_stop = await execute(symbol="AAPL", side="BUY", quantity="10", stop_loss="95.25")
        assert (by_stop["stop_loss"], by_stop["risk_amount"]) == ("95.25", "47.50")  # (100.00 - 95.25) x 10
        by_amount = await execute(symbol="AAPL", side="SELL", quantity="10", stop_loss="105", risk_amount="30")
        assert by_amount["risk_amount"] == "30.00"  # an explicit risk wins over the stop
        plain = await execute(symbol="AAPL", side="BUY", quantity="1")
        assert "risk_amount" not in plain
