"""Benchmark 2 (issue 4): ``GET /trades/shadow/dashboard`` latency through the HTTP app on
the emulator, for a user with 100 and a user with 10,000 closed trades, beside a full-scan
implementation measured the same way.

    scripts/with-emulator .venv/bin/python bench/dashboard_http.py [--requests 40]

Both users trade over the same 250 trading days of 2024 (2 symbols, 2 strategies). Their
trades are written straight to Firestore in batches and their aggregates built with
``rebuild`` (the same documents the closes maintain, as the tests' ``verify`` runs show),
which seeds 10,000 trades in seconds instead of 20,000 HTTP calls. One warm-up request per
user stores the order-fold checkpoint, as any earlier dashboard view would have. The
full-scan route is the previous implementation (stream every trade, ``compute_dashboard``),
mounted on the same app for this run only.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import httpx
from asgi_lifespan import LifespanManager

from backend.strategy_service.config import Settings
from backend.strategy_service.api.deps import CurrentUser, ServicesDep
from backend.strategy_service.auth.emulator import make_emulator_token
from backend.strategy_service.core.dashboard import compute_dashboard
from backend.strategy_service.performance.maintenance import closed_trade_of
from backend.strategy_service.performance.schemas import DashboardOut
from backend.strategy_service.performance.filters import TradeFilter
from backend.strategy_service.main import create_app
from backend.strategy_service.api.routing import DecimalJSONResponse
from backend.strategy_service.storage.client import USERS
from backend.strategy_service.trades.repository import SHADOW_TRADES

TRADING_DAYS = [d for d in (datetime(2024, 1, 2, tzinfo=timezone.utc) + timedelta(days=i) for i in range(365))
                if d.weekday() < 5][:250]


def trade_docs(uid: str, n: int, seed: int) -> list[dict]:
    """n CLOSED backtest trades over the 250 trading days, as the close would store them."""
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        opened = rng.choice(TRADING_DAYS) + timedelta(hours=14, minutes=rng.randrange(30, 390))
        closed = opened + timedelta(minutes=rng.randrange(1, 60))
        pnl = Decimal(rng.randrange(-40_000, 50_000)) / 100
        doc = {"shadow_id": f"b{i:06d}", "uid": uid, "symbol": rng.choice(["AAPL", "MSFT"]), "side": "BUY",
               "quantity": "1", "entry_price": "100", "strategy_id": rng.choice(["ma", "rsi"]), "source": "backtest",
               "status": "CLOSED", "created_at": opened, "closed_at": closed, "realized_pnl": str(pnl),
               "final_pnl": str(pnl), "current_pnl": str(pnl), "pnl_percent": "0.00"}
        if rng.random() < 0.5:
            doc["risk_amount"] = "100.00"
        docs.append(doc)
    return docs


async def seed(services, uid: str, n: int, seed_value: int) -> None:
    docs = trade_docs(uid, n, seed_value)
    db = services.storage.client
    for i in range(0, len(docs), 400):
        batch = db.batch()
        for doc in docs[i:i + 400]:
            batch.set(db.collection(USERS, uid, SHADOW_TRADES).document(doc["shadow_id"]), doc)
        await batch.commit()
    await services.maintenance.rebuild(uid)


async def timed(client: httpx.AsyncClient, path: str, headers: dict, count: int) -> list[float]:
    out = []
    for _ in range(count):
        t0 = time.perf_counter()
        r = await client.get(path, headers=headers)
        out.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, r.text
    return out


def summary(label: str, values: list[float]) -> str:
    values = sorted(values)
    p90 = values[min(len(values) - 1, int(len(values) * 0.9))]
    return f"{label:<34} {len(values):>4} {statistics.median(values):>10.1f} {p90:>10.1f}"


async def main(requests: int, full_requests: int) -> None:
    project = f"demo-bench-{uuid.uuid4().hex[:8]}"
    import os
    settings = Settings(ENV="test", GOOGLE_CLOUD_PROJECT=project,
                        FIRESTORE_EMULATOR_HOST=os.environ["FIRESTORE_EMULATOR_HOST"],
                        FIREBASE_AUTH_EMULATOR_HOST=os.environ.get("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099"))
    app = create_app(settings)

    @app.get("/bench/full-scan-dashboard")
    async def full_scan(user: CurrentUser, services: ServicesDep) -> DecimalJSONResponse:
        user_settings = await services.users.get(user.uid)
        closed = [closed_trade_of(t) async for t in services.maintenance.trades.stream(user.uid) if not t.is_open]
        dashboard = compute_dashboard(closed, starting_capital=user_settings.starting_capital, tz=user_settings.timezone)
        return DecimalJSONResponse(DashboardOut.of(dashboard, TradeFilter()).model_dump())

    async with LifespanManager(app):
        services = app.state.services
        sizes = {"u100": 100, "u10k": 10_000}
        t0 = time.perf_counter()
        for i, (uid, n) in enumerate(sizes.items()):
            await seed(services, uid, n, i)
        print(f"seeded {sum(sizes.values())} closed trades in {time.perf_counter() - t0:.1f} s")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=120) as c:
            heads = {uid: {"Authorization": f"Bearer {make_emulator_token(uid, project)}"} for uid in sizes}
            results = {}
            for uid in sizes:  # warm-up: stores the fold checkpoint; checks both paths agree
                fast = (await c.get("/trades/shadow/dashboard", headers=heads[uid])).json()
                full = (await c.get("/bench/full-scan-dashboard", headers=heads[uid])).json()
                assert fast == full, f"{uid}: aggregates and full scan disagree"
            for uid in sizes:
                results[("aggregates", uid)] = await timed(c, "/trades/shadow/dashboard", heads[uid], requests)
            for uid in sizes:
                results[("full scan", uid)] = await timed(c, "/bench/full-scan-dashboard", heads[uid], full_requests)
        print(f"{'GET dashboard, user':<34} {'n':>4} {'median ms':>10} {'p90 ms':>10}")
        for (kind, uid), values in results.items():
            print(summary(f"{kind}, {sizes[uid]} trades", values))
        for kind in ("aggregates", "full scan"):
            ratio = statistics.median(results[(kind, "u10k")]) / statistics.median(results[(kind, "u100")])
            print(f"{kind}: median(10,000 trades) / median(100 trades) = {ratio:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=40, help="timed requests per user (aggregates)")
    parser.add_argument("--full-requests", type=int, default=5, help="timed requests per user (full scan)")
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.full_requests))
