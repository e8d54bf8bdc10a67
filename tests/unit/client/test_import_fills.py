"""The broker-fills importer against the stand-in of the live-fill contract
(fake_service.py), no server: a missing column refuses the file before any call, a bad
number or time refuses its row with its reason while the others go on, a close without an
open live position is refused with the service's code, a repeated execution id is refused
and not sent, and a re-import changes nothing; the retry policy's pieces (Retry-After, which
answers are transient) and a row outlasting its attempts, which stops the import."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from strategy_client.cli import app
from strategy_client.importer import (
    REQUIRED_COLUMNS, ImportAborted, MissingColumns, RefusedRow, RetryPolicy, import_fills, is_transient, read_fills,
    retry_after_seconds,
)
from tests.unit.client.fake_service import FakeService

EXAMPLE = Path(__file__).resolve().parents[3] / "data" / "examples" / "broker-fills.csv"
HEADERS = {"Authorization": "Bearer test"}
HEADER = "execution_id,filled_at,symbol,side,quantity,price,commission,strategy_id,signal_id,action\n"


class Clock:
    """A clock the test moves: every call returns ``at`` and then moves it 1 ms on."""

    def __init__(self) -> None:
        self.at = datetime(2024, 6, 1, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        self.at += timedelta(milliseconds=1)
        return self.at


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fills.csv"
    path.write_text(text)
    return path


async def run(fake: FakeService, path: Path, started: datetime):
    fills, refused = read_fills(path)
    async with httpx.AsyncClient(transport=fake.transport(), base_url="http://fake") as client:
        result = await import_fills(client, fills, user_headers=HEADERS, started=started)
    result.refused[:0] = refused
    return result


@pytest.mark.parametrize("column", REQUIRED_COLUMNS)
def test_a_missing_required_column_refuses_the_file_naming_it(tmp_path, column):
    names = [c for c in HEADER.strip().split(",") if c != column]
    path = write(tmp_path, ",".join(names) + "\n" + ",".join("x" for _ in names) + "\n")
    with pytest.raises(MissingColumns, match=f"missing required column\\(s\\): {column} ") as info:
        read_fills(path)
    assert info.value.columns == [column]


def test_the_cli_refuses_a_file_without_a_column_before_any_call(tmp_path):
    path = write(tmp_path, "execution_id,filled_at,symbol,side,price,strategy_id\n")
    # the URL would refuse any connection: the command must stop before it
    outcome = CliRunner().invoke(app, ["import-fills", str(path), "--url", "http://127.0.0.1:9", "--token", "t"])
    assert outcome.exit_code == 2
    assert "missing required column(s): quantity, action" in outcome.output


async def test_the_example_file_imports_and_a_reimport_changes_nothing():
    clock = Clock()
    fake = FakeService(now=clock)
    first = await run(fake, EXAMPLE, started=clock())
    assert (len(first.recorded), first.refused, first.already_recorded) == (5, [], 0)
    assert first.summary() == "5 rows: 5 recorded (5 new, 0 already recorded), 0 refused"
    opens = [b for m, p, b in fake.calls if p == "/trades/execute"]
    assert opens[0] == {"source": "live", "strategy_id": "ma-cross", "symbol": "AAPL", "quantity": "100",
                        "price": "186.2100", "execution_id": "0001f4e8.6650a1b2.01.01", "commission": "1.00",
                        "signal_id": "sig-20240513-aapl-open", "side": "BUY",
                        "filled_at": "2024-05-13T09:30:02.118000-04:00", "broker_order_id": "ord-7001",
                        "broker": "ibkr"}
    close = [b for m, p, b in fake.calls if p == "/trades/close-shadow"][0]
    assert close == {"source": "live", "strategy_id": "ma-cross", "symbol": "AAPL", "quantity": "60",
                     "price": "189.7500", "execution_id": "0001f4e8.6651e5f6.01.01", "commission": "1.00",
                     "signal_id": "sig-20240515-aapl-close", "closed_at": "2024-05-15T15:58:10.003000-04:00"}
    # the partial close took 60 of the oldest AAPL fill (100): 40 stay open; MSFT is closed
    aapl1, aapl2, msft = fake.live.values()
    assert (aapl1["status"], aapl1["open_quantity"], aapl2["open_quantity"]) == ("OPEN", "40", "50")
    # short 20 at 414.10, bought back at 419.90: -116.00 gross, 2.00 commission
    assert (msft["status"], msft["realized_pnl"]) == ("CLOSED", "-118.00")
    before = [dict(t) for t in fake.live.values()]

    second = await run(fake, EXAMPLE, started=clock())
    assert [t for t in fake.live.values()] == before  # nothing new, nothing closed twice
    assert [r.trade_id for r in second.recorded] == [r.trade_id for r in first.recorded]
    assert (second.already_recorded, second.refused) == (5, [])
    assert second.summary() == "5 rows: 5 recorded (0 new, 5 already recorded), 0 refused"


async def test_bad_rows_are_refused_with_their_reason_and_the_others_go_on(tmp_path):
    clock = Clock()
    fake = FakeService(now=clock)
    path = write(tmp_path, HEADER + "\n".join([
        "e1,2024-05-13T09:30:00-04:00,AAPL,BUY,10,186.21,1.00,s,,open",
        "e2,2024-05-13T09:31:00-04:00,AAPL,BUY,10,18x6.21,1.00,s,,open",        # bad price
        "e3,2024-05-13T09:32:00-04:00,AAPL,BUY,10,186.21,-1,s,,open",           # negative commission
        "e4,2024-05-13 09:33:00,AAPL,BUY,10,186.21,,s,,open",                  # no offset
        "e5,yesterday,AAPL,BUY,10,186.21,,s,,open",                            # not a time
        "e6,2024-05-13T09:34:00-04:00,AAPL,HOLD,10,186.21,,s,,open",           # bad side
        "e7,2024-05-13T09:35:00-04:00,MSFT,SELL,5,414.10,1.00,s,,close",       # no open MSFT position
        "e8,2024-05-14T09:35:00-04:00,AAPL,SELL,11,190.00,1.00,s,,close",      # more than the 10 open
        "e9,2099-01-01T00:00:00+00:00,AAPL,BUY,1,186.21,,s,,open",             # in the future
        "e1,2024-05-13T09:30:00-04:00,AAPL,BUY,10,186.25,1.00,s,,open",        # e1 again, another price: not sent
        "e10,2024-05-14T09:36:00-04:00,AAPL,SELL,10,190.00,1.00,s,,close",
        ",2024-05-14T09:36:00-04:00,AAPL,SELL,10,190.00,1.00,s,,close",        # no execution_id
    ]) + "\n")
    result = await run(fake, path, started=clock())
    refused = {r.line: (r.execution_id, r.code, r.status) for r in result.refused}
    assert refused == {
        3: ("e2", "invalid_number", None), 4: ("e3", "invalid_number", None), 5: ("e4", "invalid_time", None),
        6: ("e5", "invalid_time", None), 7: ("e6", "invalid_row", None), 8: ("e7", "no_open_live_position", 409),
        9: ("e8", "close_quantity_exceeds_open", 422), 10: ("e9", "time_in_future", 422),
        11: ("e1", "duplicate_execution_id", None), 13: ("", "invalid_row", None),
    }
    messages = {r.line: r.message for r in result.refused}
    assert "price is not a decimal number: '18x6.21'" in messages[3]
    assert "UTC offset" in messages[5] and "side must be BUY or SELL" in messages[7]
    assert "execution_id" in messages[13]
    assert messages[11] == "line 11 repeats execution id e1 of line 2 (other price); only the first is imported"
    assert sum(b.get("execution_id") == "e1" for _, _, b in fake.calls) == 1
    assert [(r.line, r.execution_id, r.already) for r in result.recorded] == [(2, "e1", False), (12, "e10", False)]
    assert [t["status"] for t in fake.live.values()] == ["CLOSED"]
    assert result.summary() == "12 rows: 2 recorded (2 new, 0 already recorded), 10 refused"


async def test_a_refused_token_stops_the_import():
    fills, _ = read_fills(EXAMPLE)
    async with httpx.AsyncClient(transport=FakeService().transport(), base_url="http://fake") as client:
        with pytest.raises(ImportAborted, match="401 unauthenticated"):
            await import_fills(client, fills, user_headers={}, started=datetime.now(timezone.utc))


def test_the_cli_prints_refused_rows_and_exits_1(tmp_path, monkeypatch):
    fake = FakeService()
    real = httpx.AsyncClient
    monkeypatch.setattr(httpx, "AsyncClient", lambda **kw: real(transport=fake.transport(), **kw))
    path = write(tmp_path, HEADER + "e1,2024-05-13T09:30:00-04:00,AAPL,BUY,10,186.21,1.00,s,,open\n"
                                    "e2,2024-05-13T09:30:00-04:00,AAPL,BUY,ten,186.21,1.00,s,,open\n")
    outcome = CliRunner().invoke(app, ["import-fills", str(path), "--token", "t"], terminal_width=200)
    assert outcome.exit_code == 1, outcome.output
    assert "invalid_number" in outcome.output and "quantity is not a decimal number" in outcome.output
    assert "2 rows: 1 recorded (1 new, 0 already recorded), 1 refused" in outcome.output
    assert RefusedRow(3, "e2", "invalid_number", "quantity is not a decimal number: 'ten'") in read_fills(path)[1]


# ------------------------------------------------------------ retries (the policy alone)
def answer(status: int, code: str = "", **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, json={"error": {"code": code, "message": code}} if code else {})


@pytest.mark.parametrize(("value", "seconds"), [
    ("3", 3.0), ("0", 0.0), ("Sat, 01 Jun 2024 00:00:07 GMT", 7.0), ("Fri, 31 May 2024 23:00:00 GMT", 0.0),
    ("soon", None), ("1.5", None), ("-1", None), ("", None),
])
def test_retry_after_is_delay_seconds_or_an_http_date(value, seconds):
    now = datetime(2024, 6, 1, tzinfo=timezone.utc)
    response = httpx.Response(503, headers={"Retry-After": value} if value else {})
    assert retry_after_seconds(response, now=now) == seconds


@pytest.mark.parametrize(("response", "transient"), [
    (answer(429), True), (answer(502), True), (answer(503, "storage_unavailable"), True), (answer(504), True),
    (answer(409, "trade_busy", **{"Retry-After": "1"}), True),
    (answer(409, "no_open_live_position"), False), (answer(422, "idempotency_key_reused"), False),
    (answer(401, "invalid_token"), False), (answer(500, "storage_rejected"), False), (answer(201), False),
])
def test_only_passing_conditions_are_transient(response, transient):
    assert is_transient(response) is transient


def test_the_cli_reports_a_row_that_outlasts_its_retries_and_stops(tmp_path, monkeypatch):
    fake = FakeService()

    def busy(request: httpx.Request) -> httpx.Response:  # e2 stays unavailable: e3 is never sent
        if json.loads(request.content)["execution_id"] == "e2":
            fake.calls.append((request.method, request.url.path, json.loads(request.content)))
            return answer(503, "storage_unavailable", **{"Retry-After": "0"})
        return fake.handle(request)

    real = httpx.AsyncClient
    monkeypatch.setattr(httpx, "AsyncClient", lambda **kw: real(transport=httpx.MockTransport(busy), **kw))
    path = write(tmp_path, HEADER + "e1,2024-05-13T09:30:00-04:00,AAPL,BUY,10,186.21,1.00,s,,open\n"
                                    "e2,2024-05-13T09:31:00-04:00,AAPL,BUY,10,186.21,1.00,s,,open\n"
                                    "e3,2024-05-13T09:32:00-04:00,AAPL,BUY,10,186.21,1.00,s,,open\n")
    outcome = CliRunner().invoke(app, ["import-fills", str(path), "--token", "t", "--attempts", "2"],
                                 terminal_width=200)
    assert outcome.exit_code == 1, outcome.output
    assert [b["execution_id"] for _, _, b in fake.calls] == ["e1", "e2", "e2"]
    assert "storage_unavailable" in outcome.output and "after 2 attempt(s)" in outcome.output
    assert "2 rows: 1 recorded (1 new, 0 already recorded), 1 refused, 1 not sent" in outcome.output
    assert "stopped at line 3 (e2)" in outcome.output


async def test_a_row_without_an_answer_after_its_attempts_is_unreachable_and_stops_the_import():
    fills, _ = read_fills(EXAMPLE)
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse), base_url="http://fake") as client:
        with pytest.raises(ImportAborted, match=r"line 2 \(0001f4e8.6650a1b2.01.01\): no answer after 3") as info:
            await import_fills(client, fills, user_headers=HEADERS, started=datetime.now(timezone.utc),
                               retry=RetryPolicy(attempts=3, sleep=sleep))
    [row] = info.value.result.refused
    assert (row.line, row.code, row.status, info.value.result.unsent) == (2, "unreachable", None, 4)
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] <= 1 and 1 <= sleeps[1] <= 1.5  # backoff, no Retry-After
