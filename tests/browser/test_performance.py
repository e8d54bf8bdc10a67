"""Time from sign-in to the overview drawn (cards, charts, calendar) for a user with 10,000
closed trades over two years (DASHBOARD_PERF_TRADES changes the count). Prints the figure;
no timing assertion (docs/performance.md records it)."""

from __future__ import annotations

import asyncio
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import httpx

from .conftest import new_email, sign_in_through_form

TRADES = int(os.environ.get("DASHBOARD_PERF_TRADES", "10000"))
CONCURRENCY = 40


async def _write_trades(url: str, token: str, n: int) -> None:
    """Backtest trades through the API: execute at a price and time, close at another."""
    rng = random.Random(7)
    first = date(2023, 1, 2)
    days = [first + timedelta(days=i) for i in range(730) if (first + timedelta(days=i)).weekday() < 5]
    plan = []
    for i in range(n):
        day = days[i * len(days) // n]
        entry = rng.randint(5_000, 20_000)  # cents
        exit_ = entry + rng.randint(-400, 420)
        plan.append((day, f"{entry // 100}.{entry % 100:02d}", f"{exit_ // 100}.{exit_ % 100:02d}",
                     rng.choice(["AAPL", "MSFT", "GOOG", "BTCUSD", "EURUSD"]),
                     rng.choice(["ma-cross", "breakout", "mean-revert", "momentum"]),
                     rng.choice(["BUY", "SELL"]), str(rng.randint(1, 50))))
    headers = {"Authorization": f"Bearer {token}"}
    queue: asyncio.Queue = asyncio.Queue()
    for i, item in enumerate(plan):
        queue.put_nowait((i, *item))

    async def post(client: httpx.AsyncClient, path: str, body: dict) -> httpx.Response:
        # a pooled connection the server closed (keep-alive timeout) fails on reuse: retry;
        # the execute carries an idempotency key and a close of a closed trade answers it
        for attempt in range(4):
            try:
                return await client.post(path, headers=headers, json=body)
            except httpx.TransportError:
                if attempt == 3:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            i, day, entry, exit_, symbol, strategy, side, qty = queue.get_nowait()
            r = await post(client, "/trades/execute", {
                "symbol": symbol, "side": side, "quantity": qty, "strategy_id": strategy, "source": "backtest",
                "price": entry, "filled_at": f"{day.isoformat()}T14:30:00+00:00", "risk_amount": "50",
                "idempotency_key": f"perf-{i}"})
            assert r.status_code == 201, r.text
            r = await post(client, "/trades/close-shadow", {
                "shadow_id": r.json()["id"], "price": exit_, "closed_at": f"{day.isoformat()}T20:00:00+00:00"})
            assert r.status_code == 200, r.text

    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(CONCURRENCY)))


def test_time_from_sign_in_to_the_overview_drawn(browser, service):
    user = service.sign_up(new_email("perf"))
    started = time.perf_counter()
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's event loop
        pool.submit(asyncio.run, _write_trades(service.url, user["token"], TRADES)).result()
    written = time.perf_counter() - started
    api = service.call("GET", "/trades/shadow/dashboard", user)
    assert api["total_trades"] == str(TRADES)

    figures = []
    for run in range(3):  # a fresh browser context each time: a real sign-in, no cached session
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        try:
            page.goto(service.url)
            page.wait_for_selector("body[data-state=signed-out]")
            page.get_by_label("Email").fill(user["email"])
            page.get_by_label("Password").fill("correct-horse-7")
            t0 = time.perf_counter()
            page.get_by_role("button", name="Sign in", exact=True).click()
            page.wait_for_function("document.body.dataset.state === 'ready'", polling="raf", timeout=60_000)
            wall_ms = (time.perf_counter() - t0) * 1000
            page_ms = page.evaluate("window.__dashboard.timings[0]")
            assert page.locator('[data-metric="total_pnl"] .num').get_attribute("data-raw") == api["total_pnl"]
            assert page.locator(".calendar .month").count() == 24
            figures.append((wall_ms, page_ms))
        finally:
            context.close()
    print(f"\ndashboard performance: {TRADES} closed trades over {api['trading_days']} trading days "
          f"(written through the API in {written:.0f} s)")
    for i, (wall_ms, page_ms) in enumerate(figures, 1):
        print(f"  run {i}: sign-in click to cards+charts+calendar drawn: {wall_ms:.0f} ms; the page's own clock: "
              f"{page_ms['signInToDrawnMs']:.0f} ms = sign-in {page_ms['authMs']:.0f} + dashboard API "
              f"{page_ms['dashboardApiMs']:.0f} + drawing {page_ms['drawMs']:.0f}")
