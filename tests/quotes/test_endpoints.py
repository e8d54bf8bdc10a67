"""Quotes, health probes, settings safety and the mark-to-market job, on the emulator."""

from __future__ import annotations

import pytest

from backend.strategy_service.config import Settings
from backend.strategy_service.quotes.repository import QuoteRepository
from backend.strategy_service.trades.marking import mark_to_market
from tests.support import quote_doc, trade_doc


class TestPutQuote:
    async def test_unauthenticated_is_401(self, client):
        assert (await client.put("/quotes/AAPL", json={"price": "1"})).status_code == 401

    async def test_a_user_without_the_publisher_role_is_403(self, client, auth, db, services):
        r = await client.put("/quotes/AAPL", json={"price": "1"}, headers=auth("alice"))
        assert r.status_code == 403 and r.json()["error"]["code"] == "publisher_role_required"
        assert await quote_doc(db, "AAPL") is None

    async def test_publisher_writes_decimal_strings_and_a_server_time(self, client, auth, db, services):
        r = await client.put("/quotes/aapl", json={"bid": 187.2, "ask": "187.25"}, headers=auth.publisher())
        assert r.status_code == 200
        doc = await quote_doc(db, "AAPL")
        assert (doc["bid"], doc["ask"], doc["price"]) == ("187.2", "187.25", None)
        assert doc["updated_at"] is not None

    @pytest.mark.parametrize("body", [{}, {"bid": "2"}, {"bid": "3", "ask": "2"}, {"price": "0"}, {"price": "-1"}, {"price": "x"}])
    async def test_bad_quotes_are_422(self, client, auth, body):
        r = await client.put("/quotes/AAPL", json=body, headers=auth.publisher())
        assert r.status_code == 422, r.text


class TestGetQuote:
    async def test_unauthenticated_is_401(self, client):
        assert (await client.get("/quotes/AAPL")).status_code == 401

    async def test_read_and_missing(self, client, auth, publish):
        await publish("AAPL", price="10.5")
        assert (await client.get("/quotes/AAPL", headers=auth())).json()["price"] == "10.5"
        missing = await client.get("/quotes/NOPE", headers=auth())
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "quote_not_found"


class TestHealth:
    async def test_alive_and_ready(self, client):
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert (await client.get("/readyz")).json() == {"status": "ready"}

    async def test_the_api_page_needs_no_internet(self, client):
        page = (await client.get("/docs")).text
        assert "/docs-assets/swagger-ui-bundle.js" in page and "cdn" not in page.lower()
        asset = await client.get("/docs-assets/swagger-ui-bundle.js")
        assert asset.status_code == 200 and len(asset.content) > 100_000

    async def test_unknown_route_uses_the_error_shape(self, client):
        r = await client.get("/nowhere")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_production_with_emulator_variables_refuses_to_start():
    with pytest.raises(ValueError, match="refusing to start"):
        Settings(ENV="production", FIREBASE_AUTH_EMULATOR_HOST="127.0.0.1:9099", FIRESTORE_EMULATOR_HOST=None)
    with pytest.raises(ValueError, match="refusing to start"):
        Settings(ENV="production", FIRESTORE_EMULATOR_HOST="127.0.0.1:8080", FIREBASE_AUTH_EMULATOR_HOST=None)
    assert Settings(ENV="production", FIRESTORE_EMULATOR_HOST=None, FIREBASE_AUTH_EMULATOR_HOST=None).ENV == "production"


class TestMarkToMarket:
    async def test_marks_open_trades_of_every_user_and_leaves_closed_ones(self, client, auth, publish, execute, db, services):
        await publish("AAPL", bid="100", ask="100")
        await publish("TSLA", bid="200", ask="200")
        long = await execute(symbol="AAPL", side="BUY", quantity="10")
        short = await execute(symbol="TSLA", side="SELL", quantity="2", uid="bob")
        closed = await execute(symbol="AAPL", side="BUY", quantity="1")
        await client.post("/trades/close-shadow", json={"shadow_id": closed["id"]}, headers=auth())
        await publish("AAPL", bid="103.50", ask="103.60")
        await publish("TSLA", bid="190", ask="190.25")
        result = await mark_to_market(services.trades.trades, QuoteRepository(services.storage), batch_size=1, max_quote_age_seconds=60)
        assert (result.scanned, result.updated, result.no_quote) == (2, 2, 0)
        a = (await trade_doc(db, "alice", long["id"]))
        b = (await trade_doc(db, "bob", short["id"]))
        # long 10 @ 100 at the bid 103.50: +35.00 (3.50 %); short 2 @ 200 at the ask 190.25: +19.50 (4.88 %)
        assert (a["current_price"], a["current_pnl"], a["pnl_percent"]) == ("103.50", "35.00", "3.50")
        assert (b["current_price"], b["current_pnl"], b["pnl_percent"]) == ("190.25", "19.50", "4.88")
        assert a["last_updated"] is not None
        c = (await trade_doc(db, "alice", closed["id"]))
        assert c["status"] == "CLOSED" and c["current_pnl"] == "0.00"
