"""Repairing and checking a user's aggregates against their trade history: ``rebuild``
and ``verify`` (CLI commands; a time-zone change runs ``rebuild``). O(history)."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, fields
from typing import Any

from ..core.aggregates import CellStats, ClosedTrade, TradeFacts, aggregate, parse_group_key
from ..core.dashboard import Dashboard, compute_dashboard
from ..core.shadow import compute_shadow_metrics
from ..trades.models import Trade
from ..trades.repository import TradeRepository
from ..users.models import UserSettings
from ..users.service import UserService
from .filters import TradeFilter
from .repository import AggregateRepository, month_documents, summary_counters
from .service import PerformanceService


def closed_trade_of(trade: Trade) -> ClosedTrade:
    """The metric input of a CLOSED trade."""
    assert trade.closed_at is not None and trade.realized_pnl is not None, trade.shadow_id
    return ClosedTrade(pnl=trade.realized_pnl, closed_at=trade.closed_at, opened_at=trade.created_at,
                       symbol=trade.symbol, strategy_id=trade.strategy_id, source=trade.source,
                       risk=trade.risk_amount, trade_id=trade.shadow_id)


@dataclass
class Recomputed:
    """A user's aggregates recomputed from every trade document.

    Attributes:
        settings: the user's settings (the time zone defines the days).
        closed: the CLOSED trades, as metric inputs; facts: their integer facts.
        cells: cell key -> counters; sequences: day -> {shadow id: sequence entry};
        total: every closed trade summed (the ``/api/metrics`` counters).
    """

    settings: UserSettings
    closed: list[ClosedTrade]
    facts: list[TradeFacts]
    cells: dict[str, CellStats]
    sequences: dict[str, dict[str, Any]]
    total: CellStats


class Maintenance:
    """``rebuild`` and ``verify`` of a user's aggregates.

    Args:
        aggregates, trades: the repositories; users: the settings; performance: the
        serving path whose answers ``verify`` compares.
    """

    def __init__(self, aggregates: AggregateRepository, trades: TradeRepository, users: UserService,
                 performance: PerformanceService) -> None:
        self.aggregates = aggregates
        self.trades = trades
        self.users = users
        self.performance = performance

    async def recompute(self, uid: str) -> Recomputed:
        """Read every trade of the user and compute the aggregates they imply."""
        settings = await self.users.get(uid)
        closed = [closed_trade_of(t) async for t in self.trades.stream(uid) if not t.is_open]
        facts = [t.facts(settings.timezone) for t in closed]
        cells = aggregate(facts)
        sequences: dict[str, dict[str, Any]] = defaultdict(dict)
        for f in facts:
            sequences[f.day.isoformat()][f.trade_id] = f.seq_entry()
        total = CellStats()
        for stats in cells.values():
            total.add(stats)
        return Recomputed(settings, closed, facts, cells, dict(sequences), total)

    async def rebuild(self, uid: str) -> dict[str, int]:
        """Replace a user's aggregates with a recomputation from history.

        Run it while the user closes no trade: a close that lands between the
        recomputation and the write is lost from the aggregates (``verify`` reports it).

        Returns:
            ``{"closed_trades", "months", "days", "documents_written"}``.
        """
        rec = await self.recompute(uid)
        written = await self.aggregates.replace(uid, cells=rec.cells, sequences=rec.sequences, summary=rec.total)
        return {"closed_trades": len(rec.closed), "months": len({k[:7] for k in rec.cells}),
                "days": len(rec.sequences), "documents_written": written}

    async def verify(self, uid: str) -> list[str]:
        """Compare a user's stored aggregates and served metrics with a full recomputation:
        every cell counter, day total, group, close sequence and ``/api/metrics`` counter,
        and the dashboard and shadow metrics, unfiltered and filtered by each source,
        strategy and symbol, to the last digit.

        Returns:
            One line per difference; empty when everything agrees.
        """
        rec = await self.recompute(uid)
        tz = rec.settings.timezone
        out: list[str] = []
        stored = await self.aggregates.stored_cells(uid)
        expected_months = month_documents(rec.cells)
        for part, label in (("c", "cell"), ("d", "day total"), ("b", "group")):
            expected = {(m, k): v for m, doc in expected_months.items() for k, v in doc[part].items()}
            for month, key in sorted(set(stored[part]) | set(expected)):
                _diff(f"{label} {key}", stored[part].get((month, key)), expected.get((month, key)), out)
        sequences = await self.aggregates.stored_sequences(uid)
        for day in sorted(set(sequences) | set(rec.sequences)):
            _diff(f"day {day}", sequences.get(day) or {}, rec.sequences.get(day) or {}, out)
        summary = await self.aggregates.summary(uid)
        for name, value in summary_counters(rec.total).items():
            _diff(f"summary {name}", summary[name], value, out)

        filters = [TradeFilter()]
        groups = {k for doc in expected_months.values() for k in doc["b"]}
        for group in sorted(groups):  # each source, strategy, symbol
            dimension, value = parse_group_key(group)
            filters.append(TradeFilter(**{dimension: value}))
        for flt in filters:
            label = json.dumps({k: v for k, v in flt.as_json().items() if v})
            chosen = [t for t, f in zip(rec.closed, rec.facts)
                      if flt.matches_attributes(f.source, f.strategy_id, f.symbol)]
            expected_d = compute_dashboard(chosen, starting_capital=rec.settings.starting_capital, tz=tz)
            served_d = await self.performance.dashboard(uid, flt)
            for f in fields(Dashboard):
                _diff(f"dashboard {label} {f.name}", getattr(served_d, f.name), getattr(expected_d, f.name), out)
            served_m = (await self.performance.shadow_metrics(uid, flt)).as_json()
            expected_m = compute_shadow_metrics(open_trades=[], closed_trades=chosen).as_json()
            for key in ("realized_pnl", "win_rate", "closed_trades", "wins", "max_drawdown_usd", "max_drawdown_percent"):
                _diff(f"shadow metrics {label} {key}", served_m[key], expected_m[key], out)
        return out


def _diff(name: str, stored: Any, expected: Any, out: list[str]) -> None:
    if stored != expected:
        out.append(f"{name}: stored {stored!r} != recomputed {expected!r}")
