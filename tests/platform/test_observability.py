"""Logs and bodies: one JSON line per request with its request id, no token ever logged;
a chunked body past the cap is 413 like one with a Content-Length."""

from __future__ import annotations

import json
import logging

from backend.strategy_service.api.logging import configure_logging


class TestLogs:
    async def test_unauthenticated_request_is_logged_with_its_id_and_401(self, client, capsys):
        configure_logging("INFO")
        try:
            r = await client.get("/trades/shadow/metrics", headers={"X-Request-ID": "rid-anon-1"})
            assert r.status_code == 401 and r.json()["error"]["request_id"] == "rid-anon-1"
        finally:
            logging.getLogger().handlers[:] = []
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        access = [line for line in lines if line["name"] == "strategy_service.access"]
        assert access and access[-1]["request_id"] == "rid-anon-1" and " 401 " in access[-1]["message"]

    async def test_every_line_has_a_request_id_and_no_token_is_logged(self, client, auth, publish, execute, capsys):
        headers = auth()
        token = headers["Authorization"].split()[1]
        configure_logging("INFO")
        try:
            await publish("AAPL", price="100")
            trade = await execute(symbol="AAPL", side="BUY", quantity="1")
            await client.post("/trades/close-shadow", json={"shadow_id": trade["id"]}, headers=headers)
            await client.get("/trades/shadow/dashboard", headers=headers)
            await client.post("/trades/execute", headers=headers, content=b"{not json")
        finally:
            logging.getLogger().handlers[:] = []
        out = capsys.readouterr().out
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        lines = [line for line in lines if not line["name"].startswith(("httpx", "httpcore"))]  # the test's client
        assert len(lines) >= 5
        assert all(line.get("request_id") for line in lines), [line for line in lines if not line.get("request_id")]
        assert token not in out and "Bearer" not in out


class TestBodyCap:
    async def test_chunked_body_past_the_cap_is_413_and_writes_nothing(self, client, auth, settings):
        async def chunks():  # no Content-Length: Transfer-Encoding: chunked
            for _ in range(settings.MAX_BODY_BYTES // 1000 + 2):
                yield b" " * 1000
        r = await client.post("/trades/execute", headers=auth(), content=chunks())
        assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
        assert (await client.get("/trades/shadow", headers=auth())).json()["items"] == []

    async def test_chunked_body_under_the_cap_is_read(self, client, auth, publish):
        await publish("AAPL", price="100")
        body = json.dumps({"symbol": "AAPL", "side": "BUY", "quantity": "1", "strategy_id": "s"}).encode()
        async def chunks():
            yield body[:10]
            yield body[10:]

        r = await client.post("/trades/execute", headers={**auth(), "Content-Type": "application/json"},
                              content=chunks())
        assert r.status_code == 201, r.text
