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

from collections.abc import Iterable

from ..core.costs import CostModel
from ..core.exits import ExitPlan, trailing_stop_price
from ..core.money import cents_of
from ..core.pnl import NetPnl, OpenPosition

OPEN = "OPEN"
CLOSED = "CLOSED"
PAPER = "paper"
BACKTEST = "backtest"
LIVE = "live"

#: Client identifiers stored as sent (strings), when sent.
CLIENT_FIELDS = ("broker_account_id", "instrument_type", "order_type", "time_in_force", "signal_id",
                 "allocation_id", "correlation_id", "execution_id", "broker_order_id", "broker")


@dataclass(frozen=True)
class ExitFill:
    """One exit of a position (a partial close, or the close of what remained).

    Money in USD, prices USD per unit, quantities units.

    Attributes:
        realization_id: its id in the aggregates: the shadow id for a position closed in
            one go, ``{shadow_id}~{k}`` for the k-th exit of a position closed in parts.
        quantity: units closed; price: fill price after slippage; base_price: before it.
        commission, slippage: of this exit fill.
        entry_commission, entry_slippage, notional: the entry's commission, slippage and
            notional allocated to this part (pro rata to the quantity, to the cent; the
            last part takes what is left, so the parts add up exactly).
        gross_pnl: price move of this part; realized_pnl: ``gross_pnl - commission -
            entry_commission`` (net).
        closed_at: when it filled; exit_reason: why.
        agg_gen: the newest aggregate generation it was added to (never shown).
        idempotency_key: the close request's key, when it sent one (a retry finds it).
        signal_id: the exit signal the close executed, when sent.
    """

    realization_id: str
    quantity: Decimal
    price: Decimal
    base_price: Decimal
    commission: Decimal
    slippage: Decimal
    entry_commission: Decimal
    entry_slippage: Decimal
    notional: Decimal
    gross_pnl: Decimal
    realized_pnl: Decimal
    closed_at: datetime
    exit_reason: str
    agg_gen: int
    idempotency_key: str | None = None
    signal_id: str | None = None


#: Stored/API names of :class:`ExitFill`, and those that hold decimals.
EXIT_FILL_FIELDS = tuple(f.name for f in fields(ExitFill))
EXIT_FILL_DECIMALS = ("quantity", "price", "base_price", "commission", "slippage", "entry_commission", "entry_slippage",
                 "notional", "gross_pnl", "realized_pnl")


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
        cost_model: the cost model applied to its fills (a copy taken at entry: later
            changes of the strategy's model never reprice it); None for trades made before
            costs existed (no costs).
        decision_price, decided_at: the quote when the signal arrived (the mid of bid and
            ask, else the last price; a backtest's bar price) and when (paper and backtest
            fills; the benchmark of the implementation shortfall, docs/shortfall.md).
        entry_base_price: the entry's price before slippage (quote side or bar price);
            entry_commission, entry_slippage: USD charged on / inside the entry fill.
        open_quantity: units still open (None: ``quantity``, a trade from before partial
            closes); exits: its exit fills, oldest first (:class:`ExitFill`).
        exit_price, exit_reason, closed_at, closed_at_iso: the close (CLOSED only; the
            exit price of a position closed in parts is the quantity-weighted average);
            exit_base_price (weighted average), exit_commission, exit_slippage (sums): as
            for the entry.
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
    take_profit: Decimal | None = None
    trailing_stop_percent: Decimal | None = None
    water_mark: Decimal | None = None
    trailing_stop: Decimal | None = None
    quote_bid: Decimal | None = None
    quote_ask: Decimal | None = None
    client: dict[str, str] = field(default_factory=dict)
    received_at: datetime | None = None
    last_updated: datetime | None = None
    cost_model: CostModel | None = None
    decision_price: Decimal | None = None
    decided_at: datetime | None = None
    open_quantity: Decimal | None = None
    exits: tuple[ExitFill, ...] = ()
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

    @property
    def remaining(self) -> Decimal:
        """Units still open."""
        return self.quantity if self.open_quantity is None else self.open_quantity

    def position(self) -> OpenPosition:
        """What marking its open part needs: the units still open and what is left of the
        entry commission (a live trade is never marked at the service's quotes)."""
        return OpenPosition(self.symbol, self.side, self.entry_price, self.remaining, self.current_pnl, self.costs,
                            self.unallocated("entry_commission"), marked=self.source != LIVE)

    def unallocated(self, name: str) -> Decimal:
        """What the exits have not taken yet of the entry's ``entry_commission``,
        ``entry_slippage`` or ``notional`` (USD)."""
        whole = {"entry_commission": self.entry_fee, "entry_slippage": self.entry_slippage or Decimal("0.00"),
                 "notional": self.notional}[name]
        return whole - sum((getattr(e, name) for e in self.exits), Decimal("0.00"))

    def closed(self, *, exits: tuple[ExitFill, ...], result: NetPnl, exit_price: Decimal, exit_base_price: Decimal,
               agg_gen: int) -> Trade:
        """This trade CLOSED by its ``exits`` (the last one closing what remained), with the
        position's ``result`` (gross, commissions, net and net percent on the entry
        notional) and the exits' weighted average ``exit_price`` and ``exit_base_price``."""
        last = exits[-1]
        pnl = result.net
        exit_slippage = sum((e.slippage for e in exits), Decimal("0.00"))
        return replace(self, status=CLOSED, exits=exits, open_quantity=Decimal("0.000000"), exit_price=exit_price,
                       exit_base_price=exit_base_price,
                       exit_commission=sum((e.commission for e in exits), Decimal("0.00")),
                       exit_slippage=exit_slippage, gross_pnl=result.gross, commission=result.commission,
                       slippage=(self.entry_slippage or Decimal("0.00")) + exit_slippage,
                       exit_reason=last.exit_reason, closed_at=last.closed_at, closed_at_iso=last.closed_at.isoformat(),
                       current_price=last.price, current_pnl=pnl, pnl_percent=result.net_percent, realized_pnl=pnl,
                       realized_pnl_percent=result.net_percent, is_win=pnl > 0, agg_gen=agg_gen)

    def partially_closed(self, *, exit_: ExitFill, current_price: Decimal, mark: NetPnl) -> Trade:
        """This trade still OPEN after ``exit_``: its remaining quantity, and the rest marked
        at ``current_price`` (``mark``: net of what is left of the entry commission and of
        the estimated exit commission)."""
        return replace(self, exits=self.exits + (exit_,), open_quantity=self.remaining - exit_.quantity,
                       current_price=current_price, current_pnl=mark.net, pnl_percent=mark.net_percent,
                       agg_gen=exit_.agg_gen)

    @property
    def exits_by_quotes(self) -> bool:
        """True when published quotes may exit it: an OPEN paper trade with a stop, target or
        trailing stop (a backtest closes its own trades; a live one is the broker's)."""
        return self.source == PAPER and self.is_open and self.exit_plan().has_exits

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
    take_profit: Decimal | None = None
    trailing_stop_percent: Decimal | None = None
    price: Decimal | None = None
    filled_at: datetime | None = None
    commission: Decimal | None = None
    client: dict[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None
    request_hash: str = ""


def open_notional_cents(trades: Iterable[Trade]) -> int:
    """The open notional the service's limits count, cents: what is still open of the
    entry notional of every OPEN paper and backtest trade (live positions are the
    broker's, outside the limits)."""
    return sum(cents_of(t.unallocated("notional")) for t in trades if t.is_open and t.source != LIVE)

