"""CPU cost of the python Firestore client's writes and of FastAPI's thread-pool
dependencies (issue 11: "service CPU per trade"), in CPU microseconds of this process
(``time.process_time``: every thread, user + system).

    .venv/bin/python bench/client_cpu.py encode              # no emulator needed
    scripts/with-emulator .venv/bin/python bench/client_cpu.py commit
    .venv/bin/python bench/client_cpu.py deps

- ``encode``: client-side encoding only. ``_helpers.pbs_for_set_with_merge`` for one
  document with N ``Increment`` transforms (against N plain integer fields), N in
  {0, 10, 40, 80}; and building the close's whole ``WriteBatch`` (4 writes, 82 transforms)
  from ``Store.close_trade_and_count``'s own shapes.
- ``commit``: ``await batch.commit()`` against the emulator of one merge write with N
  transforms, CPU of this process per commit (the emulator's CPU is not counted).
- ``deps``: a trivial FastAPI endpoint through httpx's ``ASGITransport``, with no
  dependency, with 3 sync ``def`` dependencies (FastAPI runs each through anyio's thread
  pool, as it does ``get_store``, ``get_app_settings`` and ``current_principal``), and
  with the same 3 as ``async def``; sequential and 10 concurrent.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from datetime import date, datetime, timezone
from pathlib import Path

from fastapi import Request  # module level: the dependencies' string annotations resolve here

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NS = (0, 10, 40, 80)


def cpu_us_per(fn, n: int, repeats: int = 5) -> float:
    """Median over ``repeats`` of the CPU microseconds per call of ``fn`` (``n`` calls)."""
    results = []
    for _ in range(repeats):
        t0 = time.process_time()
        for _ in range(n):
            fn()
        results.append((time.process_time() - t0) / n * 1e6)
    return statistics.median(results)


def transform_doc(n: int):
    from google.cloud import firestore

    return {"c": {"k": {f"f{i}": firestore.Increment(i + 1) for i in range(n)}}, "x": 1}


def plain_doc(n: int):
    return {"c": {"k": {f"f{i}": i + 1 for i in range(n)}}, "x": 1}


def encode() -> None:
    os.environ.setdefault("FIRESTORE_EMULATOR_HOST", "127.0.0.1:1")  # no connection is made
    from google.cloud import firestore
    from google.cloud.firestore_v1 import _helpers

    from backend.strategy_service.aggregates import CellStats, TradeFacts, summary_counters
    from backend.strategy_service.repository import aggregate_writes

    path = "projects/demo-x/databases/(default)/documents/users/u/pnlMonths/2026-01"
    print("## pbs_for_set_with_merge, one document, CPU us per call (median of 5 x 2,000)")
    print(f"{'N':>4} {'N Increment':>12} {'N plain ints':>13} {'per transform':>14}")
    base = None
    for n in NS:
        t = cpu_us_per(lambda: _helpers.pbs_for_set_with_merge(path, transform_doc_cache[n], merge=True), 2000)
        p = cpu_us_per(lambda: _helpers.pbs_for_set_with_merge(path, plain_doc_cache[n], merge=True), 2000)
        base = t if base is None else base
        per = (t - base) / n if n else 0.0
        print(f"{n:>4} {t:>12.1f} {p:>13.1f} {per:>14.2f}")

    client = firestore.AsyncClient(project="demo-x")
    facts = TradeFacts(trade_id=uuid.uuid4().hex, closed_at_us=1_767_000_000_000_000, day=date(2026, 1, 5),
                       source="paper", strategy_id="strat-1", symbol="AAPL", pnl_cents=1234,
                       r_units=5000, risk_cents=2000, hold_us=3_600_000_000)
    when = datetime.now(timezone.utc)

    def close_batch():
        # the same calls as Store.close_trade_and_count, without the commit
        batch = client.batch()
        batch.update(client.collection("users", "u", "shadowTradeHistory").document(facts.trade_id),
                     {"status": "CLOSED", "closed_at": when, "realized_pnl": "12.34"},
                     option=client.write_option(last_update_time=when))
        one = CellStats()
        one.add_trade(facts)
        summary = {name: firestore.Increment(v) for name, v in summary_counters(one).items()}
        batch.set(client.collection("users", "u", "metrics").document("summary"),
                  {**summary, "updated_at": firestore.SERVER_TIMESTAMP}, merge=True)
        month, day = aggregate_writes(facts)
        batch.set(client.collection("users", "u", "pnlMonths").document("2026-01"), month, merge=True)
        batch.set(client.collection("users", "u", "pnlDays").document("2026-01-05"), day, merge=True)
        return batch

    def close_batch_and_request():
        batch = close_batch()
        request, _ = batch._prep_commit(None, None)
        return _commit_request_pb(request)

    b = close_batch()
    print(f"\n## The close's WriteBatch: {len(b._write_pbs)} Write protos, "
          f"{sum(len(w.update_transforms) for w in b._write_pbs)} field transforms")
    print(f"build (4 x set/update -> Write protos): {cpu_us_per(close_batch, 1000):.0f} CPU us per close")
    print(f"build + CommitRequest serialization:    {cpu_us_per(close_batch_and_request, 1000):.0f} CPU us per close")


def _commit_request_pb(request: dict) -> int:
    from google.cloud.firestore_v1.types import firestore as fs_types

    return len(fs_types.CommitRequest.serialize(fs_types.CommitRequest(**request)))


transform_doc_cache: dict = {}
plain_doc_cache: dict = {}


async def commit(rounds: int) -> None:
    from google.cloud import firestore

    if not os.environ.get("FIRESTORE_EMULATOR_HOST"):
        sys.exit("commit needs FIRESTORE_EMULATOR_HOST (run it under scripts/with-emulator)")
    client = firestore.AsyncClient(project=f"demo-cpu{uuid.uuid4().hex[:8]}")
    ref = client.collection("users", "u", "pnlMonths").document("2026-01")
    await ref.set({"x": 0})  # warm up the channel
    print(f"## await batch.commit(), one merge write with N transforms, {rounds} sequential commits, "
          "CPU of this process (wall ms in brackets)")
    print(f"{'N':>4} {'CPU us/commit':>14} {'wall ms/commit':>15}")
    for n in NS:
        doc = transform_doc(n)
        for _ in range(20):
            batch = client.batch()
            batch.set(ref, doc, merge=True)
            await batch.commit()
        t0, w0 = time.process_time(), time.perf_counter()
        for _ in range(rounds):
            batch = client.batch()
            batch.set(ref, doc, merge=True)
            await batch.commit()
        cpu = (time.process_time() - t0) / rounds * 1e6
        wall = (time.perf_counter() - w0) / rounds * 1e3
        print(f"{n:>4} {cpu:>14.0f} {wall:>15.2f}")


async def deps(requests: int) -> None:
    import httpx
    from fastapi import Depends, FastAPI

    app = FastAPI()

    def s1(request: Request) -> int:
        return 1

    def s2(request: Request) -> int:
        return 2

    def s3(request: Request) -> int:
        return 3

    async def a1(request: Request) -> int:
        return 1

    async def a2(request: Request) -> int:
        return 2

    async def a3(request: Request) -> int:
        return 3

    @app.get("/none")
    async def none() -> dict:
        return {"v": 0}

    @app.get("/sync1")
    async def sync1(x: int = Depends(s1)) -> dict:
        return {"v": x}

    @app.get("/async1")
    async def async1(x: int = Depends(a1)) -> dict:
        return {"v": x}

    @app.get("/sync3")
    async def sync3(x: int = Depends(s1), y: int = Depends(s2), z: int = Depends(s3)) -> dict:
        return {"v": x + y + z}

    @app.get("/async3")
    async def async3(x: int = Depends(a1), y: int = Depends(a2), z: int = Depends(a3)) -> dict:
        return {"v": x + y + z}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        async def run(path: str, concurrency: int) -> float:
            for _ in range(50):
                (await client.get(path)).raise_for_status()
            per_worker = requests // concurrency

            async def worker() -> None:
                for _ in range(per_worker):
                    r = await client.get(path)
                    assert r.status_code == 200

            results = []
            for _ in range(3):
                t0 = time.process_time()
                await asyncio.gather(*(worker() for _ in range(concurrency)))
                results.append((time.process_time() - t0) / (per_worker * concurrency) * 1e6)
            return statistics.median(results)

        print(f"## FastAPI endpoint through httpx ASGITransport, CPU us per request "
              f"(median of 3 x {requests}; includes the httpx client's own cost)")
        print(f"{'endpoint':<38} {'sequential':>11} {'10 concurrent':>14}")
        rows = [("no dependency", "/none"), ("1 sync def dependency (thread pool)", "/sync1"),
                ("1 async def dependency", "/async1"), ("3 sync def dependencies (thread pool)", "/sync3"),
                ("3 async def dependencies", "/async3")]
        for label, path in rows:
            seq = await run(path, 1)
            con = await run(path, 10)
            print(f"{label:<38} {seq:>11.0f} {con:>14.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=("encode", "commit", "deps"))
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    if args.what == "encode":
        for n in NS:
            transform_doc_cache[n] = transform_doc(n)
            plain_doc_cache[n] = plain_doc(n)
        encode()
    elif args.what == "commit":
        asyncio.run(commit(args.rounds))
    else:
        asyncio.run(deps(args.requests))


if __name__ == "__main__":
    main()
