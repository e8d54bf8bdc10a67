"""firestore.rules, enforced by the emulator on REST requests with unsigned ID tokens."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from backend.strategy_service.auth.emulator import make_emulator_token

from tests.conftest import emulator_host


@pytest.fixture
async def rest(project_id, db, services, publish, execute):
    """Arrange alice's trade and a quote through the service, then a REST client."""
    await publish("AAPL", price="10")
    trade = await execute(symbol="AAPL", side="BUY", quantity="1")
    base = f"http://{emulator_host()}/v1/projects/{project_id}/databases/(default)/documents"
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        yield c, trade["id"]


def bearer(project_id: str, uid: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_emulator_token(uid, project_id)}"}


class TestRules:
    async def test_owner_reads_own_trades(self, rest, project_id):
        c, tid = rest
        assert (await c.get(f"/users/alice/shadowTradeHistory/{tid}", headers=bearer(project_id, "alice"))).status_code == 200
        assert (await c.get("/users/alice/shadowTradeHistory", headers=bearer(project_id, "alice"))).status_code == 200

    async def test_other_users_and_anonymous_are_denied(self, rest, project_id):
        c, tid = rest
        assert (await c.get(f"/users/alice/shadowTradeHistory/{tid}", headers=bearer(project_id, "bob"))).status_code == 403
        assert (await c.get(f"/users/alice/shadowTradeHistory/{tid}")).status_code == 403

    async def test_signed_in_users_read_quotes_anonymous_do_not(self, rest, project_id):
        c, _ = rest
        assert (await c.get("/live_quotes/AAPL", headers=bearer(project_id, "bob"))).status_code == 200
        assert (await c.get("/live_quotes/AAPL")).status_code == 403

    async def test_every_client_write_is_denied(self, rest, project_id):
        c, tid = rest
        alice = bearer(project_id, "alice")
        body = {"fields": {"status": {"stringValue": "CLOSED"}}}
        assert (await c.patch(f"/users/alice/shadowTradeHistory/{tid}", json=body, headers=alice)).status_code == 403
        assert (await c.post("/users/alice/shadowTradeHistory", json=body, headers=alice)).status_code == 403
        assert (await c.patch("/live_quotes/AAPL", json={"fields": {"price": {"stringValue": "1"}}}, headers=alice)).status_code == 403
        assert (await c.delete(f"/users/alice/shadowTradeHistory/{tid}", headers=alice)).status_code == 403

    async def test_everything_else_is_closed(self, rest, project_id):
        c, _ = rest
        alice = bearer(project_id, "alice")
        assert (await c.get("/systemStatus/config", headers=alice)).status_code == 403
        assert (await c.get("/paper_orders/x", headers=alice)).status_code == 403


async def test_rule_coverage_report_shows_every_rule_exercised(rest, project_id, tmp_path):
    """Exercise each rule once, then read the emulator's rule-coverage report: every
    `allow` expression must have been evaluated. The HTML report is kept for people."""
    c, trade_id = rest
    me, anon = bearer(project_id, "alice"), {}
    assert (await c.get(f"/users/alice/shadowTradeHistory/{trade_id}", headers=me)).status_code == 200
    assert (await c.patch(f"/users/alice/shadowTradeHistory/{trade_id}", headers=me, json={"fields": {}})).status_code == 403
    assert (await c.get("/live_quotes/AAPL", headers=me)).status_code == 200
    assert (await c.patch("/live_quotes/AAPL", headers=me, json={"fields": {}})).status_code == 403
    assert (await c.get("/systemStatus/config", headers=anon)).status_code == 403
    host = emulator_host()
    async with httpx.AsyncClient(timeout=30) as plain:
        report = await plain.get(f"http://{host}/emulator/v1/projects/{project_id}:ruleCoverage")
        html = await plain.get(f"http://{host}/emulator/v1/projects/{project_id}:ruleCoverage.html")
    assert report.status_code == 200, report.text
    (tmp_path / "rule-coverage.html").write_text(html.text)
    def lines(entries):
        for entry in entries:
            if entry.get("values"):
                yield entry["sourcePosition"]["line"]
            yield from lines(entry.get("children") or [])

    evaluated = set(lines(report.json()["report"]))
    rules = (Path(__file__).resolve().parents[2] / "firestore.rules").read_text().splitlines()
    allow = {n: line.strip() for n, line in enumerate(rules, start=1) if line.strip().startswith("allow ")}
    # the report lists evaluated expressions; the emulator does not report the constant
    # `if false` (it is never evaluated against data): those denials are the 403s above
    conditional = {n for n, line in allow.items() if not line.endswith("if false;")}
    assert conditional and conditional <= evaluated, f"never evaluated: {sorted(conditional - evaluated)}"
    assert len(allow) - len(conditional) == 3  # the three constant denials, each answered 403 above
