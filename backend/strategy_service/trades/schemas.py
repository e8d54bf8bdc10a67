"""HTTP models of the trades endpoints, and the API view of a trade."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from ..api.schemas import MAX_AMOUNT, ClientId, PositiveAmount, Strict
from ..core.costs import CostModel
from ..core.money import to_plain_str
from ..quotes.service import SYMBOL_PATTERN
from .models import CLIENT_FIELDS, PAPER, TRADE_FIELDS, PaperOrder, Trade

#: A trailing stop percent as sent; its range (> 0, < 100) is the service's check
#: (``trailing_stop_invalid``), so any finite number reaches it.
TrailingPercent = Annotated[Decimal, Field(allow_inf_nan=False, max_digits=30, decimal_places=12)]

#: Ids of trades made by this service.
TRADE_ID_PATTERN = r"^[A-Za-z0-9_\-]{1,64}$"

Symbol = Annotated[str, Field(pattern=SYMBOL_PATTERN, max_length=15)]
Word = Annotated[str, Field(max_length=32, pattern=r"^[A-Za-z_]+$")]
#: A fill's own commission, USD (backtest fills only), at least 0.
Commission = Annotated[Decimal, Field(ge=0, le=MAX_AMOUNT, allow_inf_nan=False, max_digits=30, decimal_places=12)]


class ExecuteTradeRequest(Strict):
    """``POST /trades/execute``: what a client strategy sends.

    ``quantity`` wins when both are given; otherwise ``quantity = notional / fill price``
    (0.000001 units, half up). ``notional`` is in USD.
    """

    symbol: Symbol
    side: Literal["BUY", "SELL"]
    strategy_id: ClientId
    notional: PositiveAmount | None = None
    quantity: PositiveAmount | None = None
    broker_account_id: ClientId | None = None
    instrument_type: Word | None = None
    order_type: Word | None = None
    time_in_force: Annotated[str, Field(max_length=16, pattern=r"^[A-Za-z_]+$")] | None = None
    signal_id: ClientId | None = None
    allocation_id: ClientId | None = None
    correlation_id: ClientId | None = None
    #: The broker's execution id: required for a live fill (its idempotency key).
    execution_id: ClientId | None = None
    #: A live fill's broker order id and broker name, stored as sent.
    broker_order_id: ClientId | None = None
    broker: ClientId | None = None
    idempotency_key: ClientId | None = None
    #: Protective stop price, USD per unit; the trade's risk is |entry - stop_loss| x quantity.
    stop_loss: PositiveAmount | None = None
    #: Initial risk in USD (wins over stop_loss); trades without either have no R-multiple.
    risk_amount: PositiveAmount | None = None
    #: Target price, USD per unit: the trade exits at it when the exit side of a quote
    #: touches or crosses it. A long's above the entry fill, a short's below.
    take_profit: PositiveAmount | None = None
    #: Trailing stop, percent of the best exit price since the fill (> 0 and < 100).
    trailing_stop_percent: TrailingPercent | None = None
    #: ``paper`` (default): filled at the live quote, at server time. ``backtest``: a
    #: historical replay; the client gives the bar's fill ``price`` and ``filled_at``.
    #: ``live``: a real broker execution, recorded as it happened (``price``, ``filled_at``,
    #: ``commission``, ``execution_id``); never priced from live quotes.
    source: Literal["paper", "backtest", "live"] = "paper"
    #: Backtest fill price, USD per unit (refused for paper trades).
    price: PositiveAmount | None = None
    #: Backtest fill time, ISO 8601 with a UTC offset (refused for paper trades).
    filled_at: AwareDatetime | None = None
    #: Backtest fills only: this fill's commission in USD (a replay of a real schedule),
    #: instead of the strategy's cost model's.
    commission: Commission | None = None

    @field_validator("side", mode="before")
    @classmethod
    def _upper_side(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("symbol", mode="after")
    @classmethod
    def _upper_symbol(cls, value: str) -> str:
        return value.upper()

    def client_fields(self) -> dict[str, str]:
        """The client identifiers that were sent."""
        return {name: getattr(self, name) for name in CLIENT_FIELDS if getattr(self, name) is not None}


class CloseShadowTradeRequest(Strict):
    """``POST /trades/close-shadow``: a trade by ``shadow_id``, or a live position by
    ``source: "live"``, ``strategy_id`` and ``symbol`` (its oldest OPEN live trade)."""

    shadow_id: Annotated[str, Field(pattern=TRADE_ID_PATTERN)] | None = None
    #: ``live``: close the oldest OPEN live trade of ``strategy_id`` in ``symbol``.
    source: Literal["live"] | None = None
    strategy_id: ClientId | None = None
    symbol: Symbol | None = None
    #: A live close's broker execution id (required with ``source: live``).
    execution_id: ClientId | None = None
    #: The exit signal this close executes (recorded on the exit fill).
    signal_id: ClientId | None = None

    @field_validator("symbol", mode="after")
    @classmethod
    def _upper_symbol(cls, value: str | None) -> str | None:
        return value.upper() if value else value
    exit_reason: Annotated[str, Field(min_length=1, max_length=200)] = "Manual close"
    #: Backtest trades only: the exit price, USD per unit (refused for paper trades).
    price: PositiveAmount | None = None
    #: Backtest trades only: the exit time, ISO 8601 with a UTC offset.
    closed_at: AwareDatetime | None = None
    #: Backtest trades only: the exit fill's commission in USD, instead of the cost model's.
    commission: Commission | None = None
    #: Units to close (at most what is open, 0.000001 units); left out: all that is open.
    #: A part realizes its P&L at once and leaves the rest OPEN.
    quantity: Annotated[Decimal, Field(allow_inf_nan=False, le=MAX_AMOUNT, ge=-MAX_AMOUNT, max_digits=30,
                                       decimal_places=12)] | None = None
    #: Makes a retried partial close return the trade instead of closing another part.
    idempotency_key: ClientId | None = None


class UpdateExitsRequest(Strict):
    """``PATCH /trades/shadow/{shadow_id}``: each field a new value, ``null`` to remove it,
    or absent to keep it.

    Attributes:
        stop_loss: stop price, USD per unit (a long's below the entry fill, a short's above).
        take_profit: target price, USD per unit (a long's above the entry fill, a short's below).
        trailing_stop_percent: percent of the water mark, > 0 and < 100.
    """

    stop_loss: PositiveAmount | None = None
    take_profit: PositiveAmount | None = None
    trailing_stop_percent: TrailingPercent | None = None

    def changes(self) -> dict[str, Decimal | None]:
        """The fields that were sent (``null`` ones as None)."""
        return {name: getattr(self, name) for name in ("stop_loss", "take_profit", "trailing_stop_percent")
                if name in self.model_fields_set}


class TradeOut(BaseModel):
    """A shadow trade (or, with ``mode == "paper"``, a paper order) as the API returns it.

    Money and quantities are decimal strings: USD to the cent for P&L and notional,
    percent to 0.01; timestamps are ISO 8601 UTC. Every other stored field is included
    (see docs/data-model.md).
    """

    model_config = ConfigDict(extra="allow")

    id: str
    status: str
    mode: Literal["shadow", "paper"]
    created_at: str | None
    symbol: str
    side: str
    quantity: str
    entry_price: str
    current_pnl: str
    pnl_percent: str


class TradePage(BaseModel):
    """A page of trades; pass ``next_cursor`` as ``cursor`` for the next one (None at the end)."""

    items: list[TradeOut]
    next_cursor: str | None


def _json(value: Any) -> Any:
    if isinstance(value, CostModel):
        return value.to_doc()
    if isinstance(value, Decimal):
        return to_plain_str(value)
    return value.isoformat() if isinstance(value, datetime) else value


def trade_view(trade: Trade) -> dict[str, Any]:
    """API shape of a shadow trade: every stored field (the server-only ``request_hash``
    and ``agg_gen`` left out), ``id`` and ``mode`` added, and the back-compat copies ``final_pnl`` and
    ``final_pnl_percent`` of a CLOSED trade; ``open_quantity``, the exit fills (``exits``)
    and, for an OPEN trade closed in part, ``realized_pnl_to_date`` (USD)."""
    out = {name: _json(getattr(trade, name)) for name in TRADE_FIELDS
           if getattr(trade, name) is not None and name not in ("request_hash", "agg_gen")}
    if trade.source == PAPER:
        out.setdefault("quote_bid", None)
        out.setdefault("quote_ask", None)
    out["open_quantity"] = to_plain_str(trade.remaining) if trade.is_open else "0.000000"
    out["exits"] = [{k: _json(v) for k, v in vars(e).items() if v is not None and k != "agg_gen"} for e in trade.exits]
    if trade.is_open and trade.exits:  # what its partial closes realized so far
        out["realized_pnl_to_date"] = to_plain_str(sum((e.realized_pnl for e in trade.exits), Decimal("0.00")))
    if trade.realized_pnl is not None:
        out["final_pnl"], out["final_pnl_percent"] = out["realized_pnl"], out["realized_pnl_percent"]
    out.update(trade.client)
    out["id"] = trade.shadow_id
    out["mode"] = "shadow"
    return out


def paper_order_view(order: PaperOrder) -> dict[str, Any]:
    """API shape of a paper order (shadow mode off)."""
    out = {name: _json(value) for name, value in vars(order).items()
           if value is not None and name not in ("client", "request_hash")}
    out.update(order.client)
    out["id"] = order.order_id
    out["mode"] = "paper"
    return out
