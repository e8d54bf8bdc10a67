"""Trade use cases: execute (shadow fill or paper order), close with realized P&L, read,
list. They raise only domain errors (``errors.py`` here and in ``core``/``quotes``)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import uuid
from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from ..config import Settings
from ..core.money import (
    MONEY_CONTEXT,
    ZERO,
    localcontext,
    quantize_quantity,
    pro_rata_share,
    quantize_usd,
    to_plain_str,
    usd_from_cents,
)
from ..core.aggregates import ClosedTrade
from ..core.costs import CostModel, Fill, fill_with_costs
from ..core.pnl import NetPnl, OpenPosition, average_price, compute_trade_pnl, exit_fill_price, exit_side
from ..core.errors import ServiceError
from ..core.shortfall import decision_price_of
from ..core.exits import evaluate, stop_on_right_side, target_on_right_side, trailing_percent_valid
from ..performance.repository import AggregateRepository
from ..quotes.service import checked_quote, entry_price_from, exit_price_from
from ..users.models import UserSettings
from ..users.service import settings_of
from .errors import (
    BacktestFillRequired,
    CloseSourceMismatch,
    CloseQuantityExceedsOpen,
    InvalidCloseQuantity,
    InvalidCursor,
    ClosedBeforeFilled,
    ExecutionIdRequired,
    NoOpenLivePosition,
    SignalMismatch,
    TooManySignalFills,
    IdempotencyKeyReused,
    NotionalLimitExceeded,
    NotionalPrecision,
    NotionalTooSmall,
    OpenNotionalLimitExceeded,
    PriceNotAllowed,
    QuantityPrecision,
    QuantityOrNotionalRequired,
    QuantityTooSmall,
    StopLossWrongSide,
    TakeProfitWrongSide,
    TimeInFuture,
    TooManyExits,
    TradeBusy,
    TradeClosed,
    TradeNotFound,
    TrailingStopInvalid,
)
from .models import BACKTEST, LIVE, ExecuteCommand, ExitFill, PaperOrder, Trade
from .repository import ExecutionAlreadyRecorded, SignalRaced, TradeRepository

log = logging.getLogger(__name__)

#: How often a close re-reads and retries when another writer changed the trade meanwhile.
CLOSE_ATTEMPTS = 5
#: The most fills (shadow and live) one signal records: its document stays near 300 KB.
MAX_SIGNAL_FILLS = 2_000
#: The most open live positions one live close execution closes, first in, first out.
MAX_LIVE_CLOSE_POSITIONS = 100
#: How often an execute reads again when another fill of its signal wrote it meanwhile
#: (each round of concurrent fills of one signal lets one through), and the most it waits
#: before attempt ``k``: a random ``0 .. k x EXECUTE_BACKOFF_SECONDS``.
EXECUTE_ATTEMPTS = 12
EXECUTE_BACKOFF_SECONDS = 0.01
#: Most exits one position may have (its document stays far below 1 MiB: about 0.5 KB an exit).
MAX_EXITS = 1000
#: How far in the future a backtest fill or close time may be (clock skew), seconds.
MAX_CLOCK_SKEW_SECONDS = 300


def client_priced(source: str, price: Decimal | None, moment: datetime | None, *,
                  what: str, commission: Decimal | None = None) -> tuple[Decimal, datetime] | None:
    """The client's fill price and time for a backtest or live trade; None for a paper trade.

    Args:
        what: ``"fill"`` or ``"exit"`` (names the time field in messages).
        commission: the fill's own commission (USD), when the client sent one.

    Raises:
        PriceNotAllowed: a paper trade fills at the live quote, at server time.
        BacktestFillRequired: a backtest needs both.
        TimeInFuture: more than :data:`MAX_CLOCK_SKEW_SECONDS` ahead.
    """
    time_field = "filled_at" if what == "fill" else "closed_at"
    if source not in (BACKTEST, LIVE):
        if price is not None or moment is not None:
            raise PriceNotAllowed(
                f"A paper trade fills at the live quote at server time; price and {time_field} "
                "are only accepted for backtest trades.")
        if commission is not None:
            raise PriceNotAllowed("A paper trade pays the commission of its strategy's cost model; commission is "
                                  "only accepted for backtest fills.")
        return None
    if price is None or moment is None:
        if source == LIVE:
            raise BacktestFillRequired(f"A live fill needs the broker's {what} price and {time_field}.")
        raise BacktestFillRequired(f"A backtest trade needs the {what} price and {time_field} of its bar.")
    moment = moment.astimezone(timezone.utc)
    if (moment - datetime.now(timezone.utc)).total_seconds() > MAX_CLOCK_SKEW_SECONDS:
        raise TimeInFuture(f"{time_field} is in the future.")
    return price, moment


def idempotent_id(uid: str, key: str) -> str:
    """Document id derived from a user's idempotency key (the key scoped to the user)."""
    return "k" + hashlib.sha256(f"{uid}\x00{key}".encode()).hexdigest()[:39]


def check_trailing(percent: Decimal | None) -> None:
    """Check a trailing stop percent (None: no trailing stop).

    Raises:
        TrailingStopInvalid: not > 0 and < 100.
    """
    if percent is not None and not trailing_percent_valid(percent):
        raise TrailingStopInvalid(f"trailing_stop_percent {to_plain_str(percent)} must be greater than 0 and less "
                                  "than 100.")


def check_exit_sides(side: str, entry: Decimal, *, stop_loss: Decimal | None, take_profit: Decimal | None) -> None:
    """Check a stop and a target (USD per unit, None: not set) against the entry fill.

    Raises:
        StopLossWrongSide: a long's stop at or above the entry, a short's at or below it.
        TakeProfitWrongSide: a long's target at or below the entry, a short's at or above it.
    """
    long = side == "BUY"
    if stop_loss is not None and not stop_on_right_side(side, entry, stop_loss):
        raise StopLossWrongSide(f"stop_loss {to_plain_str(stop_loss)} must be {'below' if long else 'above'} the entry "
                                f"fill {to_plain_str(entry)} of a {'long (BUY)' if long else 'short (SELL)'}.")
    if take_profit is not None and not target_on_right_side(side, entry, take_profit):
        raise TakeProfitWrongSide(f"take_profit {to_plain_str(take_profit)} must be {'above' if long else 'below'} the "
                                  f"entry fill {to_plain_str(entry)} of a {'long (BUY)' if long else 'short (SELL)'}.")


#: The exits ``update_exits`` changes (the body fields of ``PATCH /trades/shadow/{id}``).
EXIT_FIELDS = ("stop_loss", "take_profit", "trailing_stop_percent")


def _same_request(stored_hash: str | None, request_hash: str) -> None:
    if stored_hash != request_hash:
        raise IdempotencyKeyReused("This idempotency key was already used with a different request.")


def close_fingerprint(price: Decimal | None, closed_at: datetime | None, commission: Decimal | None,
                      quantity: Decimal | None) -> str:
    """SHA-256 of what a live close execution says (price, time, commission, quantity): a
    re-sent execution id with another content is refused."""
    parts = [to_plain_str(price) if price is not None else "", closed_at.isoformat() if closed_at else "",
             to_plain_str(commission) if commission is not None else "",
             to_plain_str(quantity.normalize()) if quantity is not None else ""]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def check_close_quantity(quantity: Decimal | None) -> None:
    """Refuse a close quantity that no position could take.

    Raises:
        InvalidCloseQuantity: 0 or less. QuantityPrecision: more than 6 decimals.
    """
    if quantity is None:
        return
    if quantity <= 0:
        raise InvalidCloseQuantity(f"quantity must be above 0 to close part of a position, got {to_plain_str(quantity)}.")
    if decimals(quantity) > 6:
        raise QuantityPrecision(f"The quantity {to_plain_str(quantity)} has more than 6 decimals; the service keeps "
                                "quantities to 0.000001 units.")


def decimals(value: Decimal) -> int:
    """Decimal places of a value, trailing zeros ignored (``1.0000000`` has 0)."""
    return max(0, -value.normalize().as_tuple().exponent)


def closing_quantity(trade: Trade, quantity: Decimal | None) -> Decimal:
    """The units a close takes from ``trade``: ``quantity``, or all that is open.

    Raises:
        InvalidCloseQuantity: 0 or less. QuantityPrecision: more than 6 decimals.
        CloseQuantityExceedsOpen: more than is open. TooManyExits: a partial close past
            :data:`MAX_EXITS` exits (the last one must close the rest).
    """
    if quantity is None:
        return trade.remaining
    check_close_quantity(quantity)
    if quantity > trade.remaining:
        raise CloseQuantityExceedsOpen(f"Only {to_plain_str(trade.remaining)} {trade.symbol} are open; cannot close "
                                       f"{to_plain_str(quantity)}.")
    if quantity < trade.remaining and len(trade.exits) >= MAX_EXITS - 1:
        raise TooManyExits(f"This position has {len(trade.exits)} exits already; close all that is open.")
    return quantize_quantity(quantity)


def realize(trade: Trade, exit_fill: Fill, *, exit_reason: str, closed_at: datetime, agg_gen: int,
            idempotency_key: str | None = None, signal_id: str | None = None) -> tuple[Trade, ClosedTrade]:
    """The trade after ``exit_fill`` (of ``exit_fill.quantity`` units, at most what is open)
    and the realization it adds to the aggregates. Pure.

    The part's entry commission, entry slippage and notional are the entry's pro rata to
    the quantity closed so far, to the cent (half up), minus what earlier parts took: the
    parts never take more than the entry's, and the part that closes what remains takes
    exactly what is left. The part's gross P&L is
    :func:`~..core.pnl.compute_trade_pnl` of its quantity at its fill price; its net P&L is
    gross minus its exit commission and its share of the entry commission. The exit that
    closes the position CLOSEs the trade with the sums of its exits (the net percent on
    the entry notional; the exit price the quantity-weighted average) and counts the
    position once, by its total net P&L; a partial exit leaves it OPEN, the rest marked at
    the same exit base price.
    """
    part = exit_fill.quantity
    final = part == trade.remaining
    k = len(trade.exits) + 1
    realization_id = trade.shadow_id if final and k == 1 else f"{trade.shadow_id}~{k}"
    # cumulative pro rata: the parts never take more than the whole
    before = trade.quantity - trade.remaining
    fee, slip, notional = (pro_rata_share(whole, before, part, trade.quantity)
                           for whole in (trade.entry_fee, trade.entry_slippage or ZERO, trade.notional))
    gross, _ = compute_trade_pnl(entry_price=trade.entry_price, current_price=exit_fill.price, quantity=part,
                                 side=trade.side)
    with localcontext(MONEY_CONTEXT):
        net = gross - exit_fill.commission - fee
    exit_ = ExitFill(realization_id=realization_id, quantity=part, price=exit_fill.price,
                     base_price=exit_fill.base_price, commission=exit_fill.commission, slippage=exit_fill.slippage,
                     entry_commission=fee, entry_slippage=slip, notional=notional, gross_pnl=gross, realized_pnl=net,
                     closed_at=closed_at, exit_reason=exit_reason, agg_gen=agg_gen, idempotency_key=idempotency_key,
                     signal_id=signal_id)
    position_pnl = None
    if final:
        exits = trade.exits + (exit_,)
        with localcontext(MONEY_CONTEXT):
            total_gross = sum((e.gross_pnl for e in exits), ZERO)
            total_net = sum((e.realized_pnl for e in exits), ZERO)
        _, exit_price = average_price((e.price, e.quantity) for e in exits)
        _, exit_base = average_price((e.base_price, e.quantity) for e in exits)
        result = NetPnl.of(total_gross, total_gross - total_net, entry_price=trade.entry_price,
                           quantity=trade.quantity)
        after = trade.closed(exits=exits, result=result, exit_price=exit_price, exit_base_price=exit_base,
                             agg_gen=agg_gen)
        position_pnl = total_net if k > 1 else None
    else:
        rest = OpenPosition(trade.symbol, trade.side, trade.entry_price, trade.remaining - part, costs=trade.costs,
                            entry_commission=trade.unallocated("entry_commission") - fee)
        mark_price, mark = rest.mark(exit_fill.base_price)
        after = trade.partially_closed(exit_=exit_, current_price=mark_price, mark=mark)
    with localcontext(MONEY_CONTEXT):
        cost, slippage = exit_fill.commission + fee, exit_fill.slippage + slip
    realization = ClosedTrade(pnl=net, closed_at=closed_at, opened_at=trade.created_at, symbol=trade.symbol,
                              strategy_id=trade.strategy_id, source=trade.source, risk=trade.risk_amount,
                              trade_id=realization_id, commission=cost, slippage=slippage, final=final,
                              position_pnl=position_pnl)
    return after, realization


class TradeService:
    """Executing and closing trades.

    Args:
        trades: the trades repository (which also reads the quote, the shadow-mode flag and
            the user's settings a fill or close needs, in one round trip);
        aggregates: the aggregates repository (the documents a close adds to);
        settings: the service settings (``MAX_QUOTE_AGE_SECONDS``).
    """

    def __init__(self, trades: TradeRepository, aggregates: AggregateRepository, settings: Settings) -> None:
        self.trades = trades
        self.aggregates = aggregates
        self.settings = settings

    async def execute(self, uid: str, cmd: ExecuteCommand) -> Trade | PaperOrder:
        """Fill a trade at the live quote (shadow) or record a paper order (shadow mode off).

        A backtest trade fills at its bar's ``price`` and ``filled_at`` and is never an
        order, whatever the mode. With an idempotency key, a retry returns the original
        trade instead of filling twice. Shadow mode comes from
        ``systemStatus/config.is_shadow_mode``, fail-safe: missing or not a bool means
        shadow. Two storage round trips: the quote, the flag, a retried trade and the
        signal together; then the create. The answer is built from what was written. A fill
        with a ``signal_id`` writes its signal under a precondition (with the change of the
        shortfall counters); when another fill of that signal wrote it in between, nothing
        was written and the execute reads again, up to :data:`EXECUTE_ATTEMPTS` times.

        Returns:
            The stored trade (or paper order).

        Raises:
            QuantityOrNotionalRequired, QuantityTooSmall, QuantityPrecision,
            StopLossWrongSide, TakeProfitWrongSide, TrailingStopInvalid (checked against the
            entry fill: a long's stop below it and target above it, a short's the mirror),
            NotionalPrecision, NotionalTooSmall, NotionalLimitExceeded, OpenNotionalLimitExceeded,
            NoQuoteToFill, QuoteStale,
            QuoteInvalid, IdempotencyKeyReused, PriceNotAllowed, BacktestFillRequired,
            TimeInFuture; nothing is written in those cases. TradeBusy: a concurrent
            retry is still creating the trade, or other fills of its signal kept writing it.
        """
        if cmd.quantity is None and cmd.notional is None:
            raise QuantityOrNotionalRequired("Give a quantity or a notional (USD) for the trade.")
        client_fill = client_priced(cmd.source, cmd.price, cmd.filled_at, what="fill", commission=cmd.commission)
        check_trailing(cmd.trailing_stop_percent)
        live = cmd.source == LIVE
        key = cmd.idempotency_key
        if live:  # the broker's execution id is the natural key of a live fill
            execution_id = cmd.client.get("execution_id")
            if not execution_id:
                raise ExecutionIdRequired("A live fill needs the broker's execution_id (it makes re-sends idempotent).")
            key = f"live-execution\x00{execution_id}"  # whatever idempotency key came with it
        trade_id = idempotent_id(uid, key) if key else uuid.uuid4().hex
        if cmd.quantity is not None and decimals(cmd.quantity) > 6:
            raise QuantityPrecision(f"The quantity {to_plain_str(cmd.quantity)} has more than 6 decimals; the service keeps "
                                    "quantities to 0.000001 units.")
        if cmd.notional is not None and cmd.quantity is None and decimals(cmd.notional) > 2:
            raise NotionalPrecision(f"The notional {to_plain_str(cmd.notional)} USD has more than 2 decimals; USD amounts are "
                                    "kept to the cent.")
        for attempt in range(EXECUTE_ATTEMPTS):
            if attempt:  # spread the concurrent fills of one signal apart
                await asyncio.sleep(random.uniform(0, attempt * EXECUTE_BACKOFF_SECONDS))
            stored = await self._execute_once(uid, cmd, trade_id=trade_id, key=key, live=live, client_fill=client_fill)
            if stored is not None:
                return stored
        raise TradeBusy(f"Signal {cmd.client.get('signal_id')} of strategy {cmd.strategy_id} kept changing while "
                        "this fill was recorded; retry.", headers={"Retry-After": "1"})

    async def _execute_once(self, uid: str, cmd: ExecuteCommand, *, trade_id: str, key: str | None, live: bool,
                            client_fill: tuple[Decimal, datetime] | None) -> Trade | PaperOrder | None:
        """One attempt of :meth:`execute` after its argument checks: the reads, then the
        create. None when another fill of the same signal wrote it between the two (nothing
        written: try again)."""
        quote, flag, existing, fields, open_cents, costs, signal = await self.trades.read_for_execute(
            uid, symbol=None if client_fill else cmd.symbol, trade_id=trade_id if key else None,
            strategy_id=cmd.strategy_id, signal_id=cmd.client.get("signal_id"))
        if live:  # the broker's price is the fill: no modelled slippage, the broker's commission
            costs = CostModel()
        # a backtest is a replay of history: it never reaches a broker, whatever the mode
        shadow = True if client_fill or flag is None else flag
        if existing is not None:  # a retry must not need a fresh quote to get its answer back
            _same_request(existing.request_hash, cmd.request_hash)
            return existing
        if signal is not None and (signal.doc.get("side"), signal.doc.get("symbol")) != (cmd.side, cmd.symbol):
            raise SignalMismatch(f"Signal {cmd.client['signal_id']} of strategy {cmd.strategy_id} is a "
                                 f"{signal.doc.get('side')} of {signal.doc.get('symbol')}; this fill is a {cmd.side} of "
                                 f"{cmd.symbol}.")
        if signal is not None and sum(len(signal.doc.get(k) or {}) for k in ("shadow", "live")) >= MAX_SIGNAL_FILLS:
            raise TooManySignalFills(f"Signal {cmd.client['signal_id']} of strategy {cmd.strategy_id} has "
                                     f"{MAX_SIGNAL_FILLS} fills already, the most one signal holds; send further "
                                     "fills with another signal_id.")

        if client_fill:
            base, filled_at = client_fill
        else:
            quote = checked_quote(quote, cmd.symbol, max_age_seconds=self.settings.MAX_QUOTE_AGE_SECONDS)
            base, filled_at = entry_price_from(quote, cmd.side), None
        entry = costs.fill_price(cmd.side, base)  # slippage against the trader, on top of bid/ask
        check_exit_sides(cmd.side, entry, stop_loss=cmd.stop_loss, take_profit=cmd.take_profit)
        with localcontext(MONEY_CONTEXT):
            quantity = quantize_quantity(cmd.quantity if cmd.quantity is not None else cmd.notional / entry)
            if quantity <= 0:
                raise QuantityTooSmall(f"A notional of {cmd.notional} USD buys less than 0.000001 {cmd.symbol} "
                                       f"at {entry}.")
            notional = quantize_usd(quantity * entry)
            if notional <= 0:
                raise NotionalTooSmall(f"{quantity} {cmd.symbol} at {entry} is worth less than 0.01 USD.")
            limits = settings_of(fields)
            limit = limits.max_trade_notional or Decimal(self.settings.MAX_TRADE_NOTIONAL_USD)
            if notional > limit and not live:  # a live fill happened: it is recorded, never refused
                raise NotionalLimitExceeded(f"{quantity} {cmd.symbol} at {entry} is {notional} USD, above the "
                                            f"maximum of {limit} USD per trade.")
            open_limit = limits.max_open_notional or Decimal(self.settings.MAX_OPEN_NOTIONAL_USD)
            open_now = usd_from_cents(open_cents)
            if shadow and not live and open_now + notional > open_limit:
                raise OpenNotionalLimitExceeded(
                    f"{notional} USD more would take your open positions to {open_now + notional} USD, above the "
                    f"maximum of {open_limit} USD; close some first.")
            if cmd.risk_amount is not None:
                risk = quantize_usd(cmd.risk_amount)
            elif cmd.stop_loss is not None:
                risk = quantize_usd(abs(entry - cmd.stop_loss) * quantity)
            else:
                risk = None
        fill = fill_with_costs(costs, cmd.side, base_price=base, quantity=quantity, commission=cmd.commission)
        now = datetime.now(timezone.utc)
        if not shadow:
            order = PaperOrder(order_id=trade_id, uid=uid, symbol=cmd.symbol, side=cmd.side, quantity=quantity,
                               notional=notional, entry_price=entry, strategy_id=cmd.strategy_id, source=cmd.source,
                               created_at=now, created_at_iso=now.isoformat(), request_hash=cmd.request_hash,
                               idempotency_key=cmd.idempotency_key, stop_loss=cmd.stop_loss, risk_amount=risk,
                               take_profit=cmd.take_profit, trailing_stop_percent=cmd.trailing_stop_percent,
                               client=cmd.client)
            stored = await self.trades.create_paper_order(order)
            if stored is None:
                stored = await self.trades.get_paper_order(trade_id)
                if stored is None:
                    raise TradeBusy("The order is being created; retry.")
                _same_request(stored.request_hash, cmd.request_hash)
            return stored

        exit_now = exit_price_from(quote, cmd.side) if quote else base  # the exit side at the fill
        trade = Trade(
            shadow_id=trade_id, uid=uid, symbol=cmd.symbol, side=cmd.side, quantity=quantity, notional=notional,
            entry_price=entry, strategy_id=cmd.strategy_id, source=cmd.source,
            created_at=filled_at or now, created_at_iso=(filled_at or now).isoformat(), current_price=entry,
            # the specification writes 0.00 at the fill; with costs, minus the entry commission
            # paid. The first mark, and every metrics read (marked at the live quote), then show
            # what closing would realize, net of both commissions.
            current_pnl=-fill.commission, received_at=now if filled_at else None,
            cost_model=costs, entry_base_price=base,
            decision_price=None if live else (decision_price_of(bid=quote.bid, ask=quote.ask, price=quote.price)
                                              if quote else base),
            decided_at=None if live else (filled_at or now), entry_commission=fill.commission, entry_slippage=fill.slippage,
            request_hash=cmd.request_hash, idempotency_key=cmd.idempotency_key, stop_loss=cmd.stop_loss,
            risk_amount=risk, quote_bid=quote.bid if quote else None, quote_ask=quote.ask if quote else None,
            client=cmd.client,
        ).with_exits(stop_loss=cmd.stop_loss, take_profit=cmd.take_profit,
                     trailing_stop_percent=cmd.trailing_stop_percent,
                     # the best exit price since the fill starts at the fill quote's exit side
                     water_mark=exit_now)
        user = settings_of(fields)
        try:
            stored = await self.trades.create(trade, live=user.aggregates, signal=signal, rebuild=user.rebuild,
                                              min_shards=user.min_shards)
        except SignalRaced:  # another fill of the signal wrote it since the read: read again
            return None
        if stored is None:  # a concurrent retry won the create
            stored = await self.trades.get(uid, trade_id)
            if stored is None:
                raise TradeBusy("The trade is being created; retry.")
            _same_request(stored.request_hash, cmd.request_hash)
        return stored

    async def get(self, uid: str, shadow_id: str) -> Trade:
        """One of the caller's trades.

        Raises:
            TradeNotFound: also for another user's trade id.
        """
        trade = await self.trades.get(uid, shadow_id)
        if trade is None:
            raise TradeNotFound(f"No shadow trade {shadow_id} for this user.")
        return trade

    async def list(self, uid: str, *, status: str | None, limit: int, after_id: str | None) -> list[Trade]:
        """A page of the caller's trades, newest first.

        Raises:
            InvalidCursor: ``after_id`` is no trade of this user.
        """
        page = await self.trades.list(uid, status=status, limit=limit, after_id=after_id)
        if page is None:
            raise InvalidCursor("cursor is not the next_cursor of a page of your trades; start without one.")
        return page

    async def close(self, uid: str, shadow_id: str, *, exit_reason: str, price: Decimal | None = None,
                    closed_at: datetime | None = None, commission: Decimal | None = None,
                    quantity: Decimal | None = None, idempotency_key: str | None = None,
                    trigger_price: Decimal | None = None, execution_id: str | None = None,
                    signal_id: str | None = None, source: str | None = None) -> Trade:
        """Close an OPEN trade, or ``quantity`` units of it, and realize that P&L.

        A partial close (``quantity`` below the open quantity) realizes that part on its
        own (its exit commission, and the entry commission pro rata) and leaves the rest
        OPEN; the trade keeps its exit fills (:func:`realize`).

        A paper trade exits at the opposite side of the live quote, at server time; a
        backtest trade at the client's ``price`` and ``closed_at`` (its bar). The exit fill
        pays slippage and commission by the cost model copied onto the trade at entry (a
        backtest may send its own ``commission``, USD). Realized P&L is recomputed from
        ``entry_price``, ``quantity``, ``side``, the exit fill price and both commissions
        with :func:`~..core.pnl.net_pnl` (net = gross - commission), never read from
        ``current_pnl``. The write
        is an update under a ``last_update_time`` precondition, in one batch with the
        aggregates: of any number of concurrent closes exactly one writes; the others
        re-read and return the stored result. Three storage round trips: the trade; its
        quote and the user's settings together; the commit. The answer is built from what
        was written.

        Args:
            price, closed_at, commission: backtest trades only (USD per unit; timezone-aware;
                USD).
            quantity: units to close (None: all that is open).
            idempotency_key: a retried partial close with the same key returns the trade
                instead of closing another part.
            signal_id: the exit signal this close executes (recorded on its exit fill).
            execution_id: a live close's broker execution id (recorded so that a re-sent
                close finds the trade it closed: :meth:`close_live`).
            source: ``"live"`` for a live close by ``shadow_id``: the trade must be a live one.
            trigger_price: an exit the service triggers: the exit-side quote price (USD per
                unit) that reached the trade's stop, target or trailing stop. Each attempt
                re-evaluates the rule (``core/exits.evaluate``) on the trade as just read, so
                an exit moved or removed meanwhile does not fire (the trade is returned
                OPEN); the rule's price is the base exit price and its reason the
                ``exit_reason``. The live quote must still be there and fresh. Slippage and
                commission apply on top as for any fill.

        Returns:
            The trade as written: CLOSED, or OPEN with one more exit (the stored one when it
            was closed already).

        Raises:
            InvalidCloseQuantity, QuantityPrecision, CloseQuantityExceedsOpen, TooManyExits,
            CloseSourceMismatch (nothing written); TradeNotFound; NoQuoteToFill, QuoteStale, QuoteInvalid, PriceNotAllowed,
            BacktestFillRequired, TimeInFuture, ClosedBeforeFilled (the trade stays OPEN);
            TradeBusy when other writers kept changing the trade through every attempt;
            StorageRejected when Firestore refused the batch for good (never retried).
        """
        check_close_quantity(quantity)
        for _ in range(CLOSE_ATTEMPTS):
            trade = await self.get(uid, shadow_id)
            if source is not None and trade.source != source:
                raise CloseSourceMismatch(f"Trade {shadow_id} is a {trade.source} trade; a {source} close closes "
                                          f"{source} trades only.")
            done = [e for e in trade.exits if idempotency_key and e.idempotency_key == idempotency_key]
            if done and quantity is not None and done[0].quantity != quantize_quantity(quantity):
                raise IdempotencyKeyReused("This idempotency key already closed another quantity of this trade.")
            if not trade.is_open or done:
                return trade
            trigger = None
            if trigger_price is not None:
                trigger = evaluate(trade.exit_plan(), trigger_price).exit
                if trigger is None:  # its exits changed since the quote was checked: nothing fires
                    return trade
                exit_reason = trigger.reason
            part = closing_quantity(trade, quantity)
            client_exit = client_priced(trade.source, price, closed_at, what="exit", commission=commission)
            quote, fields = await self.trades.read_for_close(uid, symbol=None if client_exit else trade.symbol)
            if client_exit:
                exit_base, now = client_exit
                if trade.created_at is not None and now < trade.created_at:
                    raise ClosedBeforeFilled("closed_at is before the trade's fill time.")
            else:
                quote = checked_quote(quote, trade.symbol, max_age_seconds=self.settings.MAX_QUOTE_AGE_SECONDS)
                exit_base = trigger.price if trigger is not None else exit_price_from(quote, trade.side)
                # the stored close time is the one the aggregates use (not a server timestamp)
                now = datetime.now(timezone.utc)
            after, writes = self._staged_close(trade, part, exit_base=exit_base, closed_at=now, commission=commission,
                                               settings=settings_of(fields), exit_reason=exit_reason,
                                               idempotency_key=idempotency_key, signal_id=signal_id)
            execution = None
            fingerprint = close_fingerprint(price, closed_at, commission, quantity)
            if execution_id:  # created in the batch: a concurrent re-send of the execution fails whole
                execution = (execution_id, {"trade_id": shadow_id, "trade_ids": [shadow_id], "closed_at": now,
                                            "request_hash": fingerprint})
            try:
                stored = await self.trades.close(after, writes=writes, freed_notional=after.exits[-1].notional,
                                                 execution=execution)
            except ExecutionAlreadyRecorded:  # this execution closed a position already: its answer
                return await self._recorded_execution(uid, str(execution_id), fingerprint)
            if stored is not None:
                return stored
        raise TradeBusy(f"Shadow trade {shadow_id} kept changing while closing; retry.", headers={"Retry-After": "1"})

    async def _exit_side_now(self, trade: Trade) -> Decimal:
        """Where a trailing stop added to an open trade starts: the exit side of the live
        quote (a long's bid, a short's ask) when it is fresh, else that of the quote at the
        fill, else the entry fill price (USD per unit)."""
        quote, _ = await self.trades.read_for_close(trade.uid, symbol=trade.symbol)
        if quote is not None:
            try:
                return exit_price_from(checked_quote(quote, trade.symbol,
                                                     max_age_seconds=self.settings.MAX_QUOTE_AGE_SECONDS), trade.side)
            except ServiceError:  # stale or unusable: the fill's quote is the better reference
                pass
        at_fill = exit_fill_price(trade.side, bid=trade.quote_bid, ask=trade.quote_ask, price=None)
        return at_fill if at_fill is not None else trade.entry_price

    def _staged_close(self, trade: Trade, part: Decimal, *, exit_base: Decimal, closed_at: datetime,
                      commission: Decimal | None, settings: UserSettings, exit_reason: str,
                      idempotency_key: str | None, signal_id: str | None) -> tuple[Trade, list[Any]]:
        """The close of ``part`` units of ``trade`` at ``exit_base`` (USD per unit, before the
        trade's slippage) as written: the trade after it and the aggregate writes of its
        realization into every generation the settings write (pure, no I/O)."""
        generations = settings.writing()
        exit_fill = fill_with_costs(trade.costs, exit_side(trade.side), base_price=exit_base, quantity=part,
                                    commission=commission)
        after, realization = realize(trade, exit_fill, exit_reason=exit_reason, closed_at=closed_at,
                                     agg_gen=generations[-1].number, idempotency_key=idempotency_key,
                                     signal_id=signal_id)
        after = replace(after, last_updated=datetime.now(timezone.utc))
        facts = [(g.number, realization.facts(g.timezone)) for g in generations]
        return after, self.aggregates.writes_for_close(trade.uid, facts, min_shards=settings.min_shards)

    async def close_live(self, uid: str, *, strategy_id: str, symbol: str, price: Decimal | None,
                         closed_at: datetime | None, commission: Decimal | None, quantity: Decimal | None,
                         execution_id: str | None, exit_reason: str, signal_id: str | None = None) -> Trade:
        """Record a live close execution at the broker's ``price``, ``closed_at`` and
        ``commission`` (USD): close ``quantity`` units of the OPEN live trades of
        ``strategy_id`` in ``symbol``, first in, first out (None: all of the oldest one).
        Within one position it goes through :meth:`close`; across several (a broker's
        execution that closes more than the oldest position holds), all of them in one
        atomic batch, the commission shared out by quantity (cumulatively, to the cent, so
        the parts add up to it). A re-sent execution (same ``execution_id``) returns the
        trade it closed last; nothing is closed twice.

        Returns:
            The last trade the execution closed (part of), as written.

        Raises:
            ExecutionIdRequired; NoOpenLivePosition; CloseQuantityExceedsOpen (more than the
            open live positions hold, or than :data:`MAX_LIVE_CLOSE_POSITIONS` of them);
            IdempotencyKeyReused (a re-send with other values); nothing written in those
            cases; the errors of :meth:`close`.
        """
        if not execution_id:
            raise ExecutionIdRequired("A live close needs the broker's execution_id (it makes re-sends idempotent).")
        check_close_quantity(quantity)
        fingerprint = close_fingerprint(price, closed_at, commission, quantity)
        for _ in range(CLOSE_ATTEMPTS):
            if await self.trades.live_execution(uid, execution_id) is not None:
                return await self._recorded_execution(uid, execution_id, fingerprint)
            positions = await self.trades.oldest_open_live(uid, strategy_id=strategy_id, symbol=symbol,
                                                           limit=MAX_LIVE_CLOSE_POSITIONS)
            if not positions:
                raise NoOpenLivePosition(f"No open live position of strategy {strategy_id} in {symbol} to close.")
            if quantity is not None and quantity > positions[0].remaining:
                closed = await self._close_live_positions(uid, positions, quantity=quantity, price=price,
                                                          closed_at=closed_at, commission=commission,
                                                          execution_id=execution_id, exit_reason=exit_reason,
                                                          signal_id=signal_id, fingerprint=fingerprint)
                if closed is not None:
                    return closed
                continue  # another writer changed one of them first: read again
            try:
                closed = await self.close(uid, positions[0].shadow_id, exit_reason=exit_reason, price=price,
                                          closed_at=closed_at, commission=commission, quantity=quantity,
                                          idempotency_key=execution_id, execution_id=execution_id,
                                          signal_id=signal_id)
            except CloseQuantityExceedsOpen:
                continue  # another execution took part of the oldest since it was read: read again
            if any(e.idempotency_key == execution_id for e in closed.exits):
                return closed
            # another execution closed this position first: the next oldest one is ours
        raise TradeBusy("Live positions kept changing while closing; retry.", headers={"Retry-After": "1"})

    async def _recorded_execution(self, uid: str, execution_id: str, fingerprint: str) -> Trade:
        """The answer to a live close execution already recorded: the (last) trade it closed.

        Raises:
            IdempotencyKeyReused: it was recorded with another price, time, commission or
                quantity. TradeBusy: its marker is not readable yet.
        """
        marker = await self.trades.live_execution(uid, execution_id)
        if marker is None:
            raise TradeBusy("This execution is being recorded; retry.", headers={"Retry-After": "1"})
        if marker.get("request_hash") not in (None, fingerprint):
            raise IdempotencyKeyReused("This execution_id already closed a position with another price, "
                                       "time, commission or quantity.")
        return await self.get(uid, marker["trade_id"])

    async def _close_live_positions(self, uid: str, positions: list[Trade], *, quantity: Decimal,
                                    price: Decimal | None, closed_at: datetime | None, commission: Decimal | None,
                                    execution_id: str, exit_reason: str, signal_id: str | None,
                                    fingerprint: str) -> Trade | None:
        """One live execution closing ``quantity`` units across ``positions`` (oldest first)
        in one batch; None when another writer changed one of them first (nothing written).

        Raises:
            CloseQuantityExceedsOpen, TooManyExits, ClosedBeforeFilled, PriceNotAllowed,
            BacktestFillRequired, TimeInFuture: nothing written.
        """
        exit_base, now = client_priced(LIVE, price, closed_at, what="exit", commission=commission) or (None, None)
        assert exit_base is not None and now is not None  # client_priced requires both for a live trade
        parts: list[tuple[Trade, Decimal]] = []
        left = quantity
        for trade in positions:
            if left <= 0:
                break
            take = min(left, trade.remaining)
            parts.append((trade, closing_quantity(trade, take)))
            left -= take
        if left > 0:
            open_units = sum((t.remaining for t in positions), Decimal(0))
            raise CloseQuantityExceedsOpen(
                f"Only {to_plain_str(open_units)} {positions[0].symbol} are open in the live positions of strategy "
                f"{positions[0].strategy_id} (the oldest {len(positions)} at most); cannot close "
                f"{to_plain_str(quantity)}.")
        if any(t.created_at is not None and now < t.created_at for t, _ in parts):
            raise ClosedBeforeFilled("closed_at is before the fill time of a position it closes.")
        _, fields = await self.trades.read_for_close(uid, symbol=None)
        settings = settings_of(fields)
        total = commission if commission is not None else Decimal(0)
        shares, done = [], Decimal(0)
        for _, part in parts:  # cumulative pro rata: the parts add up to the commission
            shares.append(pro_rata_share(total, done, part, quantity))
            done += part
        staged = [self._staged_close(t, part, exit_base=exit_base, closed_at=now, commission=share, settings=settings,
                                     exit_reason=exit_reason, idempotency_key=execution_id, signal_id=signal_id)
                  for (t, part), share in zip(parts, shares)]
        marker = {"trade_id": parts[-1][0].shadow_id, "trade_ids": [t.shadow_id for t, _ in parts],
                  "closed_at": now, "request_hash": fingerprint}
        try:
            written = await self.trades.close_many([(after, writes, after.exits[-1].notional)
                                                    for after, writes in staged], execution=(execution_id, marker))
        except ExecutionAlreadyRecorded:  # a concurrent re-send recorded it: its answer
            return await self._recorded_execution(uid, execution_id, fingerprint)
        return written[-1] if written else None

    async def update_exits(self, uid: str, shadow_id: str, changes: dict[str, Decimal | None]) -> Trade:
        """Move or remove the stop, target and trailing stop of an OPEN trade.

        Each value is checked like at execute, against the entry fill. A trailing stop
        added now starts its water mark at the trade's last mark (``current_price``); one
        that is kept keeps its water mark. The risk (R) stays the entry's. The write is an
        update under the trade's ``last_update_time`` precondition: a concurrent close
        wins (:class:`TradeClosed`); a concurrent mark or water-mark move re-reads and
        retries.

        Args:
            changes: a subset of :data:`EXIT_FIELDS`: a price (USD per unit) or a percent,
                or None to remove it; an absent field stays as it is.

        Returns:
            The trade as written (unchanged without changes).

        Raises:
            TradeNotFound (also another user's); TradeClosed; StopLossWrongSide,
            TakeProfitWrongSide, TrailingStopInvalid (nothing written); TradeBusy when it
            kept changing through every attempt.
        """
        check_trailing(changes.get("trailing_stop_percent"))
        for _ in range(CLOSE_ATTEMPTS):
            trade = await self.get(uid, shadow_id)
            if not trade.is_open:
                raise TradeClosed(f"Shadow trade {shadow_id} is closed; its stop and target can no longer change.")
            check_exit_sides(trade.side, trade.entry_price, stop_loss=changes.get("stop_loss"),
                             take_profit=changes.get("take_profit"))
            if not changes:
                return trade
            percent = changes.get("trailing_stop_percent", trade.trailing_stop_percent)
            water_mark = trade.water_mark
            if water_mark is None and percent is not None:
                water_mark = await self._exit_side_now(trade)
            updated = trade.with_exits(stop_loss=changes.get("stop_loss", trade.stop_loss),
                                       take_profit=changes.get("take_profit", trade.take_profit),
                                       trailing_stop_percent=percent, water_mark=water_mark)
            stored = await self.trades.update_exits(updated)
            if stored is not None:
                return stored
        raise TradeBusy(f"Shadow trade {shadow_id} kept changing; retry.", headers={"Retry-After": "1"})
