"""Trade use cases: execute (shadow fill or paper order), close with realized P&L, read, list.

Routers call these; they raise only :mod:`errors` classes (and storage errors, which the
API answers with 503).
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from .aggregates import facts_of
from .config import Settings
from .dashboard_service import load_user_settings
from .errors import InvalidRequest, ResourceNotFound, StateConflict
from .money import (
    MONEY_CONTEXT,
    localcontext,
    quantize_quantity,
    quantize_usd,
    to_decimal,
    to_plain_str,
)
from .quotes import entry_price_from, exit_price_from, usable_quote
from .repository import Store
from .schemas import ExecuteTradeRequest
from .shadow_metrics import compute_trade_pnl

log = logging.getLogger(__name__)

OPEN = "OPEN"
CLOSED = "CLOSED"
#: How often a close re-reads and retries when another writer changed the trade meanwhile.
CLOSE_ATTEMPTS = 5
#: How far in the future a backtest fill or close time may be (clock skew), seconds.
MAX_CLOCK_SKEW_SECONDS = 300
PAPER = "paper"
BACKTEST = "backtest"


def _client_priced(
    source: str, price: Decimal | None, moment: datetime | None, *, what: str
) -> tuple[Decimal, datetime] | None:
    """The client's fill price and time for a backtest trade; None for a paper trade.

    Raises:
        InvalidRequest: ``price_not_allowed`` (a paper trade fills at the live quote, at
            server time); ``backtest_fill_required`` (a backtest needs both);
            ``time_in_future``.
    """
    time_field = "filled_at" if what == "fill" else "closed_at"
    if source != BACKTEST:
        if price is not None or moment is not None:
            raise InvalidRequest(
                f"A paper trade fills at the live quote at server time; price and {time_field} "
                "are only accepted for backtest trades.",
                code="price_not_allowed",
            )
        return None
    if price is None or moment is None:
        raise InvalidRequest(
            f"A backtest trade needs the {what} price and {time_field} of its bar.",
            code="backtest_fill_required",
        )
    moment = moment.astimezone(timezone.utc)
    if (moment - datetime.now(timezone.utc)).total_seconds() > MAX_CLOCK_SKEW_SECONDS:
        raise InvalidRequest(f"{time_field} is in the future.", code="time_in_future")
    return price, moment

_OPTIONAL_FIELDS = (
    "broker_account_id",
    "instrument_type",
    "order_type",
    "time_in_force",
    "signal_id",
    "allocation_id",
    "correlation_id",
    "execution_id",
)


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def trade_view(doc: dict[str, Any]) -> dict[str, Any]:
    """API shape of a stored shadow trade: every stored field, timestamps as ISO strings.

    The server-only ``request_hash`` is left out; ``id`` and ``mode`` are added.
    """
    out = {k: _iso(v) for k, v in doc.items() if k != "request_hash"}
    out["id"] = doc["shadow_id"]
    out["mode"] = "shadow"
    return out


def paper_order_view(doc: dict[str, Any]) -> dict[str, Any]:
    """API shape of a paper order (shadow mode off)."""
    out = {k: _iso(v) for k, v in doc.items() if k != "request_hash"}
    out["id"] = doc["order_id"]
    out["mode"] = "paper"
    return out


def request_fingerprint(req: ExecuteTradeRequest) -> str:
    """SHA-256 of the request's canonical JSON, idempotency key left out."""
    payload = req.model_dump(mode="json", exclude={"idempotency_key"}, exclude_none=True)
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def idempotent_id(uid: str, key: str) -> str:
    """Document id derived from a user's idempotency key (the key scoped to the user)."""
    return "k" + hashlib.sha256(f"{uid}\x00{key}".encode()).hexdigest()[:39]


def _replay_or_conflict(doc: dict[str, Any], fingerprint: str) -> None:
    if doc.get("request_hash") != fingerprint:
        raise InvalidRequest(
            "This idempotency key was already used with a different request.",
            code="idempotency_key_reused",
        )


async def read_shadow_mode(store: Store) -> bool:
    """Shadow mode from ``systemStatus/config.is_shadow_mode``.

    Fail-safe: a missing document or field, a non-bool value or a failed read all mean
    shadow (no order leaves the service).
    """
    try:
        value = await store.read_shadow_mode()
    except (gexc.GoogleAPIError, TimeoutError) as exc:
        log.warning("shadow mode read failed, staying in shadow mode: %s", type(exc).__name__)
        return True
    return True if value is None else value


async def execute_trade(
    store: Store,
    settings: Settings,
    *,
    uid: str,
    req: ExecuteTradeRequest,
    idempotency_key: str | None,
) -> dict[str, Any]:
    """Fill a trade at the live quote (shadow) or record a paper order (shadow mode off).

    Args:
        uid: the caller (from the token).
        req: the validated request.
        idempotency_key: from the body or the ``Idempotency-Key`` header; with one, a retry
            returns the original trade instead of filling twice.

    Returns:
        The API view of the stored trade (or paper order).

    Raises:
        InvalidRequest: ``quantity_or_notional_required``, ``quantity_too_small``,
            ``quote_not_found``, ``quote_stale``, ``quote_invalid``,
            ``idempotency_key_reused``; nothing is written in those cases.
    """
    if req.quantity is None and req.notional is None:
        raise InvalidRequest(
            "Give a quantity or a notional (USD) for the trade.", code="quantity_or_notional_required"
        )
    fingerprint = request_fingerprint(req)
    client_fill = _client_priced(req.source, req.price, req.filled_at, what="fill")
    # a backtest is a replay of history: it never reaches a broker, whatever the mode
    shadow = True if client_fill else await read_shadow_mode(store)
    trade_id = idempotent_id(uid, idempotency_key) if idempotency_key else uuid.uuid4().hex

    if idempotency_key:  # a retry must not need a fresh quote to get its answer back
        existing = await _existing(store, uid, trade_id, shadow)
        if existing is not None:
            _replay_or_conflict(existing, fingerprint)
            return trade_view(existing) if shadow else paper_order_view(existing)

    quote = None
    if client_fill:
        entry, filled_at = client_fill
    else:
        quote = await usable_quote(store, req.symbol, max_age_seconds=settings.MAX_QUOTE_AGE_SECONDS)
        entry = entry_price_from(quote, req.side)
    with localcontext(MONEY_CONTEXT):
        quantity = quantize_quantity(req.quantity if req.quantity is not None else req.notional / entry)
        if quantity <= 0:
            raise InvalidRequest(
                f"A notional of {req.notional} USD buys less than 0.000001 {req.symbol}.",
                code="quantity_too_small",
            )
        notional = quantize_usd(quantity * entry)
        if req.risk_amount is not None:
            risk = quantize_usd(req.risk_amount)
        elif req.stop_loss is not None:
            risk = quantize_usd(abs(entry - req.stop_loss) * quantity)
        else:
            risk = None
    now = datetime.now(timezone.utc)
    common = {
        "uid": uid,
        "symbol": req.symbol,
        "side": req.side,
        "quantity": to_plain_str(quantity),
        "notional": to_plain_str(notional),
        "strategy_id": req.strategy_id,
        "source": req.source,
        "request_hash": fingerprint,
        **{f: getattr(req, f) for f in _OPTIONAL_FIELDS if getattr(req, f) is not None},
    }
    if idempotency_key:
        common["idempotency_key"] = idempotency_key
    if req.stop_loss is not None:
        common["stop_loss"] = to_plain_str(req.stop_loss)
    if risk is not None:
        common["risk_amount"] = to_plain_str(risk)

    if not shadow:
        return await _create_paper_order(store, trade_id, common, entry, now, fingerprint)

    doc = {
        **common,
        "shadow_id": trade_id,
        "entry_price": to_plain_str(entry),
        "status": OPEN,
        "created_at": firestore.SERVER_TIMESTAMP,
        "created_at_iso": now.isoformat(),
        "current_price": to_plain_str(entry),
        "current_pnl": "0.00",
        "pnl_percent": "0.00",
    }
    if quote is not None:
        doc["quote_bid"] = None if quote.bid is None else to_plain_str(quote.bid)
        doc["quote_ask"] = None if quote.ask is None else to_plain_str(quote.ask)
    else:  # backtest: the bar's time is the fill time; the server time is kept beside it
        doc["created_at"], doc["created_at_iso"] = filled_at, filled_at.isoformat()
        doc["received_at"] = firestore.SERVER_TIMESTAMP
    if not await store.create_trade(uid, trade_id, doc):
        existing = await store.get_trade(uid, trade_id)  # a concurrent retry won the create
        if existing is None:
            raise StateConflict("The trade is being created; retry.", code="trade_busy")
        stored = existing.to_dict() or {}
        _replay_or_conflict(stored, fingerprint)
        return trade_view(stored)
    snap = await store.get_trade(uid, trade_id)
    return trade_view(snap.to_dict() if snap else doc)


async def _existing(store: Store, uid: str, trade_id: str, shadow: bool) -> dict[str, Any] | None:
    if shadow:
        snap = await store.get_trade(uid, trade_id)
        return None if snap is None else snap.to_dict()
    return await store.get_paper_order(trade_id)


async def _create_paper_order(
    store: Store,
    order_id: str,
    common: dict[str, Any],
    reference_price: Decimal,
    now: datetime,
    fingerprint: str,
) -> dict[str, Any]:
    doc = {
        **common,
        "order_id": order_id,
        "status": "SUBMITTED",
        "entry_price": to_plain_str(reference_price),
        "current_pnl": "0.00",
        "pnl_percent": "0.00",
        "created_at": firestore.SERVER_TIMESTAMP,
        "created_at_iso": now.isoformat(),
    }
    if not await store.create_paper_order(order_id, doc):
        existing = await store.get_paper_order(order_id)
        if existing is None:
            raise StateConflict("The order is being created; retry.", code="trade_busy")
        _replay_or_conflict(existing, fingerprint)
        return paper_order_view(existing)
    stored = await store.get_paper_order(order_id)
    return paper_order_view(stored or doc)


async def get_trade(store: Store, *, uid: str, shadow_id: str) -> dict[str, Any]:
    """One of the caller's trades.

    Raises:
        ResourceNotFound: ``trade_not_found`` (also for another user's trade id).
    """
    snap = await store.get_trade(uid, shadow_id)
    if snap is None:
        raise ResourceNotFound(f"No shadow trade {shadow_id} for this user.", code="trade_not_found")
    return trade_view(snap.to_dict() or {})


async def close_shadow_trade(
    store: Store,
    settings: Settings,
    *,
    uid: str,
    shadow_id: str,
    exit_reason: str,
    price: Decimal | None = None,
    closed_at: datetime | None = None,
) -> dict[str, Any]:
    """Close an OPEN trade and realize its P&L.

    A paper trade exits at the opposite side of the live quote, at server time; a
    backtest trade at the client's ``price`` and ``closed_at`` (its bar). Realized P&L is
    recomputed from ``entry_price``, ``quantity``, ``side`` and the exit price with
    :func:`compute_trade_pnl`, never read from ``current_pnl``. The write is an update
    under a ``last_update_time`` precondition, in one batch with the aggregates (see
    :meth:`Store.close_trade_and_count`): of any number of concurrent closes exactly one
    writes; the others re-read and return the stored result.

    Args:
        price, closed_at: backtest trades only (USD per unit; timezone-aware).

    Returns:
        The API view of the CLOSED trade (the stored one when it was closed already).

    Raises:
        ResourceNotFound: ``trade_not_found``.
        InvalidRequest: ``quote_not_found``, ``quote_stale``, ``quote_invalid``,
            ``price_not_allowed``, ``backtest_fill_required``, ``time_in_future``,
            ``closed_before_filled`` (the trade stays OPEN).
        StateConflict: ``trade_busy`` when other writers kept changing the trade through
            every attempt (retryable).
    """
    user_settings = None
    for _ in range(CLOSE_ATTEMPTS):
        snap = await store.get_trade(uid, shadow_id)
        if snap is None:
            raise ResourceNotFound(f"No shadow trade {shadow_id} for this user.", code="trade_not_found")
        trade = snap.to_dict() or {}
        if trade.get("status") == CLOSED:
            return trade_view(trade)
        client_exit = _client_priced(trade.get("source") or PAPER, price, closed_at, what="exit")
        opened_at = trade.get("created_at") if isinstance(trade.get("created_at"), datetime) else None
        if client_exit:
            exit_price, now = client_exit
            if opened_at is not None and now < opened_at:
                raise InvalidRequest("closed_at is before the trade's fill time.", code="closed_before_filled")
        else:
            quote = await usable_quote(store, trade["symbol"], max_age_seconds=settings.MAX_QUOTE_AGE_SECONDS)
            exit_price = exit_price_from(quote, trade["side"])
            # the stored close time is the one the aggregates use (not a server timestamp)
            now = datetime.now(timezone.utc)
        if user_settings is None:
            user_settings = await load_user_settings(store, uid)
        pnl, pnl_percent = compute_trade_pnl(
            entry_price=trade["entry_price"],
            current_price=exit_price,
            quantity=trade["quantity"],
            side=trade["side"],
        )
        risk = trade.get("risk_amount")
        facts = facts_of(
            trade_id=shadow_id, pnl=pnl, closed_at=now, opened_at=opened_at,
            source=trade.get("source") or PAPER, strategy_id=trade.get("strategy_id", ""),
            symbol=trade.get("symbol", ""), risk=to_decimal(risk, field="risk_amount") if risk else None,
            tz=user_settings.timezone,
        )
        fields = {
            "status": CLOSED,
            "exit_price": to_plain_str(exit_price),
            "exit_reason": exit_reason,
            "closed_at": now,
            "closed_at_iso": now.isoformat(),
            "current_price": to_plain_str(exit_price),
            "current_pnl": to_plain_str(pnl),
            "pnl_percent": to_plain_str(pnl_percent),
            "realized_pnl": to_plain_str(pnl),
            "realized_pnl_percent": to_plain_str(pnl_percent),
            "final_pnl": to_plain_str(pnl),
            "final_pnl_percent": to_plain_str(pnl_percent),
            "is_win": pnl > 0,
            "last_updated": firestore.SERVER_TIMESTAMP,
        }
        if await store.close_trade_and_count(
            uid, shadow_id, fields, last_update_time=snap.update_time, facts=facts
        ):
            closed = await store.get_trade(uid, shadow_id)
            return trade_view(closed.to_dict() if closed else {**trade, **fields})
    raise StateConflict(
        f"Shadow trade {shadow_id} kept changing while closing; retry.", code="trade_busy",
        headers={"Retry-After": "1"},
    )
