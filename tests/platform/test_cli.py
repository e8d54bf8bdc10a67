"""The strategy-service CLI against the emulator."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from backend.strategy_service import cli
from backend.strategy_service.config import get_settings
from tests.support import user_docs, user_ref


@pytest.fixture
def runner(monkeypatch, project_id):
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", project_id)
    monkeypatch.setenv("REBUILD_GRACE_SECONDS", "0.2")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


async def test_cli_round_trip(runner, tmp_path, client, auth, execute):
    async def run(*args: str):  # the CLI runs its own event loop: call it from a thread
        return await asyncio.to_thread(runner.invoke, cli.app, list(args))

    assert (await run("quotes", "publish", "AAPL", "--bid", "100", "--ask", "100")).exit_code == 0
    trade = await execute(symbol="AAPL", side="BUY", quantity="2")
    csv_file = tmp_path / "quotes.csv"
    csv_file.write_text("symbol,bid,ask,price\nAAPL,104.25,104.30,\nMSFT,,,400\n")
    loaded = (await run("quotes", "load", str(csv_file)))
    assert loaded.exit_code == 0 and "published 2 quotes" in loaded.output
    marked = (await run("mark-to-market"))
    assert marked.exit_code == 0 and json.loads(marked.output)["updated"] == 1
    got = (await client.get(f"/trades/shadow/{trade['id']}", headers=auth())).json()
    assert got["current_pnl"] == "8.50"  # 2 x (104.25 - 100)
    await client.post("/trades/close-shadow", json={"shadow_id": trade["id"]}, headers=auth())
    out = tmp_path / "metrics.json"
    assert (await run("metrics-json", "alice", "--out", str(out))).exit_code == 0
    assert json.loads(out.read_text())["totalPnl"] == 8.5
    bad = (await run("quotes", "publish", "AAPL", "--bid", "5", "--ask", "4"))
    assert bad.exit_code == 2 and "invalid_quote" in bad.output and "Traceback" not in bad.output
    published = await run("quotes", "publish", "MSFT", "--price", "401.5")
    assert json.loads(published.output)["price"] == "401.5"  # JSON, not a Python dict
    assert "no trades" in (await run("verify", "nobody")).output


async def test_verify_finds_a_corrupted_aggregate_and_rebuild_repairs_it(runner, client, auth, publish, execute, db, services):
    async def run(*args: str):
        return await asyncio.to_thread(runner.invoke, cli.app, list(args))

    await publish("AAPL", price="100")
    trades = [await execute(symbol="AAPL", side="BUY", quantity="1") for _ in range(3)]
    await publish("AAPL", price="101.25")
    for t in trades:
        await client.post("/trades/close-shadow", json={"shadow_id": t["id"]}, headers=auth())
    ok = await run("verify", "alice")
    assert ok.exit_code == 0 and "equal a full recomputation" in ok.output
    cells = await user_docs(db, "alice", "aggCells")
    (doc_id, doc), = cells.items()
    (cell,) = doc["c"]
    await user_ref(db, "alice", "aggCells", doc_id).set({"c": {cell: {"pnl": doc["c"][cell]["pnl"] + 1}}}, merge=True)
    bad = await run("verify", "alice")
    day = doc_id.split("~")[1]
    assert bad.exit_code == 1 and f"cell {day}|{cell}: stored" in bad.output and "total_pnl" in bad.output
    rebuilt = await run("rebuild", "alice")
    assert rebuilt.exit_code == 0 and "trades=3" in rebuilt.output
    assert (await run("verify", "alice")).exit_code == 0
    dash = (await client.get("/trades/shadow/dashboard", headers=auth())).json()
    assert dash["total_pnl"] == Decimal("3.75")


def test_without_an_emulator_or_credentials_the_cli_says_so_in_one_line(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if k not in ("FIRESTORE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS")}
    env["HOME"] = str(tmp_path)  # no gcloud application-default credentials either
    cli_path = Path(sys.executable).with_name("strategy-service")
    for command in (["verify", "alice"], ["serve", "--port", "0"]):
        out = subprocess.run([str(cli_path), *command], env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 2 and "Traceback" not in out.stderr, command
        assert out.stderr.strip().count("\n") == 0 and "storage_not_configured" in out.stderr, command
