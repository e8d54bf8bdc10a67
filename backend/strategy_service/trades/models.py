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

from ..core.costs import CostModel, Fill
from ..core.pnl import NetPnl

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
        quote_bid, quote_ask: the quote at fill time (paper trades).
        client: the client identifiers of :data:`CLIENT_FIELDS` that were sent.
        received_at: server time of a backtest fill; last_updated: last mark or close.
        cost_model: the cost model applied to its fills (a copy taken at entry: later
            changes of the strategy's model never reprice it); None for trades made before
            costs existed (no costs).
        entry_base_price: the entry's price before slippage (quote side or bar price);
            entry_commission, entry_slippage: USD charged on / inside the entry fill.
        exit_price, exit_reason, closed_at, closed_at_iso: the close (CLOSED only);
            exit_base_price, exit_commission, exit_slippage: as for the entry.
        gross_pnl: price move only, USD; commission: entry + exit, USD; slippage: entry +
            exit, USD (inside the fill prices, shown, never subtracted twice);
            realized_pnl: ``gross_pnl - commission`` (net), USD; realized_pnl_percent: net
            on the entry notional, percent; is_win: net > 0.
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
    quote_bid: Decimal | None = None
    quote_ask: Decimal | None = None
    client: dict[str, str] = field(default_factory=dict)
    received_at: datetime | None = None
    last_updated: datetime | None = None
    cost_model: CostModel | None = None
    entry_base_price: Decimal | None = None
    entry_commission: Decimal | None = None
    entry_slippage: Decimal | None = None
    exit_price: Decimal | None = None
    exit_base_price: Decimal | None = None
    exit_commission: Decimal | None = None
    exit_slippage: Decimal | None = None
    gross_pnl: Decimal | None = None
    commission: Decimal | None = None
    slippage: Decimal | None = None
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

    @property
    def costs(self) -> CostModel:
        """The cost model of its fills (the zero model for a trade from before costs)."""
        return self.cost_model or CostModel()

    @property
    def entry_fee(self) -> Decimal:
        """Commission of the entry fill, USD (0 for a trade from before costs)."""
        return self.entry_commission or Decimal("0.00")

    def closed(self, *, exit_fill: Fill, result: NetPnl, exit_reason: str, closed_at: datetime,
               agg_gen: int) -> Trade:
        """This trade CLOSED by ``exit_fill`` with the realization ``result`` (net of the
        entry and exit commissions), added to the aggregates through generation ``agg_gen``."""
        pnl = result.net
        return replace(self, status=CLOSED, exit_price=exit_fill.price, exit_base_price=exit_fill.base_price,
                       exit_commission=exit_fill.commission, exit_slippage=exit_fill.slippage,
                       gross_pnl=result.gross, commission=result.commission,
                       slippage=(self.entry_slippage or Decimal("0.00")) + exit_fill.slippage,
                       exit_reason=exit_reason, closed_at=closed_at,
                       closed_at_iso=closed_at.isoformat(), current_price=exit_fill.price, current_pnl=pnl,
                       pnl_percent=result.net_percent, realized_pnl=pnl, realized_pnl_percent=result.net_percent,
                       is_win=pnl > 0, agg_gen=agg_gen)


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
    client: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ExecuteCommand:
    """What a strategy asks ``execute`` to do (validated by the HTTP layer).

    Attributes:
        symbol, side, strategy_id, source: the trade.
        quantity: units, or None to size from ``notional`` (USD) at the fill price.
        stop_loss: protective stop, USD per unit; risk_amount: initial risk, USD.
        price, filled_at: a backtest fill's bar price (USD per unit) and time.
        commission: a backtest fill's own commission (USD), instead of the cost model's.
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
    price: Decimal | None = None
    filled_at: datetime | None = None
    commission: Decimal | None = None
    client: dict[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None
    request_hash: str = ""
