"""Replay a strategy over OHLCV bars through the running service, as a client strategy would.

For every bar the replay asks the strategy for its target position and turns a change of
target into ``POST /trades/close-shadow`` and ``POST /trades/execute`` calls. These are
backtest trades: every fill and close carries its own price and time (the bar's), so
daily P&L and the equity curve span the replayed period. The replay never publishes a
quote: ``live_quotes``, which paper trades fill at, is left alone. At the end it reads
``GET /trades/shadow/metrics`` and ``GET /trades/shadow/dashboard`` for the run.

Times: an order on a bar fills at that bar's close, at 16:00 in the bar time zone
(America/New_York by default). A stop or a target hit during a bar exits at 12:00 that
day, at the stop (target) price, or at the open if the bar gapped through it; when both
could fire within one bar the stop wins (:func:`bar_exit`).

Costs: with a :class:`Costs` model the replay first sets it with
``PUT /strategies/{strategy_id}/costs``; the service then charges that commission and
slippage on every backtest fill (the replay sends the bar's price as the base price).

Live fills (``--live-perturb-bps N``, demos and tests of the shortfall view): with a
:class:`LivePerturbation`, every execute and close the replay sends (each carries a
``signal_id``) is followed by a ``source: "live"`` fill of the same ``signal_id`` and
``strategy_id`` at the backtest price moved by a seeded draw within +/- N basis points
(:func:`perturbed_price`), with a deterministic ``execution_id``, so a re-run with the
same run id records nothing twice.

Writing a strategy (``--strategy my_module:MyStrategy``): a class whose constructor takes
no required argument and that has one method,

    def target(self, bars: Sequence[Bar]) -> int:
        '''-1 (short), 0 (flat) or 1 (long) after the close of bars[-1].'''

and, optionally, ``stop_loss(self, bars, side) -> Decimal | None``: the protective stop
price (USD per unit) for a position opened at ``bars[-1].close`` on ``side`` ("BUY" or
"SELL"). With a stop, the trade has a risk, so it gets an R-multiple, and the replay exits
when the stop is hit. Likewise ``take_profit(self, bars, side) -> Decimal | None``: the
target price; the replay exits when a bar reaches it. After a stop or a target exit, no
new position in the same direction is opened until the strategy's target changes.
``name`` (str) is the strategy id; the class name is used if it is missing.
"""

from __future__ import annotations

import csv
import importlib
import json
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import httpx

from backend.strategy_service.core.money import MONEY_CONTEXT, localcontext, quantize, quantize_usd, to_plain_str

#: Stop and target prices are sent to 0.000001 USD (half up).
STOP_QUANTUM = Decimal("0.000001")
BAR_CLOSE = time(16, 0)
#: The time of a stop or target exit inside a bar.
STOP_TIME = time(12, 0)
#: ``exit_reason`` of the replay's closes.
STOP_LOSS, TAKE_PROFIT, SIGNAL, END_OF_DATA = "stop_loss", "take_profit", "signal", "end of data"


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


def bar_exit(side: str, bar: Bar, stop: Decimal | None, target: Decimal | None) -> tuple[Decimal, str] | None:
    """Whether ``bar`` exits an open position through its stop or its target, and at what price.

    The rule (prices in USD per unit, compared exactly):

    - a long (``side == "BUY"``): when ``bar.low <= stop`` it exits at the stop, or at
      ``bar.open`` when the bar opened at or below the stop (a gap through it):
      ``min(open, stop)``. When ``bar.high >= target`` it exits at the target, or at
      ``bar.open`` when it opened at or above the target: ``max(open, target)``.
    - a short (``side == "SELL"``), the mirror image: the stop fires when
      ``bar.high >= stop``, at ``max(open, stop)``; the target when ``bar.low <= target``,
      at ``min(open, target)``.
    - when both could fire within the bar, the stop wins: daily bars do not say which
      price came first, and assuming the loss is the conservative reading (backtesting.py
      makes the same choice: its stop-loss order is processed before its take-profit).

    Args:
        side: ``"BUY"`` (a long position) or ``"SELL"`` (a short one).
        bar: the bar after the entry bar (or any later bar).
        stop: the stop price, or None for no stop.
        target: the target (take-profit) price, or None for no target.

    Returns:
        ``(exit price, exit reason)`` with the reason ``"stop_loss"`` or ``"take_profit"``,
        or None when neither is reached within the bar. The price is one of ``stop``,
        ``target`` or ``bar.open``, never rounded.

    Raises:
        ValueError: ``side`` is neither ``"BUY"`` nor ``"SELL"``.
    """
    if side not in ("BUY", "SELL"):
        raise ValueError(f"side must be BUY or SELL, got {side!r}")
    long = side == "BUY"
    if stop is not None and (bar.low <= stop if long else bar.high >= stop):
        return (min(bar.open, stop) if long else max(bar.open, stop)), STOP_LOSS
    if target is not None and (bar.high >= target if long else bar.low <= target):
        return (max(bar.open, target) if long else min(bar.open, target)), TAKE_PROFIT
    return None


@dataclass(frozen=True)
class Costs:
    """The cost model a replay sets for its strategy (``PUT /strategies/{id}/costs``)
    before any fill. Every field is a Decimal, 0 (the service's default) when not given.

    Attributes:
        commission_per_order: USD per fill.
        commission_per_unit: USD per unit filled.
        commission_percent: percent of the fill's notional (``0.1`` is 0.1 %).
        commission_min: least commission of one fill, USD (0: none).
        commission_max: largest commission of one fill, USD (0: none).
        slippage_bps: basis points of the bar's price, against the trader, on every fill.
    """

    commission_per_order: Decimal = Decimal(0)
    commission_per_unit: Decimal = Decimal(0)
    commission_percent: Decimal = Decimal(0)
    commission_min: Decimal = Decimal(0)
    commission_max: Decimal = Decimal(0)
    slippage_bps: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        for name in COST_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise ValueError(f"{name} must be a decimal number of at least 0, got {value!r}")

    @classmethod
    def from_options(cls, **options: Decimal | None) -> Costs | None:
        """The model of the given options (field name -> Decimal or None), or None when
        every option is None (the replay then leaves the strategy's costs as they are).

        Raises:
            ValueError: an unknown field, or a negative or non-finite value.
        """
        unknown = set(options) - set(COST_FIELDS)
        if unknown:
            raise ValueError(f"unknown cost field(s): {', '.join(sorted(unknown))}")
        given = {k: v for k, v in options.items() if v is not None}
        return cls(**given) if given else None

    def to_body(self) -> dict[str, str]:
        """The ``PUT /strategies/{id}/costs`` body: every field as a plain decimal string."""
        return {name: to_plain_str(getattr(self, name)) for name in COST_FIELDS}


#: The fields of a cost model, in the API's order.
COST_FIELDS = ("commission_per_order", "commission_per_unit", "commission_percent", "commission_min",
               "commission_max", "slippage_bps")


#: The finest price tick of a live fill: 0.0001 USD, or the base price's own tick when finer.
LIVE_TICK = Decimal("0.0001")
#: The largest ``--live-perturb-bps``.
LIVE_MAX_BPS = Decimal(1000)


def price_tick(base: Decimal, tick: Decimal = LIVE_TICK) -> Decimal:
    """The tick a live price is quantized to: ``tick``, or the tick of ``base``'s own
    digits when finer (1.17505 -> 0.00001), so that ``base`` is always on the grid.

    Args:
        base: a price, USD per unit.
        tick: the default tick, USD per unit.

    Returns:
        The finer of ``tick`` and ``10 ** exponent of base``.
    """
    own = Decimal(1).scaleb(min(base.as_tuple().exponent, 0))
    return min(tick, own)


def check_live_bps(bps: Decimal) -> None:
    """Refuse a live perturbation outside ``0 .. LIVE_MAX_BPS`` basis points.

    Raises:
        ValueError: out of range.
    """
    if not 0 <= bps <= LIVE_MAX_BPS:
        raise ValueError(f"live perturbation must be between 0 and {LIVE_MAX_BPS} bps, got {bps}")


def perturbed_price(base: Decimal, bps: Decimal, rng: random.Random, tick: Decimal = LIVE_TICK) -> Decimal:
    """``base`` moved by a uniform draw within +/- ``bps`` basis points, on the price tick.

    The offset is ``bps x k / 1,000,000`` basis points with ``k`` a uniform integer in
    [-1,000,000, 1,000,000] drawn from ``rng`` (exact Decimal, no float), and the price
    ``base x (1 + offset / 10,000)`` is rounded to :func:`price_tick` towards ``base``, so
    that it never leaves the +/- ``bps`` band: ``|price - base| <= base x bps / 10,000``.

    Args:
        base: the backtest fill price, USD per unit (> 0).
        bps: the half-width of the band, basis points (0 <= bps <= 1,000).
        rng: the source of the draw (one ``randint`` call).
        tick: the default price tick, USD per unit.

    Returns:
        The live price, USD per unit, > 0.

    Raises:
        ValueError: ``base`` not > 0 or ``bps`` out of range.
    """
    if base <= 0:
        raise ValueError(f"base price must be greater than 0, got {base}")
    check_live_bps(bps)
    steps = 1_000_000
    k = rng.randint(-steps, steps)
    grid = price_tick(base, tick)
    with localcontext(MONEY_CONTEXT):
        raw = base * (1 + bps * k / steps / 10_000)
        return raw.quantize(grid, rounding=ROUND_FLOOR if raw >= base else ROUND_CEILING)


@dataclass(frozen=True)
class LivePerturbation:
    """How the replay makes a live fill of each of its signals.

    Attributes:
        bps: half-width of the price band around the backtest price, basis points
            (0 to 1,000).
        seed: the seed; each signal draws from ``random.Random(f"{seed}:{signal_id}")``, so
            a price depends only on the seed and the signal, never on the order of calls.
        commission_bps: the live fill's commission, basis points of its notional
            (quantity x live price), raised to ``commission_min``, to the cent half up.
        commission_min: the least commission of a live fill, USD.
        max_latency_seconds: the live fill comes 1 to this many whole seconds (drawn) after
            the backtest fill.
        tick: the default price tick, USD per unit (:func:`price_tick`).

    Raises:
        ValueError: ``bps`` out of range, or a negative commission.
    """

    bps: Decimal
    seed: str = "0"
    commission_bps: Decimal = Decimal("1")
    commission_min: Decimal = Decimal("1.00")
    max_latency_seconds: int = 5
    tick: Decimal = LIVE_TICK

    def __post_init__(self) -> None:
        check_live_bps(self.bps)
        if self.commission_bps < 0 or self.commission_min < 0:
            raise ValueError("live commission must be at least 0")

    def fill(self, signal_id: str, base: Decimal, quantity: Decimal, at: datetime) -> tuple[Decimal, Decimal, datetime]:
        """The live fill of one signal.

        Args:
            signal_id: the signal (the seed of its draws, with :attr:`seed`).
            base: the backtest fill price, USD per unit.
            quantity: units filled.
            at: the backtest fill time (aware).

        Returns:
            ``(price USD per unit, commission USD, fill time)``: the :func:`perturbed_price`,
            ``max(commission_min, notional x commission_bps / 10,000)`` to the cent, and
            ``at`` plus 1 to ``max_latency_seconds`` seconds.
        """
        rng = random.Random(f"{self.seed}:{signal_id}")
        price = perturbed_price(base, self.bps, rng, self.tick)
        with localcontext(MONEY_CONTEXT):
            commission = quantize_usd(max(self.commission_min, quantity * price * self.commission_bps / 10_000))
        delay = rng.randint(1, max(1, self.max_latency_seconds))
        return price, commission, at + timedelta(seconds=delay)


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
        take_profit_percent: target at this percent above a long's entry (below a
            short's), or None for no target.

    Raises:
        ValueError: windows out of order, or a percent not strictly between 0 and 100.
    """

    fast: int = 10
    slow: int = 30
    long_short: bool = False
    stop_loss_percent: Decimal | None = None
    take_profit_percent: Decimal | None = None
    _last: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.fast < self.slow:
            raise ValueError("moving averages need 1 <= fast < slow")
        if self.stop_loss_percent is not None and not 0 < self.stop_loss_percent < 100:
            raise ValueError("stop_loss_percent must be between 0 and 100")
        if self.take_profit_percent is not None and not 0 < self.take_profit_percent < 100:
            raise ValueError("take_profit_percent must be between 0 and 100")

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
        """The stop of a position opened at ``bars[-1].close``: ``entry x (1 -/+ percent /
        100)`` for a BUY / a SELL, USD per unit to 0.000001 (half up); None without
        ``stop_loss_percent``."""
        if self.stop_loss_percent is None:
            return None
        sign = -1 if side == "BUY" else 1
        with localcontext(MONEY_CONTEXT):
            return quantize(bars[-1].close * (1 + sign * self.stop_loss_percent / 100), STOP_QUANTUM)

    def take_profit(self, bars: Sequence[Bar], side: str) -> Decimal | None:
        """The target of a position opened at ``bars[-1].close``: ``entry x (1 +/- percent
        / 100)`` for a BUY / a SELL, USD per unit to 0.000001 (half up); None without
        ``take_profit_percent``."""
        if self.take_profit_percent is None:
            return None
        sign = 1 if side == "BUY" else -1
        with localcontext(MONEY_CONTEXT):
            return quantize(bars[-1].close * (1 + sign * self.take_profit_percent / 100), STOP_QUANTUM)


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
    """One replayed round trip as the service returned it (prices per unit and USD
    amounts as the service's decimal strings; None when the service did not send one).

    ``realized_pnl`` is the net P&L (``gross_pnl - commission``); ``slippage`` is already
    inside the entry and exit prices, shown and not subtracted again.
    """

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
    take_profit: str | None = None
    gross_pnl: str | None = None
    commission: str | None = None
    slippage: str | None = None
    entry_commission: str | None = None
    exit_commission: str | None = None
    #: The live twin (``--live-perturb-bps``): its trade id, prices and net P&L, as answered.
    live_id: str | None = None
    live_entry_price: str | None = None
    live_exit_price: str | None = None
    live_realized_pnl: str | None = None


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
    #: The cost model the service answered to the replay's ``PUT .../costs`` (None when
    #: the replay set none).
    costs: dict[str, Any] | None = None


class ServiceCallFailed(RuntimeError):
    """The service refused a call of the replay (status and error body in the message)."""


async def _call(client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str], **kwargs: Any) -> Any:
    response = await client.request(method, url, headers=headers, **kwargs)
    if response.status_code >= 400:
        raise ServiceCallFailed(f"{method} {url} -> {response.status_code}: {response.text}")
    return json.loads(response.text, parse_float=Decimal)  # 6092.80 stays 6092.80


def _at(day: date, moment: time, tz: ZoneInfo) -> str:
    return datetime.combine(day, moment, tzinfo=tz).isoformat()


def _text(value: Any) -> str | None:
    """A figure of the service's JSON (a Decimal, int or string) as its decimal text."""
    if value is None or isinstance(value, str):
        return value
    return to_plain_str(value) if isinstance(value, Decimal) else str(value)


#: Fields of a closed trade the replay keeps on its :class:`TradeRecord`.
_CLOSED_FIELDS = ("gross_pnl", "commission", "slippage", "entry_commission", "exit_commission")


def signal_of(run: str, symbol: str, bar_index: int, kind: str) -> str:
    """The ``signal_id`` of the replay's decision on a bar: ``replay-{run}-{symbol}-{bar_index}-{kind}``,
    ``kind`` ``"open"`` (an execute) or ``"close"`` (a close, by signal, stop, target or the
    end of data). Deterministic: a re-run with the same run id sends the same ids."""
    return f"replay-{run}-{symbol}-{bar_index}-{kind}"


async def set_costs(client: httpx.AsyncClient, strategy_id: str, costs: Costs, user_headers: dict[str, str]) -> Any:
    """``PUT /strategies/{strategy_id}/costs`` with ``costs``.

    Args:
        strategy_id: the strategy whose fills the model prices.
        costs: the model; every field is sent (0 for a field not given).
        user_headers: the trading user's ``Authorization`` header.

    Returns:
        The service's answer (the model as stored), decimals as ``Decimal``.

    Raises:
        ServiceCallFailed: the service refused the model (a 4xx, e.g. a negative value).
    """
    return await _call(client, "PUT", f"/strategies/{strategy_id}/costs", user_headers, json=costs.to_body())


async def replay(
    client: httpx.AsyncClient,
    *,
    series: dict[str, list[Bar]],
    make_strategy: Callable[[], Any],
    user_headers: dict[str, str],
    uid: str,
    notional: Decimal | None = Decimal("10000"),
    quantity: Decimal | None = None,
    costs: Costs | None = None,
    bar_timezone: ZoneInfo = ZoneInfo("America/New_York"),
    run_id: str | None = None,
    on_bar: Callable[[str, Bar], None] | None = None,
    live: LivePerturbation | None = None,
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
        costs: the commission and slippage model, set for the strategy with
            ``PUT /strategies/{strategy_id}/costs`` before the first fill; None leaves
            the strategy's model on the service as it is (zero unless set before).
        bar_timezone: the time zone of the bars' session.
        run_id: makes the idempotency keys, signal ids and live execution ids of this run
            (a retried run re-sends the same keys and gets the same trades back).
        on_bar: called after each bar (progress).
        live: with a :class:`LivePerturbation`, every execute and close is followed by a
            live fill of the same ``signal_id`` (an execute, or a close of the strategy's
            live position in the symbol) at :meth:`LivePerturbation.fill`'s price, time and
            commission, ``execution_id`` ``live-{run}-{symbol}-{bar}-open|close``. Backtest
            closes then carry their ``signal_id`` too. None: no live fill.

    Returns:
        The :class:`ReplayResult`, with the metrics and dashboard of this strategy's
        backtest trades.

    Raises:
        ServiceCallFailed: the service refused a call.
        ValueError: the strategy returned a target other than -1, 0 or 1.
    """
    run = run_id or uuid.uuid4().hex[:12]
    first = make_strategy()
    strategy_id = getattr(first, "name", type(first).__name__)
    costs_answer = await set_costs(client, strategy_id, costs, user_headers) if costs is not None else None
    trades: list[TradeRecord] = []
    total_bars = 0
    for n, (symbol, bars) in enumerate(series.items()):
        strategy = first if n == 0 else make_strategy()
        position: TradeRecord | None = None
        stop: Decimal | None = None
        target: Decimal | None = None
        exited_side = 0  # the side of the last stop or target exit, until the target changes

        async def close(bar: Bar, i: int, price: Decimal, moment: time, reason: str) -> None:
            nonlocal position, stop, target
            assert position is not None
            body = {"shadow_id": position.shadow_id, "price": str(price), "closed_at": _at(bar.day, moment, bar_timezone),
                    "exit_reason": reason}
            signal_id = signal_of(run, symbol, i, "close")
            if live is not None:  # a service with live fills takes a close's signal_id
                body["signal_id"] = signal_id
            closed = await _call(client, "POST", "/trades/close-shadow", user_headers, json=body)
            position.exit_day, position.exit_price = bar.day, _text(closed["exit_price"])
            position.exit_reason, position.realized_pnl = reason, _text(closed["realized_pnl"])
            for name in _CLOSED_FIELDS:
                setattr(position, name, _text(closed.get(name)))
            if live is not None:
                live_price, commission, at = live.fill(signal_id, price, Decimal(position.quantity),
                                                       datetime.fromisoformat(body["closed_at"]))
                live_closed = await _call(client, "POST", "/trades/close-shadow", user_headers, json={
                    "source": "live", "strategy_id": strategy_id, "symbol": symbol, "price": to_plain_str(live_price),
                    "closed_at": at.isoformat(), "commission": to_plain_str(commission), "exit_reason": reason,
                    "execution_id": "live-" + signal_id, "signal_id": signal_id})
                position.live_exit_price = _text(live_closed.get("exit_price"))
                position.live_realized_pnl = _text(live_closed.get("realized_pnl"))
            position, stop, target = None, None, None

        for i, bar in enumerate(bars):
            if position is not None:
                hit = bar_exit(position.side, bar, stop, target)
                if hit is not None:
                    exited_side = 1 if position.side == "BUY" else -1
                    await close(bar, i, hit[0], STOP_TIME, hit[1])
            window = bars[: i + 1]
            want = int(strategy.target(window)) if i < len(bars) - 1 else 0
            if want not in (-1, 0, 1):
                raise ValueError(f"strategy returned {want!r}; expected -1, 0 or 1")
            if want != exited_side:
                exited_side = 0  # the signal changed since the exit: entries allowed again
            have = 0 if position is None else (1 if position.side == "BUY" else -1)
            if want != have:
                if position is not None:
                    await close(bar, i, bar.close, BAR_CLOSE, END_OF_DATA if i == len(bars) - 1 else SIGNAL)
                if want != 0 and exited_side == 0:
                    side = "BUY" if want > 0 else "SELL"
                    body: dict[str, Any] = {
                        "symbol": symbol, "side": side, "strategy_id": strategy_id, "source": "backtest",
                        "price": str(bar.close), "filled_at": _at(bar.day, BAR_CLOSE, bar_timezone),
                        "idempotency_key": f"replay-{run}-{symbol}-{i}", "signal_id": signal_of(run, symbol, i, "open"),
                    }
                    if quantity is not None:
                        body["quantity"] = str(quantity)
                    else:
                        body["notional"] = str(notional)
                    stop_price = strategy.stop_loss(window, side) if hasattr(strategy, "stop_loss") else None
                    if stop_price is not None:
                        body["stop_loss"] = str(stop_price)
                    target_price = strategy.take_profit(window, side) if hasattr(strategy, "take_profit") else None
                    if target_price is not None:
                        body["take_profit"] = str(target_price)
                    opened = await _call(client, "POST", "/trades/execute", user_headers, json=body)
                    position = TradeRecord(symbol, side, opened["id"], bar.day, _text(opened["entry_price"]),
                                           _text(opened["quantity"]), stop_loss=_text(opened.get("stop_loss")),
                                           take_profit=_text(opened.get("take_profit")) or _text(target_price))
                    if live is not None:
                        live_price, commission, at = live.fill(body["signal_id"], bar.close, Decimal(position.quantity),
                                                               datetime.fromisoformat(body["filled_at"]))
                        live_opened = await _call(client, "POST", "/trades/execute", user_headers, json={
                            "source": "live", "symbol": symbol, "side": side, "strategy_id": strategy_id,
                            "quantity": position.quantity, "price": to_plain_str(live_price),
                            "filled_at": at.isoformat(), "commission": to_plain_str(commission),
                            "execution_id": "live-" + body["signal_id"], "signal_id": body["signal_id"],
                            "broker": "replay"})
                        position.live_id = live_opened.get("id")
                        position.live_entry_price = _text(live_opened.get("entry_price"))
                    # the replay decides its exits from the bars, at the levels it asked for
                    stop, target = stop_price, target_price
                    trades.append(position)
            total_bars += 1
            if on_bar:
                on_bar(symbol, bar)
    params = {"source": "backtest", "strategy_id": strategy_id}
    metrics = await _call(client, "GET", "/trades/shadow/metrics", user_headers, params=params)
    dashboard = await _call(client, "GET", "/trades/shadow/dashboard", user_headers, params=params)
    days = [b.day for bars in series.values() for b in bars]
    return ReplayResult(uid, strategy_id, total_bars, trades, metrics, dashboard,
                        first_day=min(days, default=None), last_day=max(days, default=None), costs=costs_answer)
