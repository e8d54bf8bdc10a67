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
"""

from __future__ import annotations

import json
import re
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

import httpx

CENT, MICRO = Decimal("0.01"), Decimal("0.000001")
COST_FIELDS = ("commission_per_order", "commission_per_unit", "commission_percent", "commission_min",
               "commission_max", "slippage_bps")


def _usd(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP) + 0


class FakeService:
    """Records every call (``calls``: method, path, JSON body) and answers per the contract."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.models: dict[str, dict[str, Decimal]] = {}
        self.trades: dict[str, dict[str, Any]] = {}

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
            return httpx.Response(401, json={"detail": "no token"})
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
