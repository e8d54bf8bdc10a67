"""Replay a strategy over OHLCV bars through the running service, as a client strategy would.

For every bar the replay asks the strategy for its target position and turns a change of
target into ``POST /trades/close-shadow`` and ``POST /trades/execute`` calls. These are
backtest trades: every fill and close carries its own price and time (the bar's), so
daily P&L and the equity curve span the replayed period. The replay never publishes a
quote: ``live_quotes``, which paper trades fill at, is left alone. At the end it reads
``GET /trades/shadow/metrics`` and ``GET /trades/shadow/dashboard`` for the run.

Times: an order on a bar fills at that bar's close, at 16:00 in the bar time zone
(America/New_York by default). A stop hit during a bar exits at 12:00 that day, at the
stop price, or at the open if the bar gapped through the stop.

Writing a strategy (``--strategy my_module:MyStrategy``): a class whose constructor takes
no required argument and that has one method,

    def target(self, bars: Sequence[Bar]) -> int:
        '''-1 (short), 0 (flat) or 1 (long) after the close of bars[-1].'''

and, optionally, ``stop_loss(self, bars, side) -> Decimal | None``: the protective stop
price (USD per unit) for a position opened at ``bars[-1].close`` on ``side`` ("BUY" or
"SELL"). With a stop, the trade has a risk, so it gets an R-multiple, and the replay exits
when the stop is hit. ``name`` (str) is the strategy id; the class name is used if it is
missing.
"""

from __future__ import annotations

import csv
import importlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import httpx

from backend.strategy_service.core.money import MONEY_CONTEXT, localcontext, quantize

#: Stop prices are sent to 0.000001 USD (half up).
STOP_QUANTUM = Decimal("0.000001")
BAR_CLOSE = time(16, 0)
STOP_TIME = time(12, 0)


@dataclass(frozen=True)
class Bar:
    """One OHLCV bar: prices in USD per unit, the bar's date."""

    day: date
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


def read_ohlcv(path: Path) -> list[Bar]:
    """Read a ``Date,Open,High,Low,Close,Volume`` CSV (header names in any case; the date
    column may also be unnamed, as in pandas exports; a time part is ignored), in date
    order. Prices are parsed as exact decimals from their text.

    Raises:
        ValueError: a missing column, an unreadable or non-positive price, a low above a
            high, or a repeated date (with the line number).
    """
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = [h.strip().lower() for h in next(reader)]
        if header and header[0] in ("", "datetime", "timestamp"):
            header[0] = "date"
        missing = {"date", "open", "high", "low", "close"} - set(header)
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        col = {name: header.index(name) for name in header}
        bars: dict[date, Bar] = {}
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            try:
                day = date.fromisoformat(row[col["date"]].strip()[:10])
                o, h, lo, c = (Decimal(row[col[k]].strip()) for k in ("open", "high", "low", "close"))
                v = Decimal(row[col["volume"]].strip() or "0") if "volume" in col else Decimal(0)
            except (ArithmeticError, ValueError, IndexError) as exc:
                raise ValueError(f"{path}:{line}: unreadable row {row!r}") from exc
            if min(o, h, lo, c) <= 0 or lo > h or not (lo <= o <= h and lo <= c <= h):
                raise ValueError(f"{path}:{line}: inconsistent prices {row!r}")
            if day in bars:
                raise ValueError(f"{path}:{line}: repeated date {day}")
            bars[day] = Bar(day, o, h, lo, c, v)
    return [bars[d] for d in sorted(bars)]


class Strategy(Protocol):
    """What ``replay`` calls (see the module docstring)."""

    def target(self, bars: Sequence[Bar]) -> int:
        """-1, 0 or 1: the position wanted after the close of ``bars[-1]``."""
        ...


def simple_moving_average(bars: Sequence[Bar], window: int) -> Decimal:
    """Mean close of the last ``window`` bars (exact to 60 digits)."""
    with localcontext(MONEY_CONTEXT):
        return sum((b.close for b in bars[-window:]), Decimal(0)) / window


@dataclass
class MovingAverageCrossover:
    """Long when the fast simple moving average of closes is above the slow one; short
    (``long_short``) or flat when below; unchanged when equal. Flat before ``slow`` bars.

    Args:
        fast, slow: the windows, in bars (1 <= fast < slow).
        long_short: take short positions too.
        stop_loss_percent: protective stop at this percent below a long's entry (above a
            short's), or None for no stop.
    """

    fast: int = 10
    slow: int = 30
    long_short: bool = False
    stop_loss_percent: Decimal | None = None
    _last: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.fast < self.slow:
            raise ValueError("moving averages need 1 <= fast < slow")
        if self.stop_loss_percent is not None and not 0 < self.stop_loss_percent < 100:
            raise ValueError("stop_loss_percent must be between 0 and 100")

    @property
    def name(self) -> str:
        """The strategy id: ``ma-cross-FAST-SLOW`` (``-ls`` for long-short)."""
        return f"ma-cross-{self.fast}-{self.slow}" + ("-ls" if self.long_short else "")

    def target(self, bars: Sequence[Bar]) -> int:
        """See :class:`Strategy`."""
        if len(bars) < self.slow:
            return 0
        fast, slow = simple_moving_average(bars, self.fast), simple_moving_average(bars, self.slow)
        if fast > slow:
            self._last = 1
        elif fast < slow:
            self._last = -1 if self.long_short else 0
        return self._last

    def stop_loss(self, bars: Sequence[Bar], side: str) -> Decimal | None:
        """``entry x (1 -/+ percent / 100)``, to 0.000001, for a BUY / a SELL."""
        if self.stop_loss_percent is None:
            return None
        sign = -1 if side == "BUY" else 1
        with localcontext(MONEY_CONTEXT):
            return quantize(bars[-1].close * (1 + sign * self.stop_loss_percent / 100), STOP_QUANTUM)


def load_strategy(spec: str, **options: Any) -> Any:
    """``ma-cross`` (with ``options``) or ``package.module:ClassName`` (no arguments).

    Raises:
        ValueError: an unknown name, a missing module or class, or no ``target`` method.
    """
    if spec == "ma-cross":
        return MovingAverageCrossover(**options)
    module_name, _, class_name = spec.partition(":")
    if not class_name:
        raise ValueError(f"strategy {spec!r}: use 'ma-cross' or 'module:Class'")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"strategy {spec!r}: {exc}") from exc
    strategy = cls()
    if not callable(getattr(strategy, "target", None)):
        raise ValueError(f"strategy {spec!r} has no target(bars) method")
    return strategy


@dataclass
class TradeRecord:
    """One replayed round trip as the service returned it (prices and P&L as strings)."""

    symbol: str
    side: str
    shadow_id: str
    entry_day: date
    entry_price: str
    quantity: str
    exit_day: date | None = None
    exit_price: str | None = None
    exit_reason: str | None = None
    realized_pnl: str | None = None
    stop_loss: str | None = None


@dataclass
class ReplayResult:
    """What a replay did and what the service answered."""

    uid: str
    strategy_id: str
    bars: int
    trades: list[TradeRecord]
    metrics: dict[str, Any]
    dashboard: dict[str, Any]
    #: The replayed range: the first and the last bar date over every symbol.
    first_day: date | None = None
    last_day: date | None = None


class ServiceCallFailed(RuntimeError):
    """The service refused a call of the replay (status and error body in the message)."""


async def _call(client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str], **kwargs: Any) -> Any:
    response = await client.request(method, url, headers=headers, **kwargs)
    if response.status_code >= 400:
        raise ServiceCallFailed(f"{method} {url} -> {response.status_code}: {response.text}")
    return json.loads(response.text, parse_float=Decimal)  # 6092.80 stays 6092.80


def _at(day: date, moment: time, tz: ZoneInfo) -> str:
    return datetime.combine(day, moment, tzinfo=tz).isoformat()


async def replay(
    client: httpx.AsyncClient,
    *,
    series: dict[str, list[Bar]],
    make_strategy: Callable[[], Any],
    user_headers: dict[str, str],
    uid: str,
    notional: Decimal | None = Decimal("10000"),
    quantity: Decimal | None = None,
    bar_timezone: ZoneInfo = ZoneInfo("America/New_York"),
    run_id: str | None = None,
    on_bar: Callable[[str, Bar], None] | None = None,
) -> ReplayResult:
    """Replay ``strategy`` over each symbol's bars through the service at ``client``.

    Args:
        series: symbol -> bars in date order.
        make_strategy: builds a :class:`Strategy`; called once per symbol, so each
            symbol starts from a fresh strategy state.
        user_headers: the ``Authorization`` header of the trading user.
        uid: the trading user's id (reported only).
        notional: USD per entry (the service sizes ``notional / price`` to 0.000001), or
        quantity: units per entry (wins over notional).
        bar_timezone: the time zone of the bars' session.
        run_id: makes the idempotency keys of this run (a retried run re-sends the same
            keys and gets the same trades back).
        on_bar: called after each bar (progress).

    Returns:
        The :class:`ReplayResult`, with the metrics and dashboard of this strategy's
        backtest trades.

    Raises:
        ServiceCallFailed: the service refused a call.
    """
    run = run_id or uuid.uuid4().hex[:12]
    first = make_strategy()
    strategy_id = getattr(first, "name", type(first).__name__)
    trades: list[TradeRecord] = []
    total_bars = 0
    for n, (symbol, bars) in enumerate(series.items()):
        strategy = first if n == 0 else make_strategy()
        position: TradeRecord | None = None
        stop: Decimal | None = None
        stopped_side = 0

        async def close(bar: Bar, price: Decimal, moment: time, reason: str) -> None:
            nonlocal position, stop
            assert position is not None
            body = {"shadow_id": position.shadow_id, "price": str(price), "closed_at": _at(bar.day, moment, bar_timezone),
                    "exit_reason": reason}
            closed = await _call(client, "POST", "/trades/close-shadow", user_headers, json=body)
            position.exit_day, position.exit_price = bar.day, closed["exit_price"]
            position.exit_reason, position.realized_pnl = reason, closed["realized_pnl"]
            position, stop = None, None

        for i, bar in enumerate(bars):
            if position is not None and stop is not None:
                long = position.side == "BUY"
                if (long and bar.low <= stop) or (not long and bar.high >= stop):
                    exit_price = min(bar.open, stop) if long else max(bar.open, stop)
                    stopped_side = 1 if long else -1
                    await close(bar, exit_price, STOP_TIME, "stop loss")
            window = bars[: i + 1]
            want = int(strategy.target(window)) if i < len(bars) - 1 else 0
            if want not in (-1, 0, 1):
                raise ValueError(f"strategy returned {want!r}; expected -1, 0 or 1")
            if want != stopped_side:
                stopped_side = 0  # the signal changed since the stop: entries allowed again
            have = 0 if position is None else (1 if position.side == "BUY" else -1)
            if want != have:
                if position is not None:
                    await close(bar, bar.close, BAR_CLOSE, "end of data" if i == len(bars) - 1 else "signal")
                if want != 0 and stopped_side == 0:
                    side = "BUY" if want > 0 else "SELL"
                    body: dict[str, Any] = {
                        "symbol": symbol, "side": side, "strategy_id": strategy_id, "source": "backtest",
                        "price": str(bar.close), "filled_at": _at(bar.day, BAR_CLOSE, bar_timezone),
                        "idempotency_key": f"replay-{run}-{symbol}-{i}",
                    }
                    if quantity is not None:
                        body["quantity"] = str(quantity)
                    else:
                        body["notional"] = str(notional)
                    stop_price = strategy.stop_loss(window, side) if hasattr(strategy, "stop_loss") else None
                    if stop_price is not None:
                        body["stop_loss"] = str(stop_price)
                    opened = await _call(client, "POST", "/trades/execute", user_headers, json=body)
                    position = TradeRecord(symbol, side, opened["id"], bar.day, opened["entry_price"],
                                           opened["quantity"], stop_loss=opened.get("stop_loss"))
                    stop = Decimal(opened["stop_loss"]) if opened.get("stop_loss") else None
                    trades.append(position)
            total_bars += 1
            if on_bar:
                on_bar(symbol, bar)
    params = {"source": "backtest", "strategy_id": strategy_id}
    metrics = await _call(client, "GET", "/trades/shadow/metrics", user_headers, params=params)
    dashboard = await _call(client, "GET", "/trades/shadow/dashboard", user_headers, params=params)
    days = [b.day for bars in series.values() for b in bars]
    return ReplayResult(uid, strategy_id, total_bars, trades, metrics, dashboard,
                        first_day=min(days, default=None), last_day=max(days, default=None))
