"""Benchmark 1 (issue 11): ``GET /trades/shadow/dashboard`` latency through the HTTP app
(httpx ``ASGITransport``) on the emulator, two pairs of users, each pair timed
interleaved in one run:

- (a) "same day": 50 closes today against 5,000 closes today;
- (b) "year": 100 closes against 10,000 closes spread over the past 365 days (today
  excluded, so the latest-day sequence plays no part).

    scripts/with-emulator .venv/bin/python bench/dashboard_http.py [--requests 40] [--seed http|service]

Seeding makes real trades: backtest trades opened (``execute`` with ``source=backtest``,
``price``, ``filled_at``) and closed (``close`` with ``price`` and ``closed_at``), so the
aggregates are exactly what closes write (load-chosen shards included). ``--seed http``
(default) goes through the API, ``POST /trades/execute`` then ``POST
/trades/close-shadow``, with ``--concurrency`` requests in flight; ``--seed service``
calls ``app.state.services.trades.execute/close`` (no HTTP layer). The seeding time of
each user is printed. Today's closes fall between midnight and 30 minutes ago in
America/New_York (the users' default zone), spread uniformly; 5 symbols, 3 strategies.

Then, per user: ``maintenance.verify(uid)`` must return [] (prints OK or the
differences), one warm-up request (it stores the fold checkpoint, as any earlier view
would have), then ``--requests`` timed requests per user, alternating between the two users
of a pair (ABBA order), sequentially.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
from asgi_lifespan import LifespanManager

from backend.strategy_service.auth.emulator import make_emulator_token
from backend.strategy_service.config import Settings
from backend.strategy_service.main import create_app
from backend.strategy_service.trades.models import ExecuteCommand

NY = ZoneInfo("America/New_York")
SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "META"]
STRATEGIES = ["ma", "rsi", "breakout"]


def close_times(n: int, *, today: bool, rng: random.Random) -> list[datetime]:
    """``n`` close times: earlier today (New York midnight to 30 minutes ago), or over the
    365 days before today."""
    now = datetime.now(timezone.utc)
    midnight = datetime.combine(now.astimezone(NY).date(), datetime.min.time(), NY).astimezone(timezone.utc)
    if today:
        span = (now - timedelta(minutes=30) - midnight).total_seconds()
        assert span > 600, "run this later in the New York day: today has less than 40 minutes"
        return [midnight + timedelta(seconds=rng.uniform(0, span)) for _ in range(n)]
    return [midnight - timedelta(seconds=rng.uniform(1, 365 * 86400)) for _ in range(n)]


def plan(n: int, *, today: bool, seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for closed in close_times(n, today=today, rng=rng):
        opened = closed - timedelta(seconds=rng.uniform(60, 3600))
        out.append({"symbol": rng.choice(SYMBOLS), "strategy_id": rng.choice(STRATEGIES), "side": rng.choice(["BUY", "SELL"]),
                    "entry": Decimal(rng.randrange(5_000, 50_000)) / 100, "exit": Decimal(rng.randrange(5_000, 50_000)) / 100,
                    "opened": opened, "closed": closed, "risk": Decimal(100) if rng.random() < 0.7 else None})
    return out


async def seed_user(app, client: httpx.AsyncClient, uid: str, head: dict, trades: list[dict], how: str,
                    concurrency: int) -> float:
    """Open and close every planned trade; returns the wall seconds."""
    services = app.state.services
    sem = asyncio.Semaphore(concurrency)

    async def one(t: dict) -> None:
        async with sem:
            if how == "http":
                body = {"symbol": t["symbol"], "side": t["side"], "quantity": "1", "strategy_id": t["strategy_id"],
                        "source": "backtest", "price": str(t["entry"]), "filled_at": t["opened"].isoformat()}
                if t["risk"] is not None:
                    body["risk_amount"] = str(t["risk"])
                r = await client.post("/trades/execute", json=body, headers=head)
                assert r.status_code == 201, r.text
                r = await client.post("/trades/close-shadow", headers=head,
                                      json={"shadow_id": r.json()["id"], "price": str(t["exit"]),
                                            "closed_at": t["closed"].isoformat()})
                assert r.status_code == 200, r.text
            else:
                trade = await services.trades.execute(uid, ExecuteCommand(
                    symbol=t["symbol"], side=t["side"], strategy_id=t["strategy_id"], source="backtest",
                    quantity=Decimal(1), risk_amount=t["risk"], price=t["entry"], filled_at=t["opened"]))
                await services.trades.close(uid, trade.shadow_id, exit_reason="bench", price=t["exit"],
                                            closed_at=t["closed"])

    t0 = time.perf_counter()
    await asyncio.gather(*(one(t) for t in trades))
    return time.perf_counter() - t0


def stats(values: list[float]) -> tuple[float, float]:
    """Median and p90 (nearest rank) of ``values``."""
    values = sorted(values)
    return statistics.median(values), values[min(len(values) - 1, int(len(values) * 0.9))]


async def main(requests: int, how: str, concurrency: int, pairs: list[str], scale: float) -> None:
    project = f"demo-bench-{uuid.uuid4().hex[:8]}"
    settings = Settings(ENV="test", GOOGLE_CLOUD_PROJECT=project,
                        FIRESTORE_EMULATOR_HOST=os.environ["FIRESTORE_EMULATOR_HOST"],
                        FIREBASE_AUTH_EMULATOR_HOST=os.environ.get("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099"))
    app = create_app(settings)
    all_pairs = {"same day": [("today-50", 50, True), ("today-5000", 5_000, True)],
                 "year": [("year-100", 100, False), ("year-10000", 10_000, False)]}
    print(f"now: {datetime.now(NY).isoformat(timespec='seconds')} (America/New_York); seeding through {how}, "
          f"{concurrency} in flight")
    async with LifespanManager(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=300) as c:
            heads: dict[str, dict] = {}
            results: dict[str, list[float]] = {}
            for name in pairs:
                users = all_pairs[name]
                users = [(uid, max(1, round(n * scale)), today) for uid, n, today in users]
                all_pairs[name] = users
                for i, (uid, n, today) in enumerate(users):
                    heads[uid] = {"Authorization": f"Bearer {make_emulator_token(uid, project)}"}
                    wall = await seed_user(app, c, uid, heads[uid], plan(n, today=today, seed=i), how, concurrency)
                    print(f"seeded {uid}: {n:,} trades opened and closed in {wall:.1f} s ({n / wall:.1f} trades/s)")
                for uid, n, _ in users:
                    t0 = time.perf_counter()
                    diffs = await app.state.services.maintenance.verify(uid)
                    print(f"verify({uid}): {'OK' if not diffs else f'{len(diffs)} differences, e.g. {diffs[:3]}'} "
                          f"({time.perf_counter() - t0:.1f} s)")
                    r = await c.get("/trades/shadow/dashboard", headers=heads[uid])  # warm-up: stores the checkpoint
                    assert r.status_code == 200, r.text
                    closed = r.json().get("total_trades", r.json().get("closed_trades"))
                    print(f"warm-up {uid}: 200 ({closed} trades in the dashboard)")
                for uid, _, _ in users:
                    results[uid] = []
                a, b = users[0][0], users[1][0]
                for i in range(requests):
                    for uid in ((a, b) if i % 2 == 0 else (b, a)):
                        t0 = time.perf_counter()
                        r = await c.get("/trades/shadow/dashboard", headers=heads[uid])
                        results[uid].append((time.perf_counter() - t0) * 1000)
                        assert r.status_code == 200, r.text
    print(f"\n{'pair':<9} {'user':<11} {'closes':>7} {'requests':>8} {'median ms':>9} {'p90 ms':>7}")
    for name in pairs:
        (a, na, _), (b, nb, _) = all_pairs[name]
        for uid, n in ((a, na), (b, nb)):
            med, p90 = stats(results[uid])
            print(f"{name:<9} {uid:<11} {n:>7,} {len(results[uid]):>8} {med:>9.1f} {p90:>7.1f}")
        ratio = statistics.median(results[b]) / statistics.median(results[a])
        print(f"{name:<9} ratio of medians {b} / {a} = {ratio:.2f} (goal <= 1.5)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=40, help="timed requests per user")
    parser.add_argument("--seed", choices=["http", "service"], default="http", help="how the trades are made")
    parser.add_argument("--concurrency", type=int, default=50, help="trades in flight while seeding")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the numbers of trades (quick tries)")
    parser.add_argument("--pairs", nargs="+", choices=["same day", "year"], default=["same day", "year"])
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.seed, args.concurrency, args.pairs, args.scale))
