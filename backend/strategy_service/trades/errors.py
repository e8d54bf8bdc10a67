"""Error codes of the trades domain (one class per code)."""

from __future__ import annotations

from ..core.errors import BadRequest, InvalidRequest, ResourceNotFound, StateConflict


class TradeNotFound(ResourceNotFound):
    """No trade with that id for this user (another user's trade included)."""

    code = "trade_not_found"
    description = "No shadow trade with that id for this user."


class TradeBusy(StateConflict):
    """Other writers kept changing the trade through every attempt; retryable."""

    code = "trade_busy"
    description = "The trade kept changing under other writers; retry after Retry-After."


class QuantityOrNotionalRequired(InvalidRequest):
    """Neither a quantity nor a notional was given."""

    code = "quantity_or_notional_required"
    description = "Give a quantity or a notional (USD) for the trade."


class QuantityTooSmall(InvalidRequest):
    """The quantity (given, or notional / fill price) rounds to less than 0.000001 units."""

    code = "quantity_too_small"
    description = "The quantity is below 0.000001 units."


class QuantityPrecision(InvalidRequest):
    """A quantity with more than 6 decimals (the service keeps 0.000001 units)."""

    code = "quantity_precision"
    description = "The quantity has more than 6 decimals; the service keeps quantities to 0.000001 units."


class NotionalPrecision(InvalidRequest):
    """A notional with more than 2 decimals (USD to the cent)."""

    code = "notional_precision"
    description = "The notional has more than 2 decimals; USD amounts are kept to the cent."


class NotionalTooSmall(InvalidRequest):
    """The trade's notional (quantity x fill price) is below one cent."""

    code = "notional_too_small"
    description = "The trade is worth less than 0.01 USD at its fill price."


class NotionalLimitExceeded(InvalidRequest):
    """The trade's notional is above the user's maximum notional per trade."""

    code = "notional_limit_exceeded"
    description = "The trade's notional is above the maximum notional per trade (a user setting)."


class OpenNotionalLimitExceeded(InvalidRequest):
    """The trade would take the user's open notional above their maximum."""

    code = "open_notional_limit_exceeded"
    description = "The trade would take the open notional above the maximum (a user setting)."


class IdempotencyKeyReused(InvalidRequest):
    """The idempotency key was used before with another request."""

    code = "idempotency_key_reused"
    description = "This idempotency key was already used with a different request."


class IdempotencyKeyMismatch(InvalidRequest):
    """The ``Idempotency-Key`` header and the body's ``idempotency_key`` differ."""

    code = "idempotency_key_mismatch"
    description = "The Idempotency-Key header and the body's idempotency_key differ."


class PriceNotAllowed(InvalidRequest):
    """A paper trade fills at the live quote at server time: no client price or time."""

    code = "price_not_allowed"
    description = "price, filled_at and closed_at are only accepted for backtest trades."


class BacktestFillRequired(InvalidRequest):
    """A backtest fill or close needs the bar's price and time."""

    code = "backtest_fill_required"
    description = "A backtest trade needs the price and time of its bar."


class TimeInFuture(InvalidRequest):
    """A fill or close time more than 5 minutes ahead of the service clock."""

    code = "time_in_future"
    description = "filled_at or closed_at is in the future."


class ClosedBeforeFilled(InvalidRequest):
    """A close time before the trade's fill time."""

    code = "closed_before_filled"
    description = "closed_at is before the trade's fill time."


class InvalidCursor(BadRequest):
    """A ``cursor`` that is no trade id of this user (not one a page returned)."""

    code = "invalid_cursor"
    description = "cursor is not the next_cursor of a page of this user's trades."


class PageSizeTooLarge(InvalidRequest):
    """``limit`` above ``PAGE_SIZE_MAX``."""

    code = "page_size_too_large"
    description = "limit is above PAGE_SIZE_MAX."


class InvalidCloseQuantity(InvalidRequest):
    """A close's quantity is 0 or negative."""

    code = "invalid_close_quantity"
    description = "The quantity to close must be above 0."


class CloseQuantityExceedsOpen(InvalidRequest):
    """A close asks for more units than the position has open."""

    code = "close_quantity_exceeds_open"
    description = "The quantity to close is more than the position has open."


class TooManyExits(InvalidRequest):
    """A position has as many exits as it may have; only a close of all that is open is accepted."""

    code = "too_many_exits"
    description = "The position has 1000 exits already; close all that is open."


class StopLossWrongSide(InvalidRequest):
    """A stop on the winning side of the entry fill: a long's at or above it, a short's at
    or below it."""

    code = "stop_loss_wrong_side"
    description = "stop_loss must be below the entry fill of a long (BUY) and above that of a short (SELL)."


class TakeProfitWrongSide(InvalidRequest):
    """A target on the losing side of the entry fill: a long's at or below it, a short's at
    or above it."""

    code = "take_profit_wrong_side"
    description = "take_profit must be above the entry fill of a long (BUY) and below that of a short (SELL)."


class TrailingStopInvalid(InvalidRequest):
    """A trailing stop percent that is not > 0 and < 100."""

    code = "trailing_stop_invalid"
    description = "trailing_stop_percent must be a percent greater than 0 and less than 100."


class TradeClosed(StateConflict):
    """The trade is CLOSED (possibly by a concurrent close): its exits can no longer change."""

    code = "trade_closed"
    description = "The trade is closed; its stop and target can no longer change."


class ExecutionIdRequired(InvalidRequest):
    """A live fill without the broker's execution id."""

    code = "execution_id_required"
    description = "A live fill needs the broker's execution_id."


class NoOpenLivePosition(StateConflict):
    """A live close found no OPEN live trade of that strategy and symbol."""

    code = "no_open_live_position"
    description = "There is no open live position of that strategy and symbol to close."


class CloseTargetRequired(InvalidRequest):
    """A close names neither a trade (``shadow_id``) nor a live position (``source: live``,
    ``strategy_id``, ``symbol``)."""

    code = "close_target_required"
    description = "Give shadow_id, or source \"live\" with strategy_id and symbol."


class SignalMismatch(InvalidRequest):
    """A fill for a signal whose earlier fills are of another side or symbol."""

    code = "signal_mismatch"
    description = "The signal's earlier fills are of another side or symbol."


class CloseSourceMismatch(InvalidRequest):
    """A close with ``source: live`` of a trade that is not a live trade."""

    code = "close_source_mismatch"
    description = "A live close closes live trades only; this trade is a paper or backtest trade."


class TooManySignalFills(InvalidRequest):
    """A fill for a signal that already has the most fills one signal document holds."""

    code = "too_many_signal_fills"
    description = "The signal already has the most fills one signal holds; send further fills with another signal_id."

