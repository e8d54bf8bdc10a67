"""Benchmark 3 (issue 4): ``POST /trades/execute`` and ``POST /trades/close-shadow``
throughput and p50/p99 latency with 1, 10 and 50 concurrent clients, against uvicorn
(one worker) and the Firestore emulator.

    scripts/with-emulator .venv/bin/python bench/trade_throughput.py [--trades 200 500 1000]

Each client loops: execute a paper trade (filled at the live quote), then close it (which
writes the trade and the aggregates in one batch). All clients trade for the same user, the
worst case for the aggregates (one month and one day document take every close). Besides
the latencies it prints the CPU seconds used by the service process, the emulator's java
process and this load generator during each level (from /proc): the process near one
full core (about 1.0 CPU s per wall s) is what limits the throughput.
"""

from __future__ import annotations

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

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


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
            for _ in range(100):
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
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
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--trades", type=int, nargs="+", default=[200, 500, 1000])
    args = parser.parse_args()
    asyncio.run(main(list(zip(args.clients, args.trades))))
