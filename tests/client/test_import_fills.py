"""Live fills through the real service on the emulator (issue 14): the broker-fills import
(its refusals, duplicates in a file, retries of transient failures) and the replay's live
twins. These need the server side of issue 14 (``source: "live"`` on execute and
close-shadow, ``GET /trades/shortfall``)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from strategy_client.importer import ImportAborted, RetryPolicy, import_fills, read_fills
from strategy_client.replay import LivePerturbation, MovingAverageCrossover, read_ohlcv, replay

DATA = Path(__file__).resolve().parents[2] / "data"
EXAMPLE = DATA / "examples" / "broker-fills.csv"


async def all_trades(client, headers) -> list[dict]:
    items, cursor = [], None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/trades/shadow", params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


async def run_import(client, headers, path: Path, retry: RetryPolicy = RetryPolicy()):
    fills, refused = read_fills(path)
    result = await import_fills(client, fills, user_headers=headers, started=datetime.now(timezone.utc),
                                retry=retry)
    result.refused[:0] = refused
    return result


HEADER = "execution_id,filled_at,symbol,side,quantity,price,commission,strategy_id,signal_id,action\n"

#: A scripted fault: given the request and the real app's call, answer or raise.
Fault = Callable[[httpx.Request, Callable[[httpx.Request], Awaitable[httpx.Response]]], Awaitable[httpx.Response]]


def unavailable(status: int, code: str = "", retry_after: str | None = None) -> Fault:
    """An answer in the service's error shape, without reaching the app."""
    async def play(request, app_call):
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        body = {"error": {"code": code, "message": f"{code} (scripted)"}} if code else {}
        return httpx.Response(status, headers=headers, json=body)
    return play


async def refused_connection(request, app_call):
    raise httpx.ConnectError("connection refused (scripted)", request=request)


async def timeout_after_commit(request, app_call):
    """The app records the row, then the answer is lost: the client sees a timeout."""
    response = await app_call(request)
    await response.aread()
    assert response.status_code == 201, response.text
    raise httpx.ReadTimeout("timed out (scripted, after the app answered)", request=request)


class Scripted(httpx.AsyncBaseTransport):
    """The real app (over ASGI) behind scripted faults: each POST's execution id is logged
    in ``sent``; while that execution id has faults left, the next one plays, else the
    request goes through to the app."""

    def __init__(self, app, faults: dict[str, list[Fault]] | None = None) -> None:
        self.app = httpx.ASGITransport(app=app)
        self.faults = faults or {}
        self.sent: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST":  # the tests' own reads
            return await self.app.handle_async_request(request)
        execution_id = json.loads(request.content)["execution_id"]
        self.sent.append(execution_id)
        if self.faults.get(execution_id):
            return await self.faults[execution_id].pop(0)(request, self.app.handle_async_request)
        return await self.app.handle_async_request(request)


class Sleeps(list):
    """A RetryPolicy ``sleep`` that records the waits instead of waiting."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def write(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "fills.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


class TestImportFills:
    async def test_the_example_imports_and_a_reimport_changes_nothing(self, client, auth):
        headers = auth("importer")
        first = await run_import(client, headers, EXAMPLE)
        assert first.refused == [] and len(first.recorded) == 5 and first.already_recorded == 0
        trades = await all_trades(client, headers)
        live = sorted((t for t in trades if t.get("source") == "live"), key=lambda t: t["created_at"])
        assert [(t["symbol"], t["side"], t["status"]) for t in live] == [
            ("AAPL", "BUY", "OPEN"), ("AAPL", "BUY", "OPEN"), ("MSFT", "SELL", "CLOSED")]
        # the close of 60 took part of the oldest AAPL fill (100 at 186.21): 40 stay open
        assert Decimal(live[0]["open_quantity"]) == 40 and Decimal(live[0]["entry_price"]) == Decimal("186.21")
        # MSFT: short 20 at 414.10, bought back at 419.90, 1.00 + 1.00 commission: -118.00 net
        assert Decimal(live[2]["realized_pnl"]) == Decimal("-118.00")
        metrics = (await client.get("/trades/shadow/metrics", params={"source": "live"}, headers=headers)).json()

        second = await run_import(client, headers, EXAMPLE)
        assert second.refused == [] and [r.trade_id for r in second.recorded] == [r.trade_id for r in first.recorded]
        assert second.already_recorded == 5
        assert await all_trades(client, headers) == trades  # nothing new, nothing closed twice
        again = (await client.get("/trades/shadow/metrics", params={"source": "live"}, headers=headers)).json()
        assert again == metrics

    async def test_refused_rows_carry_the_service_codes(self, client, auth, tmp_path):
        path = tmp_path / "fills.csv"
        path.write_text(
            "execution_id,filled_at,symbol,side,quantity,price,commission,strategy_id,signal_id,action\n"
            "x1,2024-05-13T09:35:00-04:00,MSFT,SELL,5,414.10,1.00,s,,close\n"     # nothing open
            "x2,2099-01-01T00:00:00+00:00,AAPL,BUY,1,186.21,,s,,open\n"            # in the future
            "x3,2024-05-13T09:30:00-04:00,AAPL,BUY,10,186.21,1.00,s,,open\n"
            "x4,2024-05-14T09:30:00-04:00,AAPL,SELL,11,190.00,1.00,s,,close\n"     # more than open
            "x3,2024-05-13T09:30:00-04:00,AAPL,BUY,10,186.25,1.00,s,,open\n"       # x3 again in the file
            "x5,2024-05-14T09:31:00-04:00,AAPL,SELL,1o,190.00,1.00,s,,close\n")    # bad number
        result = await run_import(client, auth("importer"), path)
        assert {r.line: (r.execution_id, r.code) for r in result.refused} == {
            2: ("x1", "no_open_live_position"), 3: ("x2", "time_in_future"),
            5: ("x4", "close_quantity_exceeds_open"), 6: ("x3", "duplicate_execution_id"),
            7: ("x5", "invalid_number")}
        assert [r.execution_id for r in result.recorded] == ["x3"]


def live_trades(trades: list[dict]) -> list[dict]:
    return sorted((t for t in trades if t.get("source") == "live"), key=lambda t: t["created_at"])


class TestDuplicatesInAFile:
    ROWS = [
        "d1,2024-05-13T09:30:00-04:00,AAPL,BUY,10,186.21,1.00,s,,open",
        "d1,2024-05-13T09:30:00-04:00,AAPL,BUY,10,186.21,1.00,s,,open",       # d1 again, the same row
        "d2,2024-05-13T09:31:00-04:00,MSFT,SELL,5,414.10,1.00,s,,open",
        "d2,2024-05-13T09:31:00-04:00,MSFT,SELL,5,414.20,0.50,s,,open",       # d2 again, other price and commission
        "d3,2024-05-14T10:00:00-04:00,AAPL,SELL,4,190.00,1.00,s,,close",
        "d3,2024-05-14T10:00:00-04:00,AAPL,SELL,6,190.00,1.00,s,,close",      # d3 again, another part: no second close
    ]

    async def test_a_repeat_is_refused_and_never_sent_and_a_reimport_reports_the_same(self, app, auth, tmp_path):
        headers, path = auth("importer"), write(tmp_path, self.ROWS)
        transport = Scripted(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service.test", timeout=60) as client:
            first = await run_import(client, headers, path)
            assert transport.sent == ["d1", "d2", "d3"]  # each execution once: the repeats are not sent
            assert [(r.line, r.execution_id, r.already) for r in first.recorded] == [
                (2, "d1", False), (4, "d2", False), (6, "d3", False)]
            assert [(r.line, r.execution_id, r.code, r.message, r.status) for r in first.refused] == [
                (3, "d1", "duplicate_execution_id",
                 "line 3 repeats execution id d1 of line 2 (same values); only the first is imported", None),
                (5, "d2", "duplicate_execution_id",
                 "line 5 repeats execution id d2 of line 4 (other price, commission); only the first is imported",
                 None),
                (7, "d3", "duplicate_execution_id",
                 "line 7 repeats execution id d3 of line 6 (other quantity); only the first is imported", None)]
            assert first.summary() == "6 rows: 3 recorded (3 new, 0 already recorded), 3 refused"
            trades = await all_trades(client, headers)
            aapl, msft = live_trades(trades)
            assert (Decimal(aapl["open_quantity"]), len(aapl["exits"])) == (6, 1)  # one close of 4, not of 10
            assert (Decimal(msft["entry_price"]), Decimal(msft["entry_commission"])) == (Decimal("414.10"), 1)

            second = await run_import(client, headers, path)
            assert transport.sent == ["d1", "d2", "d3"] * 2
            assert [(r.line, r.already) for r in second.recorded] == [(2, True), (4, True), (6, True)]
            assert second.refused == first.refused
            assert second.summary() == "6 rows: 3 recorded (0 new, 3 already recorded), 3 refused"
            assert await all_trades(client, headers) == trades

            # across files the service is the judge: d2 with another price is its idempotency_key_reused
            other = tmp_path / "other.csv"
            other.write_text(HEADER + self.ROWS[3] + "\n")
            third = await run_import(client, headers, other)
            assert [(r.line, r.execution_id, r.code, r.status) for r in third.refused] == [
                (2, "d2", "idempotency_key_reused", 422)]
            assert await all_trades(client, headers) == trades


class TestRetries:
    async def test_transient_failures_are_retried_and_each_row_is_recorded_once(self, app, auth, tmp_path):
        headers = auth("importer")
        path = write(tmp_path, ["r1,2024-05-13T09:30:00-04:00,AAPL,BUY,10,186.21,1.00,s,,open",
                                "r2,2024-05-14T10:00:00-04:00,AAPL,SELL,4,190.00,1.00,s,,close"])
        transport = Scripted(app, {
            # the open: storage down (Retry-After 2), no connection, then recorded but the answer lost
            "r1": [unavailable(503, "storage_unavailable", "2"), refused_connection, timeout_after_commit],
            # the close: the position busy (Retry-After 1), then a rate limit without Retry-After
            "r2": [unavailable(409, "trade_busy", "1"), unavailable(429)],
        })
        sleeps = Sleeps()
        async with httpx.AsyncClient(transport=transport, base_url="http://service.test", timeout=60) as client:
            result = await run_import(client, headers, path, RetryPolicy(sleep=sleeps))
            assert transport.sent == ["r1"] * 4 + ["r2"] * 3
            assert result.refused == [] and [(r.line, r.already) for r in result.recorded] == [(2, False), (3, False)]
            # Retry-After honoured; without it, backoff 0.5 s doubled per attempt plus up to 0.5 s jitter
            assert sleeps[0] == 2 and 1 <= sleeps[1] <= 1.5 and 2 <= sleeps[2] <= 2.5
            assert sleeps[3] == 1 and 1 <= sleeps[4] <= 1.5 and len(sleeps) == 5
            [trade] = live_trades(await all_trades(client, headers))  # the open recorded once, closed once
            assert (Decimal(trade["quantity"]), Decimal(trade["open_quantity"]), len(trade["exits"])) == (10, 6, 1)
            assert [r.trade_id for r in result.recorded] == [trade["id"]] * 2

    async def test_a_refusal_is_never_retried(self, app, auth, tmp_path):
        path = write(tmp_path, ["n1,2024-05-13T09:35:00-04:00,MSFT,SELL,5,414.10,1.00,s,,close",  # 409, nothing open
                                "n2,2099-01-01T00:00:00+00:00,AAPL,BUY,1,186.21,,s,,open"])     # 422, in the future
        transport, sleeps = Scripted(app), Sleeps()
        async with httpx.AsyncClient(transport=transport, base_url="http://service.test", timeout=60) as client:
            result = await run_import(client, auth("importer"), path, RetryPolicy(sleep=sleeps))
        assert [(r.execution_id, r.code, r.status) for r in result.refused] == [
            ("n1", "no_open_live_position", 409), ("n2", "time_in_future", 422)]
        assert (transport.sent, sleeps) == (["n1", "n2"], [])

    async def test_a_row_that_outlasts_its_attempts_stops_the_import_and_a_rerun_completes(self, app, auth, tmp_path):
        headers = auth("importer")
        path = write(tmp_path, [f"s{i},2024-05-13T09:3{i}:00-04:00,AAPL,BUY,1,186.21,,s,,open" for i in (1, 2, 3)])
        transport = Scripted(app, {"s2": [unavailable(503, "storage_unavailable", "1")] * 3})
        async with httpx.AsyncClient(transport=transport, base_url="http://service.test", timeout=60) as client:
            with pytest.raises(ImportAborted, match=r"line 3 \(s2\): 503 storage_unavailable") as info:
                await run_import(client, headers, path, RetryPolicy(attempts=3, sleep=Sleeps()))
            stopped = info.value.result
            assert transport.sent == ["s1", "s2", "s2", "s2"]  # s3 never sent
            assert [r.execution_id for r in stopped.recorded] == ["s1"] and stopped.unsent == 1
            assert [(r.line, r.code, r.status) for r in stopped.refused] == [(3, "storage_unavailable", 503)]
            assert "after 3 attempt(s)" in stopped.refused[0].message
            assert stopped.summary() == "2 rows: 1 recorded (1 new, 0 already recorded), 1 refused, 1 not sent"
            assert len(live_trades(await all_trades(client, headers))) == 1

            rerun = await run_import(client, headers, path, RetryPolicy(sleep=Sleeps()))
            assert [(r.execution_id, r.already) for r in rerun.recorded] == [("s1", True), ("s2", False), ("s3", False)]
            assert len(live_trades(await all_trades(client, headers))) == 3


class TestReplayLiveTwins:
    async def test_every_signal_has_a_live_twin_and_a_rerun_adds_nothing(self, client, auth):
        headers = auth("replayer")
        series = {"GOOG": [b for b in read_ohlcv(DATA / "GOOG.csv") if "2005-01-01" <= b.day.isoformat() <= "2005-12-31"]}

        def strategy():
            return MovingAverageCrossover(fast=5, slow=20, long_short=True)

        live = LivePerturbation(bps=Decimal("10"), seed="1")
        result = await replay(client, series=series, make_strategy=strategy, user_headers=headers, uid="replayer",
                              run_id="live1", live=live)
        assert len(result.trades) > 5
        trades = await all_trades(client, headers)
        backtest = [t for t in trades if t.get("source") == "backtest"]
        live_trades = [t for t in trades if t.get("source") == "live"]
        assert len(live_trades) == len(backtest) == len(result.trades)
        assert {t["signal_id"] for t in live_trades} == {t["signal_id"] for t in backtest}
        assert all(t["status"] == "CLOSED" for t in trades)
        for twin in result.trades:  # within 10 bps of the backtest price
            assert abs(Decimal(twin.live_entry_price) - Decimal(twin.entry_price)) <= Decimal(twin.entry_price) / 1000

        shortfall = await client.get("/trades/shortfall", params={"strategy_id": result.strategy_id, "limit": 200},
                                     headers=headers)
        assert shortfall.status_code == 200, shortfall.text
        assert len(shortfall.json()["items"]) >= len(result.trades)  # at least the opens are linked

        await replay(client, series=series, make_strategy=strategy, user_headers=headers, uid="replayer",
                     run_id="live1", live=live)
        assert await all_trades(client, headers) == trades  # same run id: nothing new
