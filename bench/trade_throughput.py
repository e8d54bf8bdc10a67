"""Benchmark 3 (issues 4 and 11): ``POST /trades/execute`` and ``POST /trades/close-shadow``
throughput and p50/p99 latency with 1, 10 and 50 concurrent clients, against uvicorn
(one worker) and the Firestore emulator; then the writes per document per second.

    scripts/with-emulator .venv/bin/python bench/trade_throughput.py [--trades 200 500 1000] \
        [--writes-clients 50] [--writes-trades 1500]

Writes per document per second: a cross-process monkeypatch is impossible, so this level
runs in process, the app through httpx ``ASGITransport`` (load generator and service share
one process, so its throughput is lower than uvicorn's), with ``AsyncWriteBatch.commit``
wrapped to record, for every committed write, its document path and the time the commit
returned. Per collection it prints the most writes one document received in one 1-second
window, over the whole level and after its first 10 s (the shard policy of
``performance/repository.py`` chooses the shard count from the closes of the last 10 s,
so it starts at 1 shard and reaches its count within that window).

Each client loops: execute a paper trade (filled at the live quote), then close it (which
writes the trade and the aggregates in one batch). All clients trade for the same user, the
worst case for the aggregates (one month and one day document take every close). Besides
the latencies it prints the CPU seconds used by the service process, the emulator's java
process and this load generator during each level (from /proc): the process near one
full core (about 1.0 CPU s per wall s) is what limits the throughput.
"""

from __future__ import annotations

from procstat import cpu_seconds, wait_ready  # bench/procstat.py (the script's folder is on sys.path)

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from backend.strategy_service.auth.emulator import make_emulator_token





def emulator_pid(port: str) -> int | None:
    """The java process serving the emulator on ``port``."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "CloudFirestore" in cmd and f"--port={port}" in cmd:
                return int(entry.name)
    return None


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


async def level(client: httpx.AsyncClient, clients: int, trades: int, heads: dict, pub: dict) -> dict:
    r = await client.put("/quotes/AAPL", json={"bid": "100.00", "ask": "100.02"}, headers=pub)
    assert r.status_code == 200, r.text
    lat: dict[str, list[float]] = {"execute": [], "close": []}
    errors: dict[int, int] = {}
    remaining = trades

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            t0 = time.perf_counter()
            r = await client.post("/trades/execute", headers=heads,
                                  json={"symbol": "AAPL", "side": "BUY", "quantity": "1", "strategy_id": "bench"})
            lat["execute"].append((time.perf_counter() - t0) * 1000)
            if r.status_code != 201:
                errors[r.status_code] = errors.get(r.status_code, 0) + 1
                continue
            t0 = time.perf_counter()
            r = await client.post("/trades/close-shadow", headers=heads, json={"shadow_id": r.json()["id"]})
            lat["close"].append((time.perf_counter() - t0) * 1000)
            if r.status_code != 200:
                errors[r.status_code] = errors.get(r.status_code, 0) + 1

    t0 = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(clients)])
    return {"wall": time.perf_counter() - t0, "lat": lat, "errors": errors}


def record_commits() -> list[tuple[float, str]]:
    """Wrap ``AsyncWriteBatch.commit`` (``create()`` commits through it too); returns the
    live list of ``(monotonic time, document path)`` of every committed write."""
    from google.cloud.firestore_v1.async_batch import AsyncWriteBatch

    seen: list[tuple[float, str]] = []
    original = AsyncWriteBatch.commit

    async def commit(self, *args, **kwargs):
        names = []
        for w in self._write_pbs:
            op = w._pb.WhichOneof("operation")
            names.append(w.update.name if op == "update" else w.delete if op == "delete" else w.transform.document)
        results = await original(self, *args, **kwargs)
        now = time.monotonic()
        seen.extend((now, name) for name in names)
        return results

    AsyncWriteBatch.commit = commit
    return seen


async def writes_per_document(clients: int, trades: int) -> None:
    import uuid

    from asgi_lifespan import LifespanManager

    from backend.strategy_service.config import Settings
    from backend.strategy_service.main import create_app

    seen = record_commits()
    project = f"demo-bench-{uuid.uuid4().hex[:8]}"
    app = create_app(Settings(ENV="test", GOOGLE_CLOUD_PROJECT=project,
                              FIRESTORE_EMULATOR_HOST=os.environ["FIRESTORE_EMULATOR_HOST"],
                              FIREBASE_AUTH_EMULATOR_HOST=os.environ.get("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099")))
    heads = {"Authorization": f"Bearer {make_emulator_token('bench-writes', project)}"}
    pub = {"Authorization": f"Bearer {make_emulator_token('feed', project, claims={'role': 'publisher'})}"}
    async with LifespanManager(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=120) as c:
            seen.clear()
            t_start = time.monotonic()
            out = await level(c, clients, trades, heads, pub)
    closes = len(out["lat"]["close"])
    print(f"\nwrites per document per second: {clients} clients in process (ASGITransport), one user: {closes} closes "
          f"in {out['wall']:.1f} s = {closes / out['wall']:.1f} closes/s, errors {out['errors'] or 0}")
    per: dict[str, dict[str, dict[int, int]]] = {}
    for t, name in seen:
        parts = name.split("/documents/", 1)[-1].split("/")
        collection = parts[-2] if len(parts) >= 2 else "?"
        second = int(t - t_start)
        per.setdefault(collection, {}).setdefault(name, {}).setdefault(second, 0)
        per[collection][name][second] += 1
    last = int(out["wall"])
    print(f"{'collection':<20} {'documents':>9} {'writes':>7} {'max writes/s, one doc':>21} "
          f"{'same, after 10 s':>16} {'busiest doc, mean writes/s after 10 s':>37}")
    for collection, docs in sorted(per.items()):
        writes = sum(sum(v.values()) for v in docs.values())
        peak = max(max(v.values()) for v in docs.values())
        late = [n for v in docs.values() for s_, n in v.items() if s_ >= 10]
        span = max(1, last - 10)
        busiest = max((sum(n for s_, n in v.items() if s_ >= 10) for v in docs.values()), default=0) / span
        print(f"{collection:<20} {len(docs):>9} {writes:>7} {peak:>21} {max(late, default=0):>16} {busiest:>37.2f}")
    summary = per.get("aggSummary", {})
    if summary:
        by_doc = sorted(((sum(n for s_, n in v.items() if s_ >= 10), name.rsplit("/", 1)[1]) for name, v in summary.items()),
                        reverse=True)
        print(f"aggSummary shards after 10 s: {len(by_doc)} written; writes of the busiest 5: "
              f"{', '.join(f'{d} {n}' for n, d in by_doc[:5])}; of the least busy 5: "
              f"{', '.join(f'{d} {n}' for n, d in by_doc[-5:])}")
        closes_per_second = [sum(v.get(i, 0) for v in summary.values()) for i in range(last + 1)]
        print(f"closes per second (aggSummary writes): {closes_per_second}")


async def main(levels: list[tuple[int, int]]) -> None:
    project = os.environ["GOOGLE_CLOUD_PROJECT"]
    emu_port = os.environ["FIRESTORE_EMULATOR_HOST"].rsplit(":", 1)[1]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = str(Path(sys.executable).parent / "strategy-service")
    server = subprocess.Popen([command, "serve", "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=60,
                                     limits=httpx.Limits(max_connections=100, max_keepalive_connections=100)) as client:
            await wait_ready(client, tries=100)
            heads = {"Authorization": f"Bearer {make_emulator_token('bench', project)}"}
            pub = {"Authorization": f"Bearer {make_emulator_token('feed', project, claims={'role': 'publisher'})}"}
            emu = emulator_pid(emu_port)
            print(f"service pid {server.pid}, emulator pid {emu}, load generator pid {os.getpid()}")
            print(f"{'clients':>7} {'trades':>6} {'trades/s':>8} {'req/s':>7} {'exec p50':>8} {'exec p99':>8} "
                  f"{'close p50':>9} {'close p99':>9} {'errors':>6} {'svc cpu':>7} {'emu cpu':>7} {'gen cpu':>7}")
            for clients, trades in levels:
                before = (cpu_seconds(server.pid), cpu_seconds(emu) if emu else 0.0, cpu_seconds(os.getpid()))
                out = await level(client, clients, trades, heads, pub)
                after = (cpu_seconds(server.pid), cpu_seconds(emu) if emu else 0.0, cpu_seconds(os.getpid()))
                wall = out["wall"]
                load = [(a - b) / wall for a, b in zip(after, before)]
                ex, cl = out["lat"]["execute"], out["lat"]["close"]
                print(f"{clients:>7} {trades:>6} {len(cl) / wall:>8.1f} {(len(ex) + len(cl)) / wall:>7.1f} "
                      f"{statistics.median(ex):>8.1f} {percentile(ex, 0.99):>8.1f} {statistics.median(cl):>9.1f} "
                      f"{percentile(cl, 0.99):>9.1f} {sum(out['errors'].values()):>6} "
                      f"{load[0]:>7.2f} {load[1]:>7.2f} {load[2]:>7.2f}")
            print("latencies in ms; cpu = CPU seconds per wall second of each process (1.00 = one core)")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 10, 50], help="0: skip the uvicorn levels")
    parser.add_argument("--trades", type=int, nargs="+", default=[200, 500, 1000])
    parser.add_argument("--writes-clients", type=int, default=50, help="clients of the writes-per-document level")
    parser.add_argument("--writes-trades", type=int, default=1500, help="trades of the writes-per-document level (0: skip)")
    args = parser.parse_args()
    if args.clients != [0]:
        asyncio.run(main(list(zip(args.clients, args.trades))))
    if args.writes_trades:
        asyncio.run(writes_per_document(args.writes_clients, args.writes_trades))
