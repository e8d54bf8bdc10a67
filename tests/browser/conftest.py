"""Browser fixtures: the service under uvicorn on a free port (a real server for Chromium),
on the Firestore emulator and the Firebase Auth emulator that scripts/test starts; Debian's
Chromium driven by Playwright; users signed up on the Auth emulator.

The Auth emulator issues web SDK tokens for the one project it was started with
(``FIREBASE_AUTH_EMULATOR_PROJECT``, fresh for each ``scripts/test`` run), so every browser
module runs its service under that project; modules keep apart by fresh users and symbols.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from backend.strategy_service.auth.emulator import make_emulator_token

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "reports" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "correct-horse-7"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def auth_emulator() -> dict[str, str]:
    """The Auth emulator's host and project (from scripts/test's with-auth-emulator)."""
    host = os.environ.get("FIREBASE_AUTH_EMULATOR_HOST", "")
    project = os.environ.get("FIREBASE_AUTH_EMULATOR_PROJECT", "")
    if not (host and project and _answers(f"http://{host}/")):
        pytest.fail("No Firebase Auth emulator: run the tests with scripts/test (it starts one).")
    if not os.environ.get("FIRESTORE_EMULATOR_HOST"):
        pytest.fail("FIRESTORE_EMULATOR_HOST is not set: run the tests with scripts/test.")
    if not (ROOT / "backend/strategy_service/web/static/app.js").is_file():
        pytest.fail("The web bundle is missing: run scripts/setup (needs Node 20 and npm).")
    return {"host": host, "project": project}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """A running service: its URL, project, and API helpers as a given user."""

    def __init__(self, url: str, project: str, auth_host: str) -> None:
        self.url = url
        self.project = project
        self.auth_host = auth_host
        self.http = httpx.Client(base_url=url, timeout=60)

    def publisher(self) -> dict[str, str]:
        token = make_emulator_token("quote-publisher", self.project, claims={"role": "publisher"})
        return {"Authorization": f"Bearer {token}"}

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """One HTTP request to the service; a 503 (nothing written, retry: the API's
        contract) is retried as a client would, for up to 60 s. The emulator answers one
        when a transaction of the previous module's service, stopped mid-request, still
        holds its locks."""
        retrying = Retrying(retry=retry_if_result(lambda r: r.status_code == 503), wait=wait_fixed(1),
                            stop=stop_after_delay(60), retry_error_callback=lambda state: state.outcome.result())
        return retrying(self.http.request, method, path, **kw)

    def publish(self, symbol: str, **prices: str) -> dict[str, Any]:
        r = self.request("PUT", f"/quotes/{symbol}", json=prices, headers=self.publisher())
        assert r.status_code == 200, r.text
        return r.json()

    def sign_up(self, email: str, password: str = PASSWORD) -> dict[str, str]:
        """Create a user on the Auth emulator (REST, as the web SDK does); returns
        ``{"uid", "token", "email"}`` with the emulator's real ID token."""
        r = httpx.post(f"http://{self.auth_host}/identitytoolkit.googleapis.com/v1/accounts:signUp?key=test",
                       json={"email": email, "password": password, "returnSecureToken": True})
        assert r.status_code == 200, r.text
        body = r.json()
        return {"uid": body["localId"], "token": body["idToken"], "email": email}

    def sign_in(self, email: str, password: str = PASSWORD) -> dict[str, str]:
        r = httpx.post(f"http://{self.auth_host}/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword?key=test",
                       json={"email": email, "password": password, "returnSecureToken": True})
        assert r.status_code == 200, r.text
        body = r.json()
        return {"uid": body["localId"], "token": body["idToken"], "email": email}

    def as_user(self, user: dict[str, str]) -> dict[str, str]:
        return {"Authorization": f"Bearer {user['token']}"}

    def call(self, method: str, path: str, user: dict[str, str], **kw: Any) -> Any:
        """One API call as ``user`` (:meth:`request`), checked."""
        r = self.request(method, path, headers=self.as_user(user), **kw)
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
        return json.loads(r.text, parse_float=str, parse_int=str)


@pytest.fixture(scope="module")
def service(auth_emulator: dict[str, str]) -> Iterator[Service]:
    """uvicorn in a subprocess on a free port (killed by its pid at the module's end)."""
    port = _free_port()
    env = {**os.environ, "GOOGLE_CLOUD_PROJECT": auth_emulator["project"], "ENV": "test",
           "FIREBASE_AUTH_EMULATOR_HOST": auth_emulator["host"], "LOG_LEVEL": "WARNING"}
    log_path = ROOT / "reports" / f"browser-service-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "backend.strategy_service.main:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            if _answers(f"{url}/readyz"):
                break
            if proc.poll() is not None:
                pytest.fail(f"the service exited; log: {log_path.read_text()[-2000:]}")
            time.sleep(0.2)
        else:
            pytest.fail("the service did not get ready in 30 s")
        svc = Service(url, auth_emulator["project"], auth_emulator["host"])
        yield svc
        svc.http.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one module. Module scope on purpose: while Playwright's sync API runs it
    keeps an event loop running in this thread, which would break the pytest-asyncio tests
    that come after the browser modules."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"No Chromium at {CHROMIUM}: apt-get install -y chromium (.ci/run does it).")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no stored sign-in) at desktop size."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(15_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def new_email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


def sign_in_through_form(page: Any, url: str, email: str, password: str = PASSWORD, *, create: bool = False) -> None:
    """Open the page, fill the form, press Sign in (or Create account), wait for the figures."""
    page.goto(url)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account" if create else "Sign in", exact=True).click()
    page.wait_for_selector("body[data-state=ready]")
