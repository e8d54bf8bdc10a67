"""Storage faults: Firestore unreachable, timing out or aborting. The client gets 503 with
Retry-After and the one error body, never a 500 or a stack trace, and nothing is half
written. Injected failures, and an emulator of the test's own stopped mid-run."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from google.api_core import exceptions as gexc
from google.cloud.firestore_v1.async_batch import AsyncWriteBatch
from google.cloud.firestore_v1.async_document import AsyncDocumentReference

from backend.strategy_service.config import Settings
from backend.strategy_service.main import create_app
from tests.support import user_docs

ROOT = Path(__file__).resolve().parents[2]
FAULTS = [gexc.ServiceUnavailable("injected"), gexc.DeadlineExceeded("injected"), gexc.Aborted("injected")]


def assert_503(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    body = r.json()["error"]
    assert body["code"] == "storage_unavailable" and body["request_id"] and r.headers["Retry-After"]
    assert "Traceback" not in r.text and "injected" not in r.text


class TestInjectedFailures:
    async def test_unauthenticated_is_401_even_when_storage_fails(self, client, monkeypatch):
        monkeypatch.setattr(AsyncDocumentReference, "get", _raiser(gexc.ServiceUnavailable("injected")))
        assert (await client.get("/trades/shadow/metrics")).status_code == 401

    @pytest.mark.parametrize("fault", FAULTS, ids=lambda f: type(f).__name__)
    async def test_close_commit_failure_leaves_the_trade_open_and_the_aggregates_untouched(
            self, client, auth, publish, execute, db, services, monkeypatch, fault):
        await publish("AAPL", price="100")
        trade = await execute(symbol="AAPL", side="BUY", quantity="3")
        await publish("AAPL", price="110")
        with monkeypatch.context() as patch:
            patch.setattr(AsyncWriteBatch, "commit", _raiser(fault))
            assert_503(await client.post("/trades/close-shadow", json={"shadow_id": trade["id"]}, headers=auth()))
        got = (await client.get(f"/trades/shadow/{trade['id']}", headers=auth())).json()
        assert got["status"] == "OPEN" and "realized_pnl" not in got
        assert (await client.get("/api/metrics", headers=auth())).json()["totalTrades"] == 0
        assert await user_docs(db, "alice", "aggCells") == {}
        # the client retries: one realization, exact aggregates
        r = await client.post("/trades/close-shadow", json={"shadow_id": trade["id"]}, headers=auth())
        assert r.status_code == 200 and r.json()["realized_pnl"] == "30.00"
        assert await services.maintenance.verify("alice") == []

    @pytest.mark.parametrize("fault", FAULTS, ids=lambda f: type(f).__name__)
    async def test_execute_create_failure_writes_nothing(self, client, auth, publish, monkeypatch, fault, db):
        await publish("AAPL", price="100")
        with monkeypatch.context() as patch:  # the create and the open notional: one batch
            patch.setattr(AsyncWriteBatch, "commit", _raiser(fault))
            assert_503(await client.post("/trades/execute", headers=auth(), json={
                "symbol": "AAPL", "side": "BUY", "quantity": "1", "strategy_id": "s"}))
        assert (await client.get("/trades/shadow", headers=auth())).json()["items"] == []
        assert await user_docs(db, "alice", "openNotional") == {}

    async def test_reads_failing_are_503(self, client, auth, monkeypatch):
        monkeypatch.setattr(AsyncDocumentReference, "get", _raiser(gexc.DeadlineExceeded("injected")))
        for path in ("/trades/shadow/metrics", "/trades/shadow/dashboard", "/api/metrics", "/users/me/settings"):
            assert_503(await client.get(path, headers=auth()))
        r = await client.get("/readyz")
        assert r.status_code == 503 and r.json()["error"]["code"] == "storage_unavailable"


def _raiser(exc: Exception):
    async def fail(*args, **kwargs):
        raise exc
    return fail


@pytest.fixture
def own_emulator():
    """An emulator only this test uses, so that it can be stopped mid-run."""
    jar = os.environ.get("FIRESTORE_EMULATOR_JAR")
    if not jar:
        pytest.fail("FIRESTORE_EMULATOR_JAR is not set: run the tests with scripts/test (README).")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(["java", "-cp", jar, "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
                             "start", "--host=127.0.0.1", f"--port={port}", f"--rules={ROOT / 'firestore.rules'}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    host = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://{host}/", timeout=1).text.strip() == "Ok":
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    # warm the fresh JVM up (its first requests are slow on a loaded machine), so that the
    # test's 2 s storage deadline measures a stopped emulator, not a cold one
    for i in range(3):
        httpx.post(f"http://{host}/v1/projects/demo-warmup/databases/(default)/documents/w?documentId=d{i}",
                   json={"fields": {"x": {"integerValue": "1"}}}, headers={"Authorization": "Bearer owner"}, timeout=30)
    try:
        yield host, proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


class TestEmulatorStoppedMidRun:
    async def test_requests_get_503_within_seconds_and_readyz_says_so(self, own_emulator, monkeypatch, project_id, auth):
        host, proc = own_emulator
        monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", host)
        settings = Settings(ENV="test", GOOGLE_CLOUD_PROJECT=project_id, FIRESTORE_EMULATOR_HOST=host,
                            FIREBASE_AUTH_EMULATOR_HOST="127.0.0.1:9099", FIRESTORE_TIMEOUT_SECONDS=2)
        app = create_app(settings)
        async with LifespanManager(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", timeout=30) as c:
                r = await c.put("/quotes/AAPL", json={"price": "100"}, headers=auth.publisher())
                assert r.status_code == 200
                r = await c.post("/trades/execute", headers=auth(), json={
                    "symbol": "AAPL", "side": "BUY", "quantity": "1", "strategy_id": "s"})
                assert r.status_code == 201
                assert (await c.get("/readyz")).status_code == 200
                proc.kill()  # the store goes away mid-run
                proc.wait(timeout=10)
                for method, path, body in (
                    ("POST", "/trades/close-shadow", {"shadow_id": r.json()["id"]}),
                    ("POST", "/trades/execute", {"symbol": "AAPL", "side": "BUY", "quantity": "1", "strategy_id": "s"}),
                    ("GET", "/trades/shadow/dashboard", None),
                    ("GET", "/trades/shadow/metrics", None),
                ):
                    t0 = time.monotonic()
                    resp = await c.request(method, path, json=body, headers=auth())
                    waited = time.monotonic() - t0
                    assert_503(resp)
                    assert waited < 15, f"{path} waited {waited:.1f} s"  # bounded by the storage deadline, not a timing benchmark
                ready = await c.get("/readyz")
                assert ready.status_code == 503 and ready.headers["Retry-After"]
