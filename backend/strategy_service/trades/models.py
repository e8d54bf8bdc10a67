"""Trades as typed values: what the trades repository hands to the services and takes back.

Field names are those of the stored document and of the API (the shadow-mode trade
metrics specification's names); the repository alone knows how they are encoded (money
as decimal strings, times as Firestore timestamps).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..core.exits import ExitPlan, trailing_stop_price

OPEN = "OPEN"
CLOSED = "CLOSED"
PAPER = "paper"
BACKTEST = "backtest"
LIVE = "live"

#: Client identifiers stored as sent (strings), when sent.
CLIENT_FIELDS = ("broker_account_id", "instrument_type", "order_type", "time_in_force", "signal_id",
                 "allocation_id", "correlation_id", "execution_id")


@dataclass(frozen=True)
class Trade:
    """A shadow trade.

    Money is ``Decimal`` USD (prices USD per unit), quantities units, percentages percent.

    Attributes:
        shadow_id, uid, symbol, side (``BUY``/``SELL``), strategy_id, source (``paper``,
            ``backtest``): what it is.
        quantity, notional, entry_price: the fill.
        status: ``OPEN`` or ``CLOSED``.
        created_at: fill time (server time for paper, the bar's time for backtest), or
            None until the store set it; created_at_iso: the service clock at fill time.
        current_price, current_pnl, pnl_percent: the last mark (realized once CLOSED).
        request_hash: SHA-256 of the canonical request (never shown).
        idempotency_key, stop_loss, risk_amount: as sent / derived at execute.
        take_profit: target, USD per unit; trailing_stop_percent: trailing distance,
            percent; water_mark: the best exit price since the fill (a long's highest, a
            short's lowest), kept while a trailing stop is set; trailing_stop: the trailing
            stop price it gives (USD per unit, shown, recomputed on every write).
            ``stop_loss``, ``take_profit`` and the trailing stop exit the trade when a
            quote reaches them (``core/exits.py``); ``risk_amount`` stays the entry's.
        quote_bid, quote_ask: the quote at fill time (paper trades).
        client: the client identifiers of :data:`CLIENT_FIELDS` that were sent.
        received_at: server time of a backtest fill; last_updated: last mark or close.
        exit_price, exit_reason, closed_at, closed_at_iso, realized_pnl,
            realized_pnl_percent, is_win: the close (CLOSED only).
        agg_gen: the newest aggregate generation its close was added to (never shown;
            a rebuild catches up the trades still in the older one).
        version: the stored document's update time (the precondition of a change).
    """

    shadow_id: str
    uid: str
    symbol: str
    side: str
    quantity: Decimal
    notional: Decimal
    entry_price: Decimal
    strategy_id: str
    source: str = PAPER
    status: str = OPEN
    created_at: datetime | None = None
    created_at_iso: str | None = None
    current_price: Decimal | None = None
    current_pnl: Decimal = Decimal("0.00")
    pnl_percent: Decimal = Decimal("0.00")
    request_hash: str | None = None
    idempotency_key: str | None = None
    stop_loss: Decimal | None = None
    risk_amount: Decimal | None = None
    take_profit: Decimal | None = None
    trailing_stop_percent: Decimal | None = None
    water_mark: Decimal | None = None
    trailing_stop: Decimal | None = None
    quote_bid: Decimal | None = None
    quote_ask: Decimal | None = None
    client: dict[str, str] = field(default_factory=dict)
    received_at: datetime | None = None
    last_updated: datetime | None = None
    exit_price: Decimal | None = None
    exit_reason: str | None = None
    closed_at: datetime | None = None
    closed_at_iso: str | None = None
    realized_pnl: Decimal | None = None
    realized_pnl_percent: Decimal | None = None
    is_win: bool | None = None
    agg_gen: int | None = None
    version: Any = field(default=None, compare=False, repr=False)

    @property
    def is_open(self) -> bool:
        """True while the trade is OPEN."""
        return self.status != CLOSED

    def exit_plan(self) -> ExitPlan:
        """The exits the service triggers for this trade (``core/exits.py``)."""
        return ExitPlan(side=self.side, stop_loss=self.stop_loss, take_profit=self.take_profit,
                        trailing_percent=self.trailing_stop_percent, water_mark=self.water_mark)

    def with_exits(self, *, stop_loss: Decimal | None, take_profit: Decimal | None,
                   trailing_stop_percent: Decimal | None, water_mark: Decimal | None) -> Trade:
        """This trade with these exits (USD per unit; percent), its ``trailing_stop``
        recomputed from the water mark (both dropped without a trailing percent)."""
        if trailing_stop_percent is None:
            water_mark = None
        stop = None if trailing_stop_percent is None or water_mark is None else trailing_stop_price(
            self.side, water_mark, trailing_stop_percent)
        return replace(self, stop_loss=stop_loss, take_profit=take_profit, trailing_stop_percent=trailing_stop_percent,
                       water_mark=water_mark, trailing_stop=stop)

    def closed(self, *, exit_price: Decimal, exit_reason: str, closed_at: datetime, pnl: Decimal,
               pnl_percent: Decimal, agg_gen: int) -> Trade:
        """This trade CLOSED at ``exit_price`` with realized ``pnl`` (USD) and ``pnl_percent``,
        added to the aggregates through generation ``agg_gen``."""
        return replace(self, status=CLOSED, exit_price=exit_price, exit_reason=exit_reason, closed_at=closed_at,
                       closed_at_iso=closed_at.isoformat(), current_price=exit_price, current_pnl=pnl,
                       pnl_percent=pnl_percent, realized_pnl=pnl, realized_pnl_percent=pnl_percent, is_win=pnl > 0,
                       agg_gen=agg_gen)


#: The stored/API field names of :class:`Trade` (``client`` is flattened, ``version`` is not stored).
TRADE_FIELDS = tuple(f.name for f in fields(Trade) if f.name not in ("client", "version"))


@dataclass(frozen=True)
class PaperOrder:
    """An order recorded while shadow mode is off (``status: SUBMITTED``); ``entry_price``
    is the reference quote. Same units as :class:`Trade`."""

    order_id: str
    uid: str
    symbol: str
    side: str
    quantity: Decimal
    notional: Decimal
    entry_price: Decimal
    strategy_id: str
    source: str = PAPER
    status: str = "SUBMITTED"
    created_at: datetime | None = None
    created_at_iso: str | None = None
    current_pnl: Decimal = Decimal("0.00")
    pnl_percent: Decimal = Decimal("0.00")
    request_hash: str | None = None
    idempotency_key: str | None = None
    stop_loss: Decimal | None = None
    risk_amount: Decimal | None = None
    take_profit: Decimal | None = None
    trailing_stop_percent: Decimal | None = None
    client: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ExecuteCommand:
    """What a strategy asks ``execute`` to do (validated by the HTTP layer).

    Attributes:
        symbol, side, strategy_id, source: the trade.
        quantity: units, or None to size from ``notional`` (USD) at the fill price.
        stop_loss: protective stop, USD per unit; risk_amount: initial risk, USD.
        take_profit: target, USD per unit; trailing_stop_percent: trailing stop distance,
            percent of the water mark (0 < p < 100).
        price, filled_at: a backtest fill's bar price (USD per unit) and time.
        client: client identifiers to store as sent.
        idempotency_key: makes retries return the first trade; request_hash: the
            request's fingerprint (a reused key with another request is refused).
    """

    symbol: str
    side: str
    strategy_id: str
    source: str = PAPER
    quantity: Decimal | None = None
    notional: Decimal | None = None
    stop_loss: Decimal | None = None
    risk_amount: Decimal | None = None
    take_profit: Decimal | None = None
    trailing_stop_percent: Decimal | None = None
    price: Decimal | None = None
    filled_at: datetime | None = None
    client: dict[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None
    request_hash: str = ""
