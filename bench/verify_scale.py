"""Benchmark: ``verify`` and ``rebuild`` are linear in the history. Seeds N closed trades
over C distinct (day, source, strategy, symbol) cells (trade documents written straight to
the emulator, as the closes store them), then times ``rebuild`` (which builds the
aggregates) and ``verify``.

    scripts/with-emulator .venv/bin/python bench/verify_scale.py [--trades 10000 --cells 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from datetime import datetime, timedelta, timezone

from asgi_lifespan import LifespanManager

from backend.strategy_service.config import Settings
from backend.strategy_service.main import create_app
from backend.strategy_service.storage.client import USERS
from backend.strategy_service.trades.repository import SHADOW_TRADES


async def main(trades: int, cells: int) -> None:
    settings = Settings(ENV="test", GOOGLE_CLOUD_PROJECT=f"demo-verify-{uuid.uuid4().hex[:8]}",
                        FIRESTORE_EMULATOR_HOST=os.environ["FIRESTORE_EMULATOR_HOST"], REBUILD_GRACE_SECONDS=0)
    app = create_app(settings)
    days = max(1, cells // 20)
    async with LifespanManager(app):
        services = app.state.services
        db = services.storage.client
        t0 = time.perf_counter()
        batch, pending = db.batch(), 0
        for i in range(trades):
            cell = i % cells
            day, combo = cell // 20, cell % 20
            closed = datetime(2024, 1, 2, 15, tzinfo=timezone.utc) + timedelta(days=day, seconds=i)
            pnl = f"{(i * 7919) % 20001 - 10000}.{i % 100:02d}"
            doc = {"shadow_id": f"t{i:07d}", "uid": "u", "symbol": f"S{combo % 5}", "side": "BUY", "quantity": "1",
                   "notional": "100.00", "entry_price": "100", "strategy_id": f"st{combo // 5}", "source": "backtest",
                   "status": "CLOSED", "created_at": closed - timedelta(hours=1), "closed_at": closed,
                   "realized_pnl": pnl, "realized_pnl_percent": "0.00", "current_pnl": pnl, "pnl_percent": "0.00"}
            batch.set(db.collection(USERS, "u", SHADOW_TRADES).document(doc["shadow_id"]), doc)
            pending += 1
            if pending == 400:
                await batch.commit()
                batch, pending = db.batch(), 0
        if pending:
            await batch.commit()
        print(f"seeded {trades} closed trades over {cells} cells ({days} days) in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        result = await services.maintenance.rebuild("u")
        print(f"rebuild: {time.perf_counter() - t0:.1f} s  {result}")
        t0 = time.perf_counter()
        differences = await services.maintenance.verify("u")
        print(f"verify:  {time.perf_counter() - t0:.1f} s  differences: {len(differences)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trades", type=int, default=10_000)
    parser.add_argument("--cells", type=int, default=5_000)
    args = parser.parse_args()
    asyncio.run(main(args.trades, args.cells))
