"""Request and response models of the HTTP API.

Money and quantities arrive as JSON numbers or strings and are parsed as exact ``Decimal``
(request bodies are decoded with ``parse_float=Decimal``, see ``routing.py``); they leave
as decimal strings. Unknown fields are refused (no mass assignment).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from .errors import ERROR_RESPONSES
from .quotes import SYMBOL_PATTERN

#: Largest accepted quantity, notional or price: absurd values are refused, not stored.
MAX_AMOUNT = Decimal("1000000000000")  # 1e12

#: Identifiers chosen by clients (strategy ids, correlation ids...): printable, no '/'.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$"
#: Ids of trades made by this service.
TRADE_ID_PATTERN = r"^[A-Za-z0-9_\-]{1,64}$"

PositiveAmount = Annotated[
    Decimal, Field(gt=0, le=MAX_AMOUNT, allow_inf_nan=False, max_digits=30, decimal_places=12)
]
ClientId = Annotated[str, Field(pattern=ID_PATTERN, max_length=128)]
Symbol = Annotated[str, Field(pattern=SYMBOL_PATTERN, max_length=15)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ExecuteTradeRequest(_Strict):
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
    instrument_type: Annotated[str, Field(max_length=32, pattern=r"^[A-Za-z_]+$")] | None = None
    order_type: Annotated[str, Field(max_length=32, pattern=r"^[A-Za-z_]+$")] | None = None
    time_in_force: Annotated[str, Field(max_length=16, pattern=r"^[A-Za-z_]+$")] | None = None
    signal_id: ClientId | None = None
    allocation_id: ClientId | None = None
    correlation_id: ClientId | None = None
    execution_id: ClientId | None = None
    idempotency_key: ClientId | None = None
    #: Protective stop price, USD per unit; the trade's risk is |entry - stop_loss| x quantity.
    stop_loss: PositiveAmount | None = None
    #: Initial risk in USD (wins over stop_loss); trades without either have no R-multiple.
    risk_amount: PositiveAmount | None = None
    #: ``paper`` (default): filled at the live quote, at server time. ``backtest``: a
    #: historical replay; the client gives the bar's fill ``price`` and ``filled_at``.
    source: Literal["paper", "backtest"] = "paper"
    #: Backtest fill price, USD per unit (refused for paper trades).
    price: PositiveAmount | None = None
    #: Backtest fill time, ISO 8601 with a UTC offset (refused for paper trades).
    filled_at: AwareDatetime | None = None

    @field_validator("side", mode="before")
    @classmethod
    def _upper_side(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("symbol", mode="after")
    @classmethod
    def _upper_symbol(cls, value: str) -> str:
        return value.upper()


class CloseShadowTradeRequest(_Strict):
    """``POST /trades/close-shadow``."""

    shadow_id: Annotated[str, Field(pattern=TRADE_ID_PATTERN)]
    exit_reason: Annotated[str, Field(min_length=1, max_length=200)] = "Manual close"
    #: Backtest trades only: the exit price, USD per unit (refused for paper trades).
    price: PositiveAmount | None = None
    #: Backtest trades only: the exit time, ISO 8601 with a UTC offset.
    closed_at: AwareDatetime | None = None


class PublishQuoteRequest(_Strict):
    """``PUT /quotes/{symbol}``: USD per unit; a price, or both bid and ask."""

    bid: PositiveAmount | None = None
    ask: PositiveAmount | None = None
    price: PositiveAmount | None = None


class UserSettingsIn(_Strict):
    """``PUT /users/me/settings``: starting capital (USD, > 0) and trading time zone (IANA)."""

    starting_capital: PositiveAmount | None = None
    timezone: Annotated[str, Field(max_length=64)] | None = None


class UserSettingsOut(BaseModel):
    """A user's settings as stored (defaults when never set)."""

    starting_capital: str
    timezone: str


class TradeOut(BaseModel):
    """A shadow trade (or, with ``mode == "paper"``, a paper order) as the API returns it.

    Money and quantities are decimal strings: USD to the cent for P&L and notional,
    percent to 0.01; timestamps are ISO 8601 UTC.
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


class ShadowMetricsOut(BaseModel):
    """``GET /trades/shadow/metrics`` (seed ``001``): money and percentages as decimal strings."""

    realized_pnl: str
    unrealized_pnl: str
    net_pnl: str
    win_rate: str
    closed_trades: int
    open_trades: int
    wins: int
    max_drawdown_usd: str
    max_drawdown_percent: str


class QuoteOut(BaseModel):
    """A live quote: prices as decimal strings, ``updated_at`` ISO 8601."""

    symbol: str
    bid: str | None
    ask: str | None
    price: str | None
    updated_at: str | None


class ErrorBody(BaseModel):
    """The one error shape of the API."""

    code: str
    message: str
    request_id: str | None = None
    details: object | None = None


class ErrorResponse(BaseModel):
    """``{"error": {...}}``."""

    error: ErrorBody


#: The error responses of every authenticated route, with their body model, for OpenAPI.
API_ERRORS: dict[int | str, dict[str, object]] = {
    code: {**spec, "model": ErrorResponse} for code, spec in ERROR_RESPONSES.items()
}
