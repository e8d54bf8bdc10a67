"""A stand-in for the service's backtest endpoints, written from the cost contract (issue
12), for testing the replay client without a server: ``httpx.MockTransport`` answering
``PUT /strategies/{id}/costs``, ``POST /trades/execute`` (backtest), ``POST
/trades/close-shadow`` and the two metrics reads, in exact Decimal.

The contract, per fill: fill price = base x (1 + bps / 10,000) for a BUY fill, x (1 - bps
/ 10,000) for a SELL fill, to 0.000001 against the trader; commission = per_order +
per_unit x qty + percent / 100 x qty x fill price, raised to min (> 0), capped at max
(> 0), to the cent half up (a ``commission`` in the request replaces it). A closed trade:
gross = (exit - entry) x qty x direction to the cent, net = gross - entry and exit
commissions, slippage = |fill - base| x qty of both fills to the cent.

Live fills (issue 14's contract): ``POST /trades/execute`` with ``source: "live"`` needs
``price``, ``filled_at`` (with an offset, not in the future) and ``execution_id`` (the
idempotency key: the same one again answers the first trade, 201, same body; with another
payload 422 ``idempotency_key_reused``); ``commission`` is the broker's (default 0), never
the cost model's. ``POST /trades/close-shadow`` with ``source: "live"``, ``strategy_id``
and ``symbol`` closes (part of) the oldest OPEN live trade of that strategy and symbol at
``price`` and ``closed_at``: none open, 409 ``no_open_live_position``; ``quantity`` more
than open, 422 ``close_quantity_exceeds_open``; the same ``execution_id`` again answers
the trade as it was then, closing nothing. Errors are ``{"error": {"code", "message"}}``.
Each trade carries ``received_at`` and ``last_updated`` from the fake's clock (``now``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

import httpx

CENT, MICRO = Decimal("0.01"), Decimal("0.000001")
COST_FIELDS = ("commission_per_order", "commission_per_unit", "commission_percent", "commission_min",
               "commission_max", "slippage_bps")


def _usd(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP) + 0


def error(status: int, code: str, message: str, **extra: Any) -> httpx.Response:
    """The service's error body."""
    return httpx.Response(status, json={"error": {"code": code, "message": message, **extra}})


class FakeService:
    """Records every call (``calls``: method, path, JSON body) and answers per the contract.

    ``now`` is the fake's clock (default: the real UTC time)."""

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.models: dict[str, dict[str, Decimal]] = {}
        self.trades: dict[str, dict[str, Any]] = {}
        self.now = now or (lambda: datetime.now(timezone.utc))
        #: live trades, by id: the stored JSON of each (what execute and close answer)
        self.live: dict[str, dict[str, Any]] = {}
        #: execution_id -> (the request body, the answer body, status) of live calls
        self.executions: dict[str, tuple[dict[str, Any], dict[str, Any], int]] = {}

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def _fill(self, model: dict[str, Decimal], fill_side: str, base: Decimal, qty: Decimal | None,
              notional: Decimal | None, commission: str | None) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        bps = model.get("slippage_bps", Decimal(0)) / 10_000
        if fill_side == "BUY":
            fill = (base * (1 + bps)).quantize(MICRO, rounding=ROUND_CEILING)
        else:
            fill = (base * (1 - bps)).quantize(MICRO, rounding=ROUND_FLOOR)
        if qty is None:
            qty = (notional / fill).quantize(MICRO, rounding=ROUND_HALF_UP)
        if commission is not None:
            fee = Decimal(commission)
        else:
            fee = (model.get("commission_per_order", Decimal(0)) + model.get("commission_per_unit", Decimal(0)) * qty
                   + model.get("commission_percent", Decimal(0)) / 100 * qty * fill)
            low, high = model.get("commission_min", Decimal(0)), model.get("commission_max", Decimal(0))
            if low > 0 and fee < low:
                fee = low
            if high > 0 and fee > high:
                fee = high
        return fill, qty, _usd(fee), abs(fill - base) * qty

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        path = request.url.path
        self.calls.append((request.method, path, body))
        if not request.headers.get("Authorization"):
            return error(401, "unauthenticated", "No Authorization: Bearer <Firebase ID token> header.")
        if path in ("/trades/execute", "/trades/close-shadow") and body.get("source") == "live":
            return self.handle_live(path, body)
        if (match := re.fullmatch(r"/strategies/([^/]+)/costs", path)) and request.method == "PUT":
            self.models[match.group(1)] = {k: Decimal(body.get(k, "0")) for k in COST_FIELDS}
            return httpx.Response(200, json={k: str(v) for k, v in self.models[match.group(1)].items()})
        if path == "/trades/execute":
            assert body["source"] == "backtest"
            model = dict(self.models.get(body["strategy_id"], {}))
            fill, qty, fee, slip = self._fill(model, body["side"], Decimal(body["price"]),
                                              Decimal(body["quantity"]) if "quantity" in body else None,
                                              Decimal(body["notional"]) if "notional" in body else None,
                                              body.get("commission"))
            trade_id = f"t{len(self.trades) + 1}"
            self.trades[trade_id] = {"side": body["side"], "entry": fill, "qty": qty, "fee": fee, "slip": slip,
                                     "model": model}
            return httpx.Response(201, json={
                "id": trade_id, "entry_price": str(fill), "quantity": str(qty), "stop_loss": body.get("stop_loss"),
                "take_profit": body.get("take_profit"), "entry_commission": str(fee)})
        if path == "/trades/close-shadow":
            t = self.trades[body["shadow_id"]]
            exit_side = "SELL" if t["side"] == "BUY" else "BUY"
            fill, _, fee, slip = self._fill(t["model"], exit_side, Decimal(body["price"]), t["qty"], None,
                                            body.get("commission"))
            direction = 1 if t["side"] == "BUY" else -1
            gross = _usd((fill - t["entry"]) * t["qty"] * direction)
            commission = t["fee"] + fee
            return httpx.Response(200, json={
                "id": body["shadow_id"], "exit_price": str(fill), "exit_reason": body["exit_reason"],
                "gross_pnl": str(gross), "commission": str(commission), "slippage": str(_usd(t["slip"] + slip)),
                "entry_commission": str(t["fee"]), "exit_commission": str(fee),
                "realized_pnl": str(gross - commission)})
        if path in ("/trades/shadow/metrics", "/trades/shadow/dashboard"):
            return httpx.Response(200, json={})
        return httpx.Response(404, json={"detail": f"no route {request.method} {path}"})

    # -- live fills -------------------------------------------------------------------

    def _check_time(self, body: dict[str, Any], name: str) -> datetime | httpx.Response:
        text = body.get(name)
        try:
            moment = datetime.fromisoformat(text) if isinstance(text, str) else None
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            return error(422, "validation_error", f"{name}: an ISO 8601 time with an offset is required",
                         details=[{"loc": ["body", name], "msg": "required with an offset", "type": "value_error"}])
        if moment > self.now() + timedelta(minutes=5):
            return error(422, "time_in_future", f"{name} {text} is in the future.")
        return moment

    def _amount(self, body: dict[str, Any], name: str, required: bool) -> Decimal | None | httpx.Response:
        if body.get(name) is None:
            if required:
                return error(422, "validation_error", f"{name} is required",
                             details=[{"loc": ["body", name], "msg": "Field required", "type": "missing"}])
            return None
        try:
            value = Decimal(str(body[name]))
        except ArithmeticError:
            value = Decimal("NaN")
        if not value.is_finite() or value < 0 or (value == 0 and name != "commission"):
            return error(422, "validation_error", f"{name} must be a positive decimal",
                         details=[{"loc": ["body", name], "msg": "bad amount", "type": "value_error"}])
        return value

    def handle_live(self, path: str, body: dict[str, Any]) -> httpx.Response:
        execution_id = body.get("execution_id")
        if not execution_id:
            return error(422, "validation_error", "execution_id is required for a live fill",
                         details=[{"loc": ["body", "execution_id"], "msg": "Field required", "type": "missing"}])
        key = (path, execution_id)
        if key in self.executions:
            first, answer, status = self.executions[key]
            if first != body:
                return error(422, "idempotency_key_reused",
                             f"execution_id {execution_id} was already used with a different request.")
            return httpx.Response(status, json=answer)
        response = self.execute_live(body) if path == "/trades/execute" else self.close_live(body)
        if response.status_code < 400:
            self.executions[key] = (body, response.json(), response.status_code)
        return response

    def execute_live(self, body: dict[str, Any]) -> httpx.Response:
        moment = self._check_time(body, "filled_at")
        if isinstance(moment, httpx.Response):
            return moment
        values = {n: self._amount(body, n, n != "commission") for n in ("price", "quantity", "commission")}
        for value in values.values():
            if isinstance(value, httpx.Response):
                return value
        now = self.now().isoformat()
        trade_id = f"L{len(self.live) + 1}"
        trade = {"id": trade_id, "status": "OPEN", "source": "live", "symbol": body["symbol"].upper(),
                 "side": body["side"], "strategy_id": body["strategy_id"], "quantity": str(values["quantity"]),
                 "open_quantity": str(values["quantity"]), "entry_price": str(values["price"]),
                 "entry_commission": str(_usd(values["commission"] or Decimal(0))), "created_at": body["filled_at"],
                 "received_at": now, "last_updated": now, "execution_id": body["execution_id"], "exits": []}
        for name in ("signal_id", "broker_order_id", "broker"):
            if body.get(name):
                trade[name] = body[name]
        self.live[trade_id] = trade
        return httpx.Response(201, json=trade)

    def close_live(self, body: dict[str, Any]) -> httpx.Response:
        if body.get("shadow_id"):
            trade = self.live.get(body["shadow_id"])
            if trade is None or trade["status"] != "OPEN":
                return error(404, "trade_not_found", "No such open trade.")
        else:
            symbol = str(body.get("symbol", "")).upper()
            open_ = [t for t in self.live.values() if t["status"] == "OPEN" and t["symbol"] == symbol
                     and t["strategy_id"] == body.get("strategy_id")]
            if not open_:
                return error(409, "no_open_live_position",
                             f"No open live position of strategy {body.get('strategy_id')} in {symbol}.")
            trade = min(open_, key=lambda t: (t["created_at"], t["id"]))
        moment = self._check_time(body, "closed_at")
        if isinstance(moment, httpx.Response):
            return moment
        if moment < datetime.fromisoformat(trade["created_at"]):
            return error(422, "closed_before_filled", "closed_at is before the fill.")
        values = {n: self._amount(body, n, n == "price") for n in ("price", "quantity", "commission")}
        for value in values.values():
            if isinstance(value, httpx.Response):
                return value
        open_qty = Decimal(trade["open_quantity"])
        qty = values["quantity"] if values["quantity"] is not None else open_qty
        if qty > open_qty:
            return error(422, "close_quantity_exceeds_open", f"Closing {qty} but {open_qty} is open.")
        direction = 1 if trade["side"] == "BUY" else -1
        entry = Decimal(trade["entry_price"])
        gross = _usd((values["price"] - entry) * qty * direction)
        share = _usd(Decimal(trade["entry_commission"]) * qty / Decimal(trade["quantity"]))
        fee = _usd(values["commission"] or Decimal(0))
        trade["exits"].append({"quantity": str(qty), "price": str(values["price"]), "closed_at": body["closed_at"],
                               "commission": str(fee), "gross_pnl": str(gross),
                               "realized_pnl": str(gross - fee - share), "execution_id": body["execution_id"]})
        trade["open_quantity"] = str(open_qty - qty)
        trade["last_updated"] = self.now().isoformat()
        if open_qty - qty == 0:
            realized = sum(Decimal(e["realized_pnl"]) for e in trade["exits"])
            average = sum(Decimal(e["quantity"]) * Decimal(e["price"]) for e in trade["exits"]) / Decimal(trade["quantity"])
            trade.update(status="CLOSED", exit_price=str(average), realized_pnl=str(realized),
                         closed_at=body["closed_at"], exit_reason=body.get("exit_reason", "Manual close"))
        return httpx.Response(200, json=json.loads(json.dumps(trade)))  # a copy: later closes change the trade
