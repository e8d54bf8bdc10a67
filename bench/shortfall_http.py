"""Benchmark (issue 14): ``GET /trades/shortfall`` latency through the HTTP app (httpx
``ASGITransport``) on the emulator, for two users with the same days and pairs and a
different number of signals, timed interleaved in one run.

    scripts/with-emulator .venv/bin/python bench/shortfall_http.py [--small 100] [--large 5000] [--reads 30]

Seeding goes through ``POST /trades/execute``, as a client would: both users get signals
over the same 10 past weekdays (New York time, 10:00 to 15:30), 2 strategies x 2 symbols.
Each signal is a ``source: "backtest"`` fill with its ``signal_id`` at a bar price and
time, then one or two ``source: "live"`` fills of the same signal (``execution_id``,
commission) at prices within ``--perturb-bps`` of the bar, a few seconds later. The fills
of one signal are sent in order; ``--concurrency`` signals are in flight. Everything is
drawn from ``random.Random(--seed)``, so both users see the same kind of data.

Then, per user: ``maintenance.verify(uid)`` must return [] (prints OK or the
differences), ``--warmup`` reads (a read merges the write shards of up to 8 settled
days: the timed reads see the merged state; their times are printed), and the
``aggSignals`` documents (the shortfall counters; a read fetches all of them for an
unbounded window): how many after seeding and after the warm-up, their size (bytes by
``storage.budget.document_size``) and their histogram entries.

Timed, ``--reads`` per user and variant, the two users alternating (ABBA), sequentially:

- ``GET /trades/shortfall?shadow_source=backtest`` (summary, groups, first page of rows,
  tracking), unfiltered and with ``strategy_id``;
- its parts, called in process: the page of rows (``ShortfallRepository.page``), the
  counters (``ShortfallRepository.counters``) and the two dashboards of the tracking
  (``PerformanceService.dashboard``);
- for contrast, what the summary read before the counters: every signal of the user,
  streamed with the Firestore client and summarized (``shortfall_of`` + ``summarize``).
  Its summary must equal the served one.

Prints the seeding time, the document counts, median and p90 ms per user and the ratio of
the medians (large over small) per variant.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from asgi_lifespan import LifespanManager
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from backend.strategy_service.auth.emulator import make_emulator_token
from backend.strategy_service.config import Settings
from backend.strategy_service.core.shortfall import summarize
from backend.strategy_service.main import create_app
from dashboard_http import stats  # median and p90 of timings, as the dashboard benchmark reports them
from backend.strategy_service.performance.filters import TradeFilter
from backend.strategy_service.performance.repository import AGG_SIGNALS
from backend.strategy_service.shortfall.repository import SIGNALS, shortfall_of
from backend.strategy_service.shortfall.schemas import summary_view
from backend.strategy_service.storage.budget import document_size
from backend.strategy_service.storage.client import USERS

NY = ZoneInfo("America/New_York")
#: The two symbols and their bar price level (USD).
SYMBOLS = {"AAPL": Decimal("190.00"), "MSFT": Decimal("415.00")}
STRATEGIES = ["ma", "rsi"]
DAYS = 10
CENT = Decimal("0.01")


def past_weekdays(n: int) -> list[date]:
    """The ``n`` weekdays before today in New York, oldest first."""
    day, out = datetime.now(NY).date(), []
    while len(out) < n:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            out.append(day)
    return out[::-1]


def plan(n: int, *, seed: int, perturb_bps: int) -> list[list[dict[str, Any]]]:
    """``n`` signals, each the request bodies of its fills in sending order: the backtest
    fill (the decision: bar price and time), then one or two live fills."""
    rng = random.Random(seed)
    days = past_weekdays(DAYS)
    out = []
    for i in range(n):
        day, symbol, strategy = rng.choice(days), rng.choice(list(SYMBOLS)), rng.choice(STRATEGIES)
        side = rng.choice(["BUY", "SELL"])
        opening = datetime.combine(day, datetime.min.time(), NY)
        decided = opening + timedelta(seconds=rng.uniform(10 * 3600, 15.5 * 3600))
        bar = (SYMBOLS[symbol] * (1 + Decimal(rng.uniform(-0.02, 0.02)))).quantize(CENT)
        signal = f"sig-{i:06d}"
        head = {"symbol": symbol, "side": side, "strategy_id": strategy, "signal_id": signal}
        bodies = [{**head, "source": "backtest", "quantity": "10", "price": str(bar),
                   "filled_at": decided.astimezone(timezone.utc).isoformat()}]
        parts = rng.choice([1, 2])
        for k in range(parts):
            price = (bar * (1 + Decimal(rng.uniform(-perturb_bps, perturb_bps)) / 10_000)).quantize(CENT)
            filled = decided + timedelta(seconds=rng.uniform(1, 30) * (k + 1))
            bodies.append({**head, "source": "live", "quantity": str(10 // parts), "price": str(price),
                           "filled_at": filled.astimezone(timezone.utc).isoformat(), "commission": "0.35",
                           "execution_id": f"E-{signal}-{k}"})
        out.append(bodies)
    return out


async def seed_user(client: httpx.AsyncClient, head: dict, signals: list[list[dict]], concurrency: int,
                    progress: Progress, label: str) -> tuple[float, int]:
    """Send every signal's fills (in order within a signal); returns (wall seconds, fills)."""
    sem = asyncio.Semaphore(concurrency)
    task = progress.add_task(label, total=len(signals))

    async def one(bodies: list[dict]) -> None:
        """The fills of one signal, in order."""
        async with sem:
            for body in bodies:
                r = await client.post("/trades/execute", json=body, headers=head)
                assert r.status_code == 201, r.text
            progress.advance(task)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(b) for b in signals))
    return time.perf_counter() - t0, sum(len(b) for b in signals)


async def count(col: Any) -> int:
    """Documents in a collection (a count aggregation)."""
    [[result]] = [r async for r in col.count().stream()]
    return int(result.value)


async def timed_alternating(users: list[str], reads: int,
                            call: Callable[[str], Awaitable[Any]]) -> dict[str, list[float]]:
    """``reads`` timed calls per user, the users alternating (ABBA); ms per call."""
    out: dict[str, list[float]] = {u: [] for u in users}
    for i in range(reads):
        for uid in (users if i % 2 == 0 else users[::-1]):
            t0 = time.perf_counter()
            await call(uid)
            out[uid].append((time.perf_counter() - t0) * 1000)
    return out


async def main(args: argparse.Namespace) -> None:
    """Seed both users, verify them, time the variants and print the table."""
    project = f"demo-bench-{uuid.uuid4().hex[:8]}"
    settings = Settings(ENV="test", GOOGLE_CLOUD_PROJECT=project,
                        FIRESTORE_EMULATOR_HOST=os.environ["FIRESTORE_EMULATOR_HOST"],
                        FIREBASE_AUTH_EMULATOR_HOST=os.environ.get("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099"))
    app = create_app(settings)
    users = {"small": args.small, "large": args.large}
    days = past_weekdays(DAYS)
    print(f"now: {datetime.now(NY).isoformat(timespec='seconds')} (America/New_York); days {days[0]} to {days[-1]}; "
          f"{len(STRATEGIES)} strategies x {len(SYMBOLS)} symbols; {args.concurrency} signals in flight; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs")
    async with LifespanManager(app):
        services = app.state.services
        db = services.shortfall.signals.client
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=300) as c:
            heads = {u: {"Authorization": f"Bearer {make_emulator_token(u, project)}"} for u in users}
            columns = TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
            with Progress(*columns) as progress:
                walls = {}
                for uid, n in users.items():
                    walls[uid] = await seed_user(c, heads[uid], plan(n, seed=args.seed, perturb_bps=args.perturb_bps),
                                                 args.concurrency, progress, f"seeding {uid} ({n:,} signals)")
            for uid, n in users.items():
                wall, fills = walls[uid]
                print(f"seeded {uid}: {n:,} signals, {fills:,} fills in {wall:.1f} s ({fills / wall:.1f} fills/s)")
            shards = {}
            for uid in users:
                t0 = time.perf_counter()
                diffs = await services.maintenance.verify(uid)
                print(f"verify({uid}): {'OK' if not diffs else f'{len(diffs)} differences, e.g. {diffs[:3]}'} "
                      f"({time.perf_counter() - t0:.1f} s)")
                shards[uid] = await count(db.collection(USERS, uid, AGG_SIGNALS))
                warm = []
                for _ in range(args.warmup):  # merges the write shards of up to 8 settled days a read
                    t0 = time.perf_counter()
                    r = await c.get("/trades/shortfall", params={"shadow_source": "backtest"}, headers=heads[uid])
                    warm.append(f"{(time.perf_counter() - t0) * 1000:.0f}")
                    assert r.status_code == 200, r.text
                signals = await count(db.collection(USERS, uid, SIGNALS))
                docs = [s async for s in db.collection(USERS, uid, AGG_SIGNALS).stream()]
                size = sum(document_size([USERS, uid, AGG_SIGNALS, s.id], s.to_dict() or {}) for s in docs)
                bins = sum(len(v.get("h") or {}) for s in docs for v in ((s.to_dict() or {}).get("c") or {}).values())
                body = r.json()
                print(f"{uid}: {signals:,} signal documents; aggSignals documents {shards[uid]} after seeding, "
                      f"{len(docs)} after {args.warmup} warm-up reads ({', '.join(warm)} ms): what each timed "
                      f"read fetches, {size:,} bytes, {bins:,} histogram entries; summary signals "
                      f"{body['summary']['signals']}, {len(body['groups'])} groups, {len(body['items'])} rows, "
                      f"{len(body['tracking'])} tracking days")

            def http(params: dict[str, str]) -> Callable[[str], Awaitable[Any]]:
                """A timed call: the HTTP read with ``params``."""
                async def call(uid: str) -> None:
                    """One ``GET /trades/shortfall`` of ``uid`` with ``params``."""
                    r = await c.get("/trades/shortfall", params={"shadow_source": "backtest", **params},
                                    headers=heads[uid])
                    assert r.status_code == 200, r.text
                return call

            async def page(uid: str) -> None:
                """The first page of rows, as the read asks for it."""
                await services.shortfall.signals.page(uid, first_us=None, last_us=None, strategy_id=None, symbol=None,
                                                      limit=settings.PAGE_SIZE_DEFAULT, after_id=None)

            async def counters(uid: str) -> None:
                """Every counter of the live generation (an unbounded window)."""
                gen = (await services.users.get(uid)).aggregates.number
                await services.shortfall.signals.counters(uid, gen, None, None)

            async def tracking(uid: str) -> None:
                """The two dashboards the tracking difference reads."""
                for source in ("live", "backtest"):
                    await services.performance.dashboard(uid, TradeFilter(source=source))

            async def stream(uid: str) -> None:
                """The old design's summary: every signal streamed, then summarized."""
                rows = [shortfall_of(s.to_dict() or {}) async for s in db.collection(USERS, uid, SIGNALS).stream()]
                summarize(rows)

            variants = {
                "GET /trades/shortfall": http({}),
                f"GET /trades/shortfall?strategy_id={STRATEGIES[0]}": http({"strategy_id": STRATEGIES[0]}),
                "  part: page of rows": page,
                "  part: counters": counters,
                "  part: tracking (2 dashboards)": tracking,
            }
            if not args.skip_stream:
                variants["before: stream every signal + summarize"] = stream
            results = {}
            for name, call in variants.items():
                results[name] = await timed_alternating(list(users), args.reads, call)
            if not args.skip_stream:  # the counters' summary is the signals' own
                for uid in users:
                    served = (await c.get("/trades/shortfall", params={"shadow_source": "backtest"},
                                          headers=heads[uid])).json()["summary"]
                    docs = [shortfall_of(s.to_dict() or {}) async for s in db.collection(USERS, uid, SIGNALS).stream()]
                    own = summary_view(summarize(docs))
                    print(f"{uid}: served summary {'equals' if served == own else f'DIFFERS: {served} !='} the "
                          f"streamed signals' {own}")
    small, large = users
    print(f"\nload average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {args.reads} reads per user and variant")
    print(f"{'variant':<44} {'user':<6} {'signals':>7} {'median ms':>9} {'p90 ms':>7} {'ratio':>6}")
    for name, res in results.items():
        ratio = statistics.median(res[large]) / statistics.median(res[small])
        for uid in users:
            med, p90 = stats(res[uid])
            print(f"{name:<44} {uid:<6} {users[uid]:>7,} {med:>9.1f} {p90:>7.1f} "
                  f"{f'{ratio:.2f}' if uid == large else '':>6}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=100, help="signals of the small user")
    parser.add_argument("--large", type=int, default=5_000, help="signals of the large user")
    parser.add_argument("--reads", type=int, default=30, help="timed reads per user and variant")
    parser.add_argument("--warmup", type=int, default=3, choices=range(1, 100), metavar="N",
                        help="untimed reads per user before the timed ones (at least 1)")
    parser.add_argument("--concurrency", type=int, default=32, help="signals in flight while seeding")
    parser.add_argument("--perturb-bps", type=int, default=5, help="live fills within this many bps of the bar")
    parser.add_argument("--seed", type=int, default=14, help="random seed of the plan")
    parser.add_argument("--skip-stream", action="store_true", help="skip the old design's full stream of the signals")
    asyncio.run(main(parser.parse_args()))
