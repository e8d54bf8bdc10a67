"""``/trades``: execute, close, list and read shadow trades."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, status

from ..api.deps import CurrentUser, SettingsDep, TradesDep
from ..api.errors import responses
from ..api.routing import DecimalJSONRoute
from ..api.schemas import ID_PATTERN
from ..quotes.errors import NoQuoteToFill, QuoteInvalid, QuoteStale
from .errors import (
    SignalMismatch,
    TooManySignalFills,
    CloseSourceMismatch,
    CloseTargetRequired,
    ExecutionIdRequired,
    NoOpenLivePosition,
    CloseQuantityExceedsOpen,
    InvalidCloseQuantity,
    TooManyExits,
    BacktestFillRequired,
    ClosedBeforeFilled,
    IdempotencyKeyMismatch,
    InvalidCursor,
    IdempotencyKeyReused,
    NotionalLimitExceeded,
    NotionalPrecision,
    NotionalTooSmall,
    OpenNotionalLimitExceeded,
    PageSizeTooLarge,
    PriceNotAllowed,
    QuantityOrNotionalRequired,
    QuantityPrecision,
    QuantityTooSmall,
    StopLossWrongSide,
    TakeProfitWrongSide,
    TimeInFuture,
    TradeBusy,
    TradeClosed,
    TradeNotFound,
    TrailingStopInvalid,
)
from .models import ExecuteCommand, PaperOrder
from .schemas import (
    TRADE_ID_PATTERN,
    CloseShadowTradeRequest,
    ExecuteTradeRequest,
    TradeOut,
    TradePage,
    UpdateExitsRequest,
    paper_order_view,
    trade_view,
)

router = APIRouter(prefix="/trades", tags=["trades"], route_class=DecimalJSONRoute)


def request_fingerprint(req: ExecuteTradeRequest) -> str:
    """SHA-256 of the request's canonical JSON, idempotency key left out."""
    payload = req.model_dump(mode="json", exclude={"idempotency_key"}, exclude_none=True)
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@router.post("/execute", status_code=status.HTTP_201_CREATED, response_model=TradeOut,
             summary="Execute a trade (shadow fill at the live quote, or a paper order)",
             responses=responses(QuantityOrNotionalRequired, QuantityTooSmall, QuantityPrecision, NotionalPrecision,
                                 NotionalTooSmall, NotionalLimitExceeded, OpenNotionalLimitExceeded, NoQuoteToFill,
                                 QuoteStale, QuoteInvalid,
                                 IdempotencyKeyReused, IdempotencyKeyMismatch, PriceNotAllowed, BacktestFillRequired,
                                 TimeInFuture, ExecutionIdRequired, SignalMismatch, TooManySignalFills, StopLossWrongSide, TakeProfitWrongSide, TrailingStopInvalid,
                                 TradeBusy))
async def execute_trade(
    body: ExecuteTradeRequest,
    user: CurrentUser,
    trades: TradesDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", pattern=ID_PATTERN, max_length=128)] = None,
) -> dict[str, Any]:
    """Fill at the live quote (BUY at the ask, SELL at the bid) and store the shadow trade.

    The fill pays the slippage and commission of the strategy's cost model (its own, else
    the user's default; ``/strategies/{strategy_id}/costs``), and records a copy of it.

    With shadow mode off (``systemStatus/config.is_shadow_mode == false``) a paper order
    is recorded instead. An idempotency key (body or ``Idempotency-Key`` header) makes
    retries return the original trade. ``stop_loss``, ``take_profit`` and
    ``trailing_stop_percent`` are exits the service triggers on later quotes.
    """
    if idempotency_key and body.idempotency_key and idempotency_key != body.idempotency_key:
        raise IdempotencyKeyMismatch("The Idempotency-Key header and the body's idempotency_key differ.")
    cmd = ExecuteCommand(
        symbol=body.symbol, side=body.side, strategy_id=body.strategy_id, source=body.source, quantity=body.quantity,
        notional=body.notional, stop_loss=body.stop_loss, risk_amount=body.risk_amount, take_profit=body.take_profit,
        trailing_stop_percent=body.trailing_stop_percent, price=body.price,
        filled_at=body.filled_at, commission=body.commission, client=body.client_fields(),
        idempotency_key=idempotency_key or body.idempotency_key, request_hash=request_fingerprint(body),
    )
    result = await trades.execute(user.uid, cmd)
    return paper_order_view(result) if isinstance(result, PaperOrder) else trade_view(result)


@router.post("/close-shadow", response_model=TradeOut, summary="Close a shadow trade at the live quote and realize its P&L",
             responses=responses(TradeNotFound, NoQuoteToFill, QuoteStale, QuoteInvalid, PriceNotAllowed,
                                 BacktestFillRequired, TimeInFuture, ClosedBeforeFilled, InvalidCloseQuantity,
                                 QuantityPrecision, CloseQuantityExceedsOpen, TooManyExits, IdempotencyKeyReused,
                                 CloseTargetRequired, ExecutionIdRequired, NoOpenLivePosition, TradeBusy,
                                 CloseSourceMismatch))
async def close_shadow_trade(body: CloseShadowTradeRequest, user: CurrentUser, trades: TradesDep) -> dict[str, Any]:
    """A long exits at the bid, a short at the ask (else the quote's price); a backtest
    trade exits at the given ``price`` and ``closed_at``. The exit pays the slippage and
    commission of the cost model the trade was filled with; ``realized_pnl`` is net of the
    entry and exit commissions (``gross_pnl - commission``). With ``quantity`` below the
    open quantity, that part is realized and the rest stays OPEN (``exits`` lists the exit
    fills). Closing a closed trade returns its stored result."""
    if body.source == "live" and body.shadow_id is None:
        if not body.strategy_id or not body.symbol:
            raise CloseTargetRequired("A live close names the position: strategy_id and symbol (or its shadow_id).")
        closed = await trades.close_live(user.uid, strategy_id=body.strategy_id, symbol=body.symbol,
                                         price=body.price, closed_at=body.closed_at, commission=body.commission,
                                         quantity=body.quantity, execution_id=body.execution_id,
                                         exit_reason=body.exit_reason, signal_id=body.signal_id)
        return trade_view(closed)
    if body.shadow_id is None:
        raise CloseTargetRequired("Give the shadow_id of the trade to close (or source \"live\" with strategy_id "
                                  "and symbol).")
    closed = await trades.close(user.uid, body.shadow_id, exit_reason=body.exit_reason, price=body.price,
                                closed_at=body.closed_at, commission=body.commission, quantity=body.quantity,
                                idempotency_key=body.idempotency_key or body.execution_id,
                                execution_id=body.execution_id, signal_id=body.signal_id, source=body.source)
    return trade_view(closed)


@router.get("/shadow", response_model=TradePage, responses=responses(PageSizeTooLarge, InvalidCursor),
            summary="List the caller's shadow trades")
async def list_shadow_trades(
    user: CurrentUser,
    trades: TradesDep,
    settings: SettingsDep,
    status_filter: Annotated[Literal["OPEN", "CLOSED"] | None, Query(alias="status")] = None,
    limit: Annotated[int | None, Query(ge=1, description="Page size (capped by PAGE_SIZE_MAX).")] = None,
    cursor: Annotated[str | None, Query(pattern=TRADE_ID_PATTERN)] = None,
) -> dict[str, Any]:
    """Newest first; ``next_cursor`` continues the listing."""
    size = limit or settings.PAGE_SIZE_DEFAULT
    if size > settings.PAGE_SIZE_MAX:
        raise PageSizeTooLarge(f"limit must be at most {settings.PAGE_SIZE_MAX}.")
    page = await trades.list(user.uid, status=status_filter, limit=size, after_id=cursor)
    return {"items": [trade_view(t) for t in page], "next_cursor": page[-1].shadow_id if len(page) == size else None}


@router.get("/shadow/{shadow_id}", response_model=TradeOut, responses=responses(TradeNotFound),
            summary="One of the caller's shadow trades")
async def get_shadow_trade(user: CurrentUser, trades: TradesDep,
                           shadow_id: Annotated[str, Path(pattern=TRADE_ID_PATTERN)]) -> dict[str, Any]:
    """Another user's trade id answers 404, like an unknown one."""
    return trade_view(await trades.get(user.uid, shadow_id))


@router.patch("/shadow/{shadow_id}", response_model=TradeOut,
              summary="Move or remove the stop, target and trailing stop of an OPEN shadow trade",
              responses=responses(TradeNotFound, TradeClosed, StopLossWrongSide, TakeProfitWrongSide,
                                  TrailingStopInvalid, TradeBusy))
async def update_trade_exits(body: UpdateExitsRequest, user: CurrentUser, trades: TradesDep,
                             shadow_id: Annotated[str, Path(pattern=TRADE_ID_PATTERN)]) -> dict[str, Any]:
    """Each body field sets a value, ``null`` removes it, absent keeps it. Checked against the
    entry fill like at execute; the risk (R) stays the entry's. A closed trade (also one a
    concurrent close won) is 409 ``trade_closed``; another user's trade is 404."""
    return trade_view(await trades.update_exits(user.uid, shadow_id, body.changes()))
