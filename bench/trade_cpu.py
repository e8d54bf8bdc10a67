"""Benchmark 2 (issue 11): the service's own CPU per paper trade (execute + close), the
storage round trips per request, and a py-spy profile under load.

    scripts/with-emulator .venv/bin/python bench/trade_cpu.py [--seconds 20] [--clients 10] \\
        [--profile-seconds 15] [--profile-out /tmp/trade-cpu-prof.txt]

1. Round trips, in process: the app through httpx ``ASGITransport`` with every RPC method
   of ``FirestoreAsyncClient`` (the GAPIC client under ``firestore.AsyncClient``) wrapped
   to count its calls; one paper execute, one paper close, one backtest execute and close,
   and one dashboard read, each counted alone (after one untimed trade warms the caches).
2. CPU per trade: ``strategy-service serve`` (one uvicorn worker) started on a free port;
   5 s of warm-up, then ``--seconds`` of ``--clients`` concurrent clients looping paper
   execute then close for one user; the service process's utime + stime from
   ``/proc/PID/stat`` over that interval, divided by the completed trades.
3. Profile: ``py-spy record -p PID -d S -r 100 -f raw --nonblocking --gil`` under the same
   load (skipped when ``py-spy`` is not installed: ``.venv/bin/pip install py-spy``),
   summarised by ``bench/profile_load.py summarise``. ``--gil`` keeps only the thread
   holding the GIL (Python CPU; idle thread-pool workers excluded).

The service is stopped by its process id at the end.
"""

from __future__ import annotations

from procstat import cpu_seconds, paper_trade_loop, wait_ready  # bench/procstat.py (the script's folder is on sys.path)

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from backend.strategy_service.auth.emulator import make_emulator_token  # noqa: E402

RPCS = ("batch_get_documents", "batch_write", "begin_transaction", "commit", "create_document", "delete_document",
        "get_document", "list_collection_ids", "list_documents", "listen", "partition_query", "rollback",
        "run_aggregation_query", "run_query", "update_document", "write")




# -- 1. round trips ---------------------------------------------------------------------------
def count_rpcs() -> Counter:
    """Wrap every RPC method of the async GAPIC client; returns the live counter."""
    from google.cloud.firestore_v1.services.firestore.async_client import FirestoreAsyncClient

    calls: Counter = Counter()
    for name in RPCS:
        original = getattr(FirestoreAsyncClient, name)

        def wrapper(self, *args, __original=original, __name=name, **kwargs):
            calls[__name] += 1
            return __original(self, *args, **kwargs)

        setattr(FirestoreAsyncClient, name, wrapper)
    return calls


async def round_trips() -> None:
    from asgi_lifespan import LifespanManager

    from backend.strategy_service.config import Settings
    from backend.strategy_service.main import create_app

    calls = count_rpcs()
    project = f"demo-bench-{uuid.uuid4().hex[:8]}"
    settings = Settings(ENV="test", GOOGLE_CLOUD_PROJECT=project, FIRESTORE_EMULATOR_HOST=os.environ["FIRESTORE_EMULATOR_HOST"],
                        FIREBASE_AUTH_EMULATOR_HOST=os.environ.get("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099"))
    app = create_app(settings)
    heads = {"Authorization": f"Bearer {make_emulator_token('rt', project)}"}
    pub = {"Authorization": f"Bearer {make_emulator_token('feed', project, claims={'role': 'publisher'})}"}
    rows = []
    async with LifespanManager(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=60) as c:
            async def counted(label: str, method: str, path: str, expect: int, **kw) -> httpx.Response:
                calls.clear()
                r = await c.request(method, path, headers=heads, **kw)
                assert r.status_code == expect, r.text
                rows.append((label, sum(calls.values()), dict(calls)))
                return r

            assert (await c.put("/quotes/AAPL", json={"bid": "100.00", "ask": "100.02"}, headers=pub)).status_code == 200
            paper = {"symbol": "AAPL", "side": "BUY", "quantity": "1", "strategy_id": "rt"}
            r = await c.post("/trades/execute", json=paper, headers=heads)  # warm-up (settings doc created, caches)
            await c.post("/trades/close-shadow", json={"shadow_id": r.json()["id"]}, headers=heads)
            r = await counted("paper execute (POST /trades/execute)", "POST", "/trades/execute", 201, json=paper)
            await counted("paper close (POST /trades/close-shadow)", "POST", "/trades/close-shadow", 200,
                          json={"shadow_id": r.json()["id"]})
            now = datetime.now(timezone.utc)
            bt = {**paper, "source": "backtest", "price": "101.5", "filled_at": (now - timedelta(hours=1)).isoformat()}
            r = await counted("backtest execute", "POST", "/trades/execute", 201, json=bt)
            await counted("backtest close", "POST", "/trades/close-shadow", 200,
                          json={"shadow_id": r.json()["id"], "price": "102", "closed_at": (now - timedelta(minutes=5)).isoformat()})
            await counted("dashboard (GET /trades/shadow/dashboard)", "GET", "/trades/shadow/dashboard", 200)
            await counted("dashboard again", "GET", "/trades/shadow/dashboard", 200)
    print(f"{'request':<42} {'round trips':>11}  by RPC")
    for label, total, by in rows:
        print(f"{label:<42} {total:>11}  {', '.join(f'{k} {v}' for k, v in sorted(by.items()))}")


# -- 2. CPU per trade, 3. profile ---------------------------------------------------------------
async def drive(base: str, pid: int, clients: int, seconds: float, heads: dict) -> dict:
    """Paper execute + close loops; returns trades, wall seconds, CPU seconds, errors."""
    async with httpx.AsyncClient(base_url=base, timeout=60,
                                 limits=httpx.Limits(max_connections=100, max_keepalive_connections=100)) as client:
        before = cpu_seconds(pid)
        done, errors, wall = await paper_trade_loop(client, heads, clients, seconds, "cpu")
        return {"trades": done, "wall": wall, "cpu": cpu_seconds(pid) - before, "errors": dict(errors)}


async def service_cpu(clients: int, seconds: float, profile_seconds: float, profile_out: str) -> None:
    project = os.environ["GOOGLE_CLOUD_PROJECT"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([str(Path(sys.executable).parent / "strategy-service"), "serve", "--host", "127.0.0.1",
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    heads = {"Authorization": f"Bearer {make_emulator_token('cpu', project)}"}
    pub = {"Authorization": f"Bearer {make_emulator_token('feed', project, claims={'role': 'publisher'})}"}
    try:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            await wait_ready(client)
            r = await client.put("/quotes/AAPL", json={"bid": "100.00", "ask": "100.02"}, headers=pub)
            assert r.status_code == 200, r.text
        print(f"\nservice pid {server.pid} (uvicorn, one worker) on port {port}; {clients} clients, one user")
        await drive(base, server.pid, clients, 5, heads)  # warm-up
        out = await drive(base, server.pid, clients, seconds, heads)
        print(f"{'phase':<26} {'seconds':>7} {'trades':>6} {'trades/s':>8} {'service CPU s':>13} {'cores':>5} "
              f"{'CPU ms per trade':>16}  errors")

        def row(label: str, o: dict) -> None:
            print(f"{label:<26} {o['wall']:>7.1f} {o['trades']:>6} {o['trades'] / o['wall']:>8.1f} {o['cpu']:>13.2f} "
                  f"{o['cpu'] / o['wall']:>5.2f} {o['cpu'] / max(o['trades'], 1) * 1000:>16.2f}  {o['errors'] or 0}")

        row("no profiler", out)
        spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
        if spy is None or profile_seconds <= 0:
            print("py-spy not installed (or --profile-seconds 0): no profile")
            return
        cmd = [spy, "record", "-p", str(server.pid), "-d", str(int(profile_seconds)), "-r", "100", "-f", "raw",
               "-o", profile_out, "--nonblocking", "--gil"]
        prof = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            out = await drive(base, server.pid, clients, profile_seconds, heads)
        finally:
            _, err = prof.communicate(timeout=120)
        row("with py-spy --gil", out)
        if prof.returncode != 0:
            print(f"py-spy failed ({prof.returncode}): {err.decode()[-500:]}")
            return
        print(f"\nprofile: {' '.join(cmd)}")
        from profile_load import summarise

        summarise(Path(profile_out), 20)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--profile-seconds", type=float, default=15)
    parser.add_argument("--profile-out", default="/tmp/trade-cpu-prof.txt")
    parser.add_argument("--skip-round-trips", action="store_true")
    args = parser.parse_args()
    if not args.skip_round_trips:
        asyncio.run(round_trips())
    asyncio.run(service_cpu(args.clients, args.seconds, args.profile_seconds, args.profile_out))


if __name__ == "__main__":
    main()
