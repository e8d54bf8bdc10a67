"""Probe (issue 11): which documents one ``GET /trades/shadow/dashboard`` reads, per
collection, for a user seeded like ``bench/dashboard_http.py`` (backtest trades opened and
closed concurrently, so the load-chosen shard count rises while seeding).

    scripts/with-emulator .venv/bin/python bench/probes/dashboard_reads.py [--trades 10000] [--today] \
        [--pyspy /tmp/dash-prof.txt --pyspy-seconds 15]

With ``--pyspy``, py-spy records this process (``--gil``, raw) while dashboard requests loop,
and the profile is summarised by ``bench/profile_load.py``. With ``--verify-pyspy``, it
records one ``maintenance.verify(uid)`` instead (timed, summarised the same way).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from dashboard_http import plan, seed_user  # noqa: E402

from backend.strategy_service.auth.emulator import make_emulator_token  # noqa: E402
from backend.strategy_service.config import Settings  # noqa: E402
from backend.strategy_service.main import create_app  # noqa: E402
from backend.strategy_service.performance.repository import AggregateRepository  # noqa: E402


def start_pyspy(out: str, seconds: int):
    import shutil
    import subprocess

    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    return subprocess.Popen([spy, "record", "-p", str(os.getpid()), "-d", str(seconds), "-r", "100", "-f", "raw",
                             "-o", out, "--nonblocking", "--gil"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def main(n: int, today: bool, how: str, concurrency: int, pyspy: str | None, pyspy_seconds: int,
               verify_pyspy: str | None, compare_rollup: bool = False) -> None:
    project = f"demo-bench-{uuid.uuid4().hex[:8]}"
    app = create_app(Settings(ENV="test", GOOGLE_CLOUD_PROJECT=project, FIRESTORE_EMULATOR_HOST=os.environ["FIRESTORE_EMULATOR_HOST"],
                              FIREBASE_AUTH_EMULATOR_HOST=os.environ.get("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099")))
    docs: Counter = Counter()
    original = AggregateRepository._stream

    async def stream(self, tx, query, seen=None):
        out = await original(self, tx, query, seen)
        for snap in out:
            docs[snap.reference.parent.id] += 1
        return out

    AggregateRepository._stream = stream
    phases: Counter = Counter()  # wall ms per repository method during one request

    def timed(name: str):
        inner = getattr(AggregateRepository, name)

        async def wrapper(self, *args, **kwargs):
            t0 = time.perf_counter()
            try:
                return await inner(self, *args, **kwargs)
            finally:
                phases[name] += (time.perf_counter() - t0) * 1000

        setattr(AggregateRepository, name, wrapper)

    for name in ("day_totals", "groups", "cells", "minute_counts", "checkpoint", "sequences", "store_checkpoint",
                 "compact", "compact_sequences", "compact_cells_month", "read_snapshot"):
        timed(name)
    uid = "probe"
    head = {"Authorization": f"Bearer {make_emulator_token(uid, project)}"}
    async with LifespanManager(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b", timeout=300) as c:
            wall = await seed_user(app, c, uid, head, plan(n, today=today, seed=0), how, concurrency)
            print(f"seeded {n} trades ({'today' if today else 'past year'}) through {how} in {wall:.1f} s")
            from backend.strategy_service.performance import service as perf

            idle = perf.IDLE_SHARD_SECONDS
            labels = ["warm-up", "timed 1", "timed 2", "timed 3"]
            if compare_rollup:  # first as before the roll-up of today's idle shards, then with it
                perf.IDLE_SHARD_SECONDS = float("inf")
                labels = [f"{label}, no roll-up" for label in labels] + ["roll-up read", "after 1", "after 2", "after 3"]
                await asyncio.sleep(idle)  # the shards the seeding wrote are idle by then
            first = None
            for label in labels:
                if label == "roll-up read":
                    perf.IDLE_SHARD_SECONDS = idle
                docs.clear()
                phases.clear()
                t0 = time.perf_counter()
                r = await c.get("/trades/shadow/dashboard", headers=head)
                assert r.status_code == 200
                first = first if label != labels[0] else r.json()
                assert r.json() == first, f"{label}: the answer changed"
                print(f"{label}: {(time.perf_counter() - t0) * 1000:.0f} ms; aggregate documents read: "
                      f"{sum(docs.values())} {dict(docs)}; phases ms: "
                      f"{ {k: round(v, 1) for k, v in sorted(phases.items(), key=lambda kv: -kv[1])} }")
            if verify_pyspy:
                prof = start_pyspy(verify_pyspy, 600)
                await asyncio.sleep(1)  # py-spy attaches
                t0 = time.perf_counter()
                diffs = await app.state.services.maintenance.verify(uid)
                print(f"verify: {'OK' if not diffs else diffs[:3]} in {time.perf_counter() - t0:.1f} s")
                prof.send_signal(2)  # SIGINT: py-spy writes what it has
                await asyncio.to_thread(prof.wait)
                from profile_load import summarise

                summarise(Path(verify_pyspy), 20)
            if pyspy:
                prof = start_pyspy(pyspy, pyspy_seconds)
                done, stop = 0, time.monotonic() + pyspy_seconds
                while time.monotonic() < stop:
                    assert (await c.get("/trades/shadow/dashboard", headers=head)).status_code == 200
                    done += 1
                await asyncio.to_thread(prof.wait)
                print(f"py-spy: {done} dashboard requests in {pyspy_seconds} s, profile {pyspy}")
                from profile_load import summarise

                summarise(Path(pyspy), 15)
            gen = (await app.state.services.users.get(uid)).aggregates.number
            every = await app.state.services.maintenance.aggregates.generation_documents(uid, gen)
            print(f"documents of generation {gen}: {dict(Counter(k[0] for k in every))}")
            shards = Counter(k[1].rsplit('~', 1)[1] for k in every if k[0] == 'aggGroups')
            print(f"aggGroups documents per write shard: {dict(sorted(shards.items()))}")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--trades", type=int, default=10_000)
    p.add_argument("--today", action="store_true")
    p.add_argument("--seed", default="service", choices=["http", "service"])
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--pyspy", help="raw profile output file")
    p.add_argument("--pyspy-seconds", type=int, default=15)
    p.add_argument("--verify-pyspy", help="raw profile output file of one verify")
    p.add_argument("--compare-rollup", action="store_true",
                   help="read first without merging today's idle shards, then with it, on the same data")
    a = p.parse_args()
    asyncio.run(main(a.trades, a.today, a.seed, a.concurrency, a.pyspy, a.pyspy_seconds, a.verify_pyspy, a.compare_rollup))
