"""Fixtures: the app on the Firestore emulator under a fresh project id per test, an HTTP
client on it, unsigned emulator tokens, and quote publishing."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from hypothesis import settings as hypothesis_settings

from backend.strategy_service.config import Settings
from backend.strategy_service.auth.emulator import make_emulator_token
from backend.strategy_service.main import create_app


# property tests measure correctness, not speed: no per-example deadline (CI machines are
# shared with the emulator and the other tests)
hypothesis_settings.register_profile("ci", deadline=None)
hypothesis_settings.load_profile("ci")


def emulator_host() -> str:
    """The emulator address; tests that need storage fail (not skip) without one."""
    host = os.environ.get("FIRESTORE_EMULATOR_HOST")
    if not host:
        pytest.fail("FIRESTORE_EMULATOR_HOST is not set: run the tests with scripts/test (README).")
    return host


@pytest.fixture
def project_id() -> str:
    """A fresh demo- project per test: the emulator keeps projects apart, so no wipes."""
    return f"demo-t{uuid.uuid4().hex[:16]}"


@pytest.fixture
def settings(project_id: str) -> Settings:
    return Settings(
        ENV="test",
        GOOGLE_CLOUD_PROJECT=project_id,
        FIRESTORE_EMULATOR_HOST=emulator_host(),
        FIREBASE_AUTH_EMULATOR_HOST=os.environ.get("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099"),
        FIRESTORE_TIMEOUT_SECONDS=10,
        REBUILD_GRACE_SECONDS=0.2,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    os.environ.setdefault("FIREBASE_AUTH_EMULATOR_HOST", settings.FIREBASE_AUTH_EMULATOR_HOST or "")
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service.test", timeout=60) as c:
        yield c


@pytest.fixture
def services(app: Any):
    """The app's own services (and, under ``.storage``, its storage)."""
    return app.state.services


@pytest.fixture
def db(services: Any):
    """The app's Firestore client: raw document access for arranging and checking what
    the storage layer wrote (paths as in docs/data-model.md)."""
    return services.storage.client


class Auth:
    """Authorization headers for emulator users of one project."""

    def __init__(self, project_id: str) -> None:
        self.project_id = project_id

    def __call__(self, uid: str = "alice", **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {make_emulator_token(uid, self.project_id, claims=claims)}"}

    def publisher(self) -> dict[str, str]:
        return self("quote-publisher", role="publisher")


@pytest.fixture
def auth(project_id: str) -> Auth:
    return Auth(project_id)


@pytest.fixture
def publish(client: httpx.AsyncClient, auth: Auth):
    """``await publish("AAPL", bid="1", ask="2")``: PUT /quotes as a publisher, checked."""

    async def _publish(symbol: str, **prices: str) -> dict[str, Any]:
        response = await client.put(f"/quotes/{symbol}", json=prices, headers=auth.publisher())
        assert response.status_code == 200, response.text
        return response.json()

    return _publish


@pytest.fixture
def execute(client: httpx.AsyncClient, auth: Auth):
    """``await execute(symbol=..., side=..., quantity=...)`` as alice (or ``uid=``), checked 201."""

    async def _execute(uid: str = "alice", **body: Any) -> dict[str, Any]:
        body.setdefault("strategy_id", "test-strategy")
        response = await client.post("/trades/execute", json=body, headers=auth(uid))
        assert response.status_code == 201, response.text
        return response.json()

    return _execute
