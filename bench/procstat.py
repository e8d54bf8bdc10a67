"""Shared helpers of the benchmarks: process CPU from ``/proc`` (Linux), waiting for the
service, and the paper-trade load loop."""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def wait_ready(client, tries: int = 150) -> None:
    """Wait until the service behind ``client`` (an ``httpx.AsyncClient``) answers ``/readyz``."""
    import asyncio

    import httpx

    for _ in range(tries):
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)


async def paper_trade_loop(client, heads: dict, clients: int, seconds: float, strategy_id: str):
    """``clients`` loops of a paper execute then its close (AAPL, one user) for ``seconds``.

    Returns:
        ``(trades done, errors by status, wall seconds)``.
    """
    import asyncio
    import time
    from collections import Counter

    done, errors = 0, Counter()
    stop = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < stop:
            r = await client.post("/trades/execute", headers=heads,
                                  json={"symbol": "AAPL", "side": "BUY", "quantity": "1", "strategy_id": strategy_id})
            if r.status_code != 201:
                errors[r.status_code] += 1
                continue
            r = await client.post("/trades/close-shadow", headers=heads, json={"shadow_id": r.json()["id"]})
            if r.status_code != 200:
                errors[r.status_code] += 1
                continue
            done += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return done, errors, time.perf_counter() - t0
