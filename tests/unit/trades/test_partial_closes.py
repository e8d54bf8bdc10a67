"""Partial closes (trades/service.py ``realize``): a hand-checkable table to the cent, and
the invariants that parts never exceed the position and add up exactly to it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal as D
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.strategy_service.core.aggregates import aggregate, fold_in_order
from backend.strategy_service.core.costs import CostModel, fill_with_costs
from backend.strategy_service.core.errors import ServiceError
from backend.strategy_service.core.shadow import compute_shadow_metrics
from backend.strategy_service.trades.errors import CloseQuantityExceedsOpen, InvalidCloseQuantity, QuantityPrecision
from backend.strategy_service.storage.budget import document_size, index_entries, load_overrides
from backend.strategy_service.trades.models import Trade
from backend.strategy_service.trades.repository import trade_document
from backend.strategy_service.trades.service import MAX_EXITS, closing_quantity, realize

T0 = datetime(2024, 3, 4, 15, tzinfo=timezone.utc)
NY = ZoneInfo("America/New_York")
MODEL = CostModel(commission_per_order=D("1"), slippage_bps=D("5"))


def long_10() -> Trade:
    """Long 10 at the ask 100.00 + 5 bps = 100.05, 1.00 commission, 0.50 slippage."""
    entry = fill_with_costs(MODEL, "BUY", base_price=D("100.00"), quantity=D("10"))
    return Trade(shadow_id="t1", uid="u", symbol="AAPL", side="BUY", quantity=D("10"), notional=D("1000.50"),
                 entry_price=entry.price, strategy_id="s", created_at=T0, cost_model=MODEL, entry_base_price=D("100.00"),
                 entry_commission=entry.commission, entry_slippage=entry.slippage)


def close(trade: Trade, quantity: str | None, bid: str, day: int):
    part = closing_quantity(trade, None if quantity is None else D(quantity))
    fill = fill_with_costs(trade.costs, "SELL", base_price=D(bid), quantity=part)
    return realize(trade, fill, exit_reason="manual", closed_at=T0 + timedelta(days=day), agg_gen=1)


def test_two_partials_then_the_rest_to_the_cent() -> None:
    trade = long_10()
    # 3 at the bid 110.00 -> 109.945: gross 29.685 -> 29.69; 1.00 exit + 0.30 of the entry commission
    trade, r1 = close(trade, "3", "110.00", 1)
    e1 = trade.exits[0]
    assert (e1.realization_id, e1.price, e1.gross_pnl, e1.commission, e1.entry_commission, e1.realized_pnl) == (
        "t1~1", D("109.945"), D("29.69"), D("1.00"), D("0.30"), D("28.39"))
    assert (e1.slippage, e1.entry_slippage, e1.notional) == (D("0.17"), D("0.15"), D("300.15"))
    assert trade.is_open and trade.remaining == D("7") and not r1.final
    # the rest (7) marked at the same bid: gross (109.945 - 100.05) x 7 = 69.265 -> 69.27, minus 0.70 + 1.00
    assert trade.current_pnl == D("67.57")
    # 3 at the bid 90.00 -> 89.955: gross -30.285 -> -30.29; net -31.59
    trade, r2 = close(trade, "3", "90.00", 2)
    assert (trade.exits[1].gross_pnl, trade.exits[1].realized_pnl) == (D("-30.29"), D("-31.59"))
    # the rest, 4 at the bid 105.00 -> 104.9475: gross 19.59; 1.00 exit + what is left of the entry's 1.00: 0.40
    trade, r3 = close(trade, None, "105.00", 3)
    e3 = trade.exits[2]
    assert (e3.quantity, e3.gross_pnl, e3.entry_commission, e3.notional, e3.realized_pnl) == (
        D("4"), D("19.59"), D("0.40"), D("400.20"), D("18.19"))
    assert not trade.is_open and r3.final and r3.position_pnl == D("14.99")
    assert (trade.gross_pnl, trade.commission, trade.realized_pnl, trade.slippage) == (
        D("18.99"), D("4.00"), D("14.99"), D("1.02"))
    assert trade.realized_pnl_percent == D("1.50")  # 14.99 / 1,000.50
    assert trade.exit_price == D("101.949")  # (3 x 109.945 + 3 x 89.955 + 4 x 104.9475) / 10
    # the aggregates: each part on its day, the position counted once by its total
    facts = [r.facts(NY) for r in (r1, r2, r3)]
    cells = aggregate(facts)
    assert [c.pnl for c in cells.values()] == [2839, -3159, 1819]
    assert sum(c.n for c in cells.values()) == 1 and sum(c.w for c in cells.values()) == 1
    assert sum(c.gp for c in cells.values()) == 1499 and sum(c.cm for c in cells.values()) == 400
    assert [c.mx for c in cells.values()] == [None, None, 1499]
    fold = fold_in_order(facts)
    assert (fold.worst_usd, fold.best_w, fold.best_l) == (-3159, 1, 0)
    metrics = compute_shadow_metrics(open_trades=[], closed_trades=[r1, r2, r3])
    assert (metrics.realized_pnl, metrics.closed_trades, metrics.wins, metrics.max_drawdown_usd) == (
        D("14.99"), 1, 1, D("-31.59"))


@pytest.mark.parametrize(("quantity", "error"), [
    ("0", InvalidCloseQuantity), ("-1", InvalidCloseQuantity), ("10.000001", CloseQuantityExceedsOpen),
    ("0.0000001", QuantityPrecision),
])
def test_bad_quantities_are_refused(quantity: str, error: type[ServiceError]) -> None:
    with pytest.raises(error):
        closing_quantity(long_10(), D(quantity))


@given(st.lists(st.decimals(min_value=D("0.000001"), max_value=D("12"), places=6), min_size=1, max_size=12))
def test_parts_never_exceed_the_position_and_add_up_exactly(asked: list[D]) -> None:
    trade, realizations = long_10(), []
    for day, quantity in enumerate(asked, start=1):
        if not trade.is_open:
            break
        try:
            part = closing_quantity(trade, quantity)
        except CloseQuantityExceedsOpen:
            continue
        fill = fill_with_costs(trade.costs, "SELL", base_price=D("101.23"), quantity=part)
        trade, realization = realize(trade, fill, exit_reason="manual", closed_at=T0 + timedelta(days=day), agg_gen=1)
        realizations.append(realization)
    assert sum(e.quantity for e in trade.exits) + trade.remaining == trade.quantity
    assert sum(e.quantity for e in trade.exits) <= trade.quantity
    assert sum(e.entry_commission for e in trade.exits) <= trade.entry_commission
    for e, r in zip(trade.exits, realizations):  # gross - commission = net, per part, stored and aggregated
        assert e.gross_pnl - e.commission - e.entry_commission == e.realized_pnl == r.pnl
        assert r.commission == e.commission + e.entry_commission
    if not trade.is_open:  # the parts add up exactly to the entry and to the position's figures
        assert sum(e.entry_commission for e in trade.exits) == trade.entry_commission
        assert sum(e.notional for e in trade.exits) == trade.notional
        assert sum(r.pnl for r in realizations) == trade.realized_pnl
        assert trade.gross_pnl - trade.commission == trade.realized_pnl
        assert sum(1 for r in realizations if r.final) == 1


def test_a_position_with_the_most_exits_stays_within_firestores_limits() -> None:
    """The stored trade of a position closed in :data:`MAX_EXITS` parts, encoded as the
    repository writes it, against 1 MiB and 40,000 index entries (the project's exemptions)."""
    trade = Trade(shadow_id="k" + "f" * 39, uid="u" * 28, symbol="BRK.B", side="BUY", quantity=D("1000000.000000"),
                  notional=D("123456789.12"), entry_price=D("123.456789"), strategy_id="s" * 128, created_at=T0,
                  cost_model=CostModel(commission_per_unit=D("0.0035"), commission_min=D("0.35"),
                                       commission_max=D("100"), slippage_bps=D("2.5")),
                  entry_commission=D("100.00"), entry_slippage=D("30864.20"), entry_base_price=D("123.425932"))
    for k in range(MAX_EXITS - 1):
        trade, _ = close(trade, "999.999999", "123.987654", k % 300)
    trade, _ = close(trade, None, "99.123456", 400)
    doc = trade_document(trade)
    overrides = load_overrides(Path(__file__).resolve().parents[3] / "firestore.indexes.json")
    size = document_size(["users", trade.uid, "shadowTradeHistory", trade.shadow_id], doc)
    entries = index_entries("shadowTradeHistory", doc, overrides)
    assert len(trade.exits) == MAX_EXITS and not trade.is_open
    assert size < 1_048_576 * 0.75, size  # 303,033 bytes here
    assert entries < 200, entries  # the exit fills and the cost model are exempt from indexing
