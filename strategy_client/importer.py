"""Import broker executions (live fills) from a CSV through the service's HTTP API.

Each row is one broker execution. ``action`` says what it does to the strategy's live
position: ``open`` records a fill with ``POST /trades/execute`` (``source: "live"``),
``close`` closes its quantity of the strategy's open live trades in that symbol, first in,
first out (across several positions when it is larger than the oldest), with
``POST /trades/close-shadow`` (``source: "live"``, ``strategy_id`` + ``symbol``). Rows are
sent one at a time in file order, so a close must come after the opens it closes.

The broker's ``execution_id`` is the idempotency key of every call: importing the same
file again records nothing new, each row answering with its first result. A row the
client cannot read (a bad number, a time without an offset, an unknown side or action),
a row that repeats the execution id of an earlier row of the file, or a row the service
refuses (a 4xx) is reported with its line number, its execution id, a code and a
message; the other rows go on. A CSV without a required column is refused as a whole
before any call (:class:`MissingColumns`).

Transient answers (429, 502, 503, 504, 409 ``trade_busy``, a connection error or a
timeout) are retried with backoff under a :class:`RetryPolicy` (tenacity), honouring
``Retry-After``; that is safe because the execution id makes every call idempotent. A row
still failing after the last attempt is refused and stops the import (:class:`ImportAborted`).

Money and quantities are exact ``Decimal`` values parsed from the CSV's text
(``core.money.to_decimal``), sent as decimal strings; never floats.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying, RetryCallState, retry_if_exception_type, retry_if_result, stop_after_attempt,
    wait_exponential, wait_random,
)

from backend.strategy_service.core.money import optional_decimal, to_decimal, to_plain_str

#: Columns every file must have (the header; order free, names case-insensitive).
REQUIRED_COLUMNS = ("execution_id", "filled_at", "symbol", "side", "quantity", "price", "strategy_id", "action")
#: Columns a file may have; an empty cell is the same as no column.
OPTIONAL_COLUMNS = ("commission", "signal_id", "broker_order_id", "broker")
#: ``action`` values.
OPEN, CLOSE = "open", "close"

#: Codes of rows the client refuses before any call (the service's codes are its own).
INVALID_ROW = "invalid_row"          # a required cell is empty, or a bad side or action
INVALID_NUMBER = "invalid_number"    # quantity, price or commission is not a decimal number, or out of range
INVALID_TIME = "invalid_time"        # filled_at is not ISO 8601 with a UTC offset
DUPLICATE_EXECUTION_ID = "duplicate_execution_id"  # an earlier row of the file has the same execution_id
#: Code of a row whose last attempt failed without an answer (connection error, timeout).
UNREACHABLE = "unreachable"

#: Statuses answered for a passing condition (rate limit, storage or gateway trouble): retried.
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
#: Error codes retried whatever their status: 409 ``trade_busy`` (other writers kept
#: changing the position; the service says when to retry with ``Retry-After``).
TRANSIENT_CODES = frozenset({"trade_busy"})
#: Errors of a request that got no answer and may get one later: retried.
TRANSIENT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class MissingColumns(ValueError):
    """The CSV lacks required columns: the file is refused as a whole, nothing is sent.

    Attributes:
        columns: the missing column names, in the order of :data:`REQUIRED_COLUMNS`.
    """

    def __init__(self, path: Path | str, columns: list[str]) -> None:
        self.columns = columns
        super().__init__(f"{path}: missing required column(s): {', '.join(columns)} "
                         f"(required: {', '.join(REQUIRED_COLUMNS)})")


class ImportAborted(RuntimeError):
    """The import stopped at a row: the service refused the caller (401/403), failed for
    good (500...), or the row's transient failure (429, 502-504, ``trade_busy``, network)
    outlasted the retries. Rows before it are recorded and the rows after it were not sent;
    re-running the import is safe.

    Attributes:
        result: what the import did up to the stop (its ``refused`` holds the row that gave
            up after its retries; its ``unsent`` counts the rows not sent), or None.
    """

    def __init__(self, message: str, result: ImportResult | None = None) -> None:
        self.result = result
        super().__init__(message)


@dataclass(frozen=True)
class Fill:
    """One readable CSV row, ready to send.

    Attributes:
        line: the row's line number in the file (the header is line 1).
        execution_id: the broker's execution id (the idempotency key).
        action: :data:`OPEN` or :data:`CLOSE`.
        path: the endpoint, ``/trades/execute`` or ``/trades/close-shadow``.
        body: the JSON body (decimals as plain strings).
    """

    line: int
    execution_id: str
    action: str
    path: str
    body: dict[str, str]


@dataclass(frozen=True)
class RefusedRow:
    """A row that was not recorded.

    Attributes:
        line: the row's line number in the file (the header is line 1).
        execution_id: the row's execution id ("" when the cell is empty).
        code: the client's code (:data:`INVALID_ROW`, :data:`INVALID_NUMBER`,
            :data:`INVALID_TIME`, :data:`DUPLICATE_EXECUTION_ID`, :data:`UNREACHABLE`) or
            the service's error code (``time_in_future``, ``no_open_live_position``,
            ``close_quantity_exceeds_open``, ``idempotency_key_reused``,
            ``validation_error``, or after the last retry ``storage_unavailable``,
            ``trade_busy``...).
        message: why, for a person.
        status: the HTTP status of the service's refusal, or None for a client refusal.
    """

    line: int
    execution_id: str
    code: str
    message: str
    status: int | None = None


@dataclass(frozen=True)
class RecordedRow:
    """A row the service answered with a trade.

    Attributes:
        line: the row's line number.
        execution_id: the row's execution id.
        trade_id: the id of the live trade opened or closed.
        already: True when the answer shows the row had been recorded before this import
            (see :func:`recorded_before`).
    """

    line: int
    execution_id: str
    trade_id: str
    already: bool


@dataclass
class ImportResult:
    """What an import did: every row sent is either recorded or refused.

    Attributes:
        recorded: the rows the service answered with a trade, in file order.
        refused: the rows not recorded, with their reason.
        unsent: rows never sent because the import stopped before them (:class:`ImportAborted`).
    """

    recorded: list[RecordedRow] = field(default_factory=list)
    refused: list[RefusedRow] = field(default_factory=list)
    unsent: int = 0

    @property
    def rows(self) -> int:
        """Data rows handled (recorded + refused)."""
        return len(self.recorded) + len(self.refused)

    @property
    def already_recorded(self) -> int:
        """Recorded rows that the service had recorded before this import."""
        return sum(r.already for r in self.recorded)

    def summary(self) -> str:
        """One line: ``N rows: R recorded (K new, A already recorded), F refused``, and
        ``, U not sent`` after it when the import stopped early."""
        new = len(self.recorded) - self.already_recorded
        unsent = f", {self.unsent} not sent" if self.unsent else ""
        return (f"{self.rows} rows: {len(self.recorded)} recorded ({new} new, {self.already_recorded} already "
                f"recorded), {len(self.refused)} refused{unsent}")


def _header(names: Iterable[str]) -> list[str]:
    return [(n or "").strip().lower() for n in names]


def read_fills(path: Path) -> tuple[list[Fill], list[RefusedRow]]:
    """Read a broker-executions CSV (columns: :data:`REQUIRED_COLUMNS` and any of
    :data:`OPTIONAL_COLUMNS`; see docs/replay.md, "Importing broker fills").

    Args:
        path: the CSV file (UTF-8, a header row, comma-separated).

    Returns:
        ``(fills, refused)``: the readable rows as :class:`Fill` in file order, and the
        others as :class:`RefusedRow` (client codes), each with its line number. Blank
        lines are skipped. The first row with an execution id is the one imported: a later
        row with the same id is refused as :data:`DUPLICATE_EXECUTION_ID` ("line N repeats
        execution id X of line M", naming the columns that differ, if any), whether or not
        the first row was readable, and is never sent.

    Raises:
        MissingColumns: a required column is missing from the header (nothing is read).
        OSError: the file cannot be read.
    """
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = _header(next(reader, []))
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise MissingColumns(path, missing)
        col = {name: header.index(name) for name in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if name in header}
        fills: list[Fill] = []
        refused: list[RefusedRow] = []
        first: dict[str, tuple[int, dict[str, str]]] = {}  # execution id -> its first line and cells
        for line, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            cells = {name: (row[i].strip() if i < len(row) else "") for name, i in col.items()}
            execution_id = cells.get("execution_id", "")
            if execution_id in first:
                refused.append(duplicate_of(line, cells, *first[execution_id]))
                continue
            if execution_id:
                first[execution_id] = (line, cells)
            try:
                fills.append(fill_of_row(line, cells))
            except RowError as exc:
                refused.append(RefusedRow(line, execution_id, exc.code, str(exc)))
    return fills, refused


def duplicate_of(line: int, cells: dict[str, str], first_line: int,
                 first_cells: dict[str, str]) -> RefusedRow:
    """The refusal of a row that repeats the execution id of an earlier row of the file.

    An execution id is one execution at the broker: the file's first row with it is the
    one imported, and a repeat is never sent (equal, it would answer the first row's
    trade; different, the service would refuse it as ``idempotency_key_reused``).

    Args:
        line: the repeat's line number.
        cells: the repeat's cells (column name -> stripped text).
        first_line: the line of the first row with that execution id.
        first_cells: that row's cells.

    Returns:
        A :class:`RefusedRow` with code :data:`DUPLICATE_EXECUTION_ID` and the message
        ``line N repeats execution id X of line M (same values|other <columns>); only the
        first is imported``.
    """
    differ = [name for name in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
              if cells.get(name, "") != first_cells.get(name, "")]
    how = f"other {', '.join(differ)}" if differ else "same values"
    execution_id = cells["execution_id"]
    return RefusedRow(line, execution_id, DUPLICATE_EXECUTION_ID,
                      f"line {line} repeats execution id {execution_id} of line {first_line} ({how}); "
                      f"only the first is imported")


class RowError(ValueError):
    """A row the client refuses before any call; ``code`` says which kind."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


def _positive(cells: dict[str, str], name: str) -> str:
    try:
        value = to_decimal(cells[name], field=name)
    except ValueError as exc:
        raise RowError(INVALID_NUMBER, str(exc)) from None
    if value <= 0:
        raise RowError(INVALID_NUMBER, f"{name} must be greater than 0, got {cells[name]!r}")
    return to_plain_str(value)


def fill_of_row(line: int, cells: dict[str, str]) -> Fill:
    """Turn one row's cells (column name -> stripped text) into the call it makes.

    Args:
        line: the row's line number (reported only).
        cells: the row's cells by lower-case column name; a missing optional column or
            an empty cell means "not given".

    Returns:
        The :class:`Fill`. An ``open`` row becomes ``POST /trades/execute`` with
        ``source: "live"``, ``symbol``, ``side``, ``quantity`` (units), ``price`` (USD per
        unit), ``filled_at``, ``strategy_id``, ``execution_id`` and, when given,
        ``commission`` (USD), ``signal_id``, ``broker_order_id``, ``broker``. A ``close``
        row becomes ``POST /trades/close-shadow`` with ``source: "live"``,
        ``strategy_id``, ``symbol``, ``price``, ``closed_at`` (the row's ``filled_at``),
        ``quantity``, ``execution_id`` and, when given, ``commission`` and ``signal_id``
        (its ``side`` is checked, not sent: the service knows the position's side).

    Raises:
        RowError: an empty required cell or a bad side or action (``invalid_row``), a
            quantity or price that is not a decimal number greater than 0 or a
            commission that is not one at least 0 (``invalid_number``), a ``filled_at``
            that is not ISO 8601 with a UTC offset (``invalid_time``).
    """
    empty = [name for name in REQUIRED_COLUMNS if not cells.get(name)]
    if empty:
        raise RowError(INVALID_ROW, f"empty required cell(s): {', '.join(empty)}")
    action = cells["action"].lower()
    if action not in (OPEN, CLOSE):
        raise RowError(INVALID_ROW, f"action must be 'open' or 'close', got {cells['action']!r}")
    side = cells["side"].upper()
    if side not in ("BUY", "SELL"):
        raise RowError(INVALID_ROW, f"side must be BUY or SELL, got {cells['side']!r}")
    quantity, price = _positive(cells, "quantity"), _positive(cells, "price")
    try:
        commission = optional_decimal(cells.get("commission"), field="commission")
    except ValueError as exc:
        raise RowError(INVALID_NUMBER, str(exc)) from None
    if commission is not None and commission < 0:
        raise RowError(INVALID_NUMBER, f"commission must be at least 0, got {cells['commission']!r}")
    try:
        moment = datetime.fromisoformat(cells["filled_at"])
    except ValueError:
        raise RowError(INVALID_TIME, f"filled_at is not an ISO 8601 time: {cells['filled_at']!r}") from None
    if moment.tzinfo is None:
        raise RowError(INVALID_TIME, f"filled_at needs a UTC offset (e.g. +00:00): {cells['filled_at']!r}")
    execution_id = cells["execution_id"]
    body = {"source": "live", "strategy_id": cells["strategy_id"], "symbol": cells["symbol"].upper(),
            "quantity": quantity, "price": price, "execution_id": execution_id}
    if commission is not None:
        body["commission"] = to_plain_str(commission)
    if cells.get("signal_id"):
        body["signal_id"] = cells["signal_id"]
    if action == OPEN:
        body.update(side=side, filled_at=moment.isoformat())
        for name in ("broker_order_id", "broker"):
            if cells.get(name):
                body[name] = cells[name]
        return Fill(line, execution_id, action, "/trades/execute", body)
    body["closed_at"] = moment.isoformat()
    return Fill(line, execution_id, action, "/trades/close-shadow", body)


def _parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def recorded_before(fill: Fill, answer: dict[str, Any], started: datetime) -> bool:
    """Whether the service's answer to ``fill`` shows the row had been recorded before
    ``started`` (a re-import): the opened trade's ``received_at`` (the service's clock when
    it recorded the fill) or, for a close, the answered trade's ``last_updated`` (the
    time of its latest write), earlier than ``started``.

    A heuristic on two clocks: with the service's clock behind the client's by more than
    the import's duration, a new row reads as already recorded (and ahead, the reverse).
    An answer without these times counts as new.

    Args:
        fill: the row sent.
        answer: the trade the service answered (JSON object).
        started: when this import started (aware datetime).

    Returns:
        True when the answer's time is earlier than ``started``.
    """
    moment = _parse_time(answer.get("received_at" if fill.action == OPEN else "last_updated"))
    return moment is not None and moment < started


def _error_of(response: httpx.Response) -> tuple[str, str]:
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    code = error.get("code") or f"http_{response.status_code}"
    message = error.get("message") or response.text[:200]
    details = error.get("details")
    if details:
        message += " (" + "; ".join(f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg', '')}"
                                    for d in details if isinstance(d, dict)) + ")"
    return code, message


def retry_after_seconds(response: httpx.Response, now: datetime | None = None) -> float | None:
    """The delay a response's ``Retry-After`` header asks for (RFC 9110, 10.2.3).

    Args:
        response: the service's (or a gateway's) answer.
        now: the current time (aware) for an HTTP-date value; the system clock when None.

    Returns:
        Seconds to wait (at least 0): the header's delay-seconds, or the time until its
        HTTP-date; None without the header or with a value that is neither.
    """
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # "-0000": UTC by RFC 5322
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (moment - (now or datetime.now(timezone.utc))).total_seconds())


def is_transient(response: httpx.Response) -> bool:
    """Whether an answer is worth sending the same request again (:func:`transient_answer`
    of its status and error code)."""
    return transient_answer(response.status_code, _error_of(response)[0] if response.status_code == 409 else "")


def transient_answer(status: int, code: str) -> bool:
    """Whether an answer of HTTP ``status`` and error ``code`` passes: a status of
    :data:`TRANSIENT_STATUSES` (429, 502, 503, 504) or an error code of
    :data:`TRANSIENT_CODES` (409 ``trade_busy``). Every other 4xx is the row's own fault
    and final (a 409 ``no_open_live_position`` too); a 500 is not retried either."""
    return status in TRANSIENT_STATUSES or (status == 409 and code in TRANSIENT_CODES)


class wait_retry_after:  # noqa: N801 (named like tenacity's wait strategies)
    """A tenacity wait strategy: the answer's ``Retry-After`` when it has one (at most
    ``cap`` seconds), else ``fallback`` (backoff); connection errors and timeouts take
    ``fallback``."""

    def __init__(self, fallback: Callable[[RetryCallState], float], cap: float) -> None:
        self.fallback, self.cap = fallback, cap

    def __call__(self, state: RetryCallState) -> float:
        """Seconds to wait before the next attempt (``state``: tenacity's state of the call)."""
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            after = retry_after_seconds(outcome.result())
            if after is not None:
                return min(after, self.cap)
        return self.fallback(state)


@dataclass(frozen=True)
class RetryPolicy:
    """How a row's transient failures are retried (see :func:`is_transient` and
    :data:`TRANSIENT_ERRORS`).

    Retrying is safe because every call carries the broker's ``execution_id``, which makes
    it idempotent on the service: a retried open whose first attempt was recorded (say,
    a timeout after the commit) answers the first trade, and a retried close answers the
    trade it closed; nothing is recorded or closed twice.

    Attributes:
        attempts: attempts per row, the first included (at least 1).
        backoff_initial: seconds before the second attempt when the answer gives no
            ``Retry-After``, doubled at each further attempt up to ``backoff_max`` seconds,
            plus a random jitter of up to ``backoff_jitter`` seconds.
        backoff_max: the longest backoff, seconds.
        backoff_jitter: the largest random addition to a backoff, seconds.
        retry_after_cap: the longest ``Retry-After`` honoured, seconds (a longer one waits
            this long).
        sleep: how to wait (``asyncio.sleep``; tests pass one that records).
    """

    attempts: int = 5
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    backoff_jitter: float = 0.5
    retry_after_cap: float = 60.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def retrying(self) -> AsyncRetrying:
        """A fresh tenacity controller for one row: it retries :data:`TRANSIENT_ERRORS` and
        :func:`is_transient` answers, and after the last attempt returns the last answer
        (or raises the last error) instead of wrapping it in ``tenacity.RetryError``."""
        backoff = wait_exponential(multiplier=self.backoff_initial, max=self.backoff_max) + wait_random(
            0, self.backoff_jitter)
        return AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_retry_after(backoff, self.retry_after_cap),
            retry=retry_if_exception_type(TRANSIENT_ERRORS) | retry_if_result(is_transient),
            retry_error_callback=lambda state: state.outcome.result(),
            sleep=self.sleep,
        )


async def import_fills(
    client: httpx.AsyncClient,
    fills: list[Fill],
    *,
    user_headers: dict[str, str],
    started: datetime,
    on_row: Callable[[Fill], None] | None = None,
    retry: RetryPolicy = RetryPolicy(),
) -> ImportResult:
    """Send each fill to the service in order and sort the answers.

    Args:
        client: an HTTP client whose ``base_url`` is the service.
        fills: the rows to send (from :func:`read_fills`), in file order.
        user_headers: the trading user's ``Authorization`` header.
        started: when the import started (aware), for :func:`recorded_before`.
        on_row: called after each row (progress).
        retry: how transient failures are retried (:class:`RetryPolicy`); retrying is safe,
            the execution id making each call idempotent.

    Returns:
        The :class:`ImportResult`: rows answered 200/201 as recorded, rows answered with
        another 4xx as refused with the service's error code and message. A 4xx other
        than 429 and 409 ``trade_busy`` is never retried.

    Raises:
        ImportAborted: a 401 or 403 (the token) or another 5xx than 502-504 (not retried),
            or a transient failure still there after the last attempt (that row is then in
            ``exc.result.refused``, code the service's or :data:`UNREACHABLE`), or a request
            that cannot be made. The rows before it are recorded, ``exc.result.unsent``
            counts the rows after it, and re-running the import is safe.
    """
    result = ImportResult()
    for index, fill in enumerate(fills):
        where = f"line {fill.line} ({fill.execution_id})"
        attempts = 0

        async def send(fill: Fill = fill) -> httpx.Response:
            nonlocal attempts
            attempts += 1
            return await client.post(fill.path, json=fill.body, headers=user_headers)

        def abort(message: str, refused: RefusedRow | None = None) -> ImportAborted:
            if refused:
                result.refused.append(refused)
            result.unsent = len(fills) - index - 1
            return ImportAborted(f"{where}: {message}", result)

        try:
            response = await retry.retrying()(send)
        except TRANSIENT_ERRORS as exc:
            message = f"no answer after {attempts} attempt(s): {exc!r}"
            raise abort(message, RefusedRow(fill.line, fill.execution_id, UNREACHABLE, message)) from exc
        except httpx.HTTPError as exc:
            raise abort(repr(exc)) from exc
        code, message = _error_of(response) if response.status_code >= 400 else ("", "")
        if transient_answer(response.status_code, code):
            message = f"{message} (still {response.status_code} after {attempts} attempt(s))"
            raise abort(f"{response.status_code} {code}: {message}",
                        RefusedRow(fill.line, fill.execution_id, code, message, response.status_code))
        if response.status_code in (401, 403) or response.status_code >= 500:
            raise abort(f"{response.status_code} {code}: {message}")
        if response.status_code >= 400:
            result.refused.append(RefusedRow(fill.line, fill.execution_id, code, message, response.status_code))
        else:
            answer = response.json()
            result.recorded.append(RecordedRow(fill.line, fill.execution_id, str(answer.get("id", "")),
                                               recorded_before(fill, answer, started)))
        if on_row:
            on_row(fill)
    return result
