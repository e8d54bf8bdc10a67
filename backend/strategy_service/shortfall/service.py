"""Shortfall use cases: the per-signal rows of a selection, their summary, their groups and
the tracking difference of live against shadow realized P&L."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ..core.aggregates import epoch_us
from ..core.money import MONEY_CONTEXT, ZERO, localcontext, quantize_usd, usd_from_cents
from ..core.shortfall import ShortfallCounters, ShortfallSummary, SignalShortfall, summary_of
from ..performance.filters import TradeFilter
from ..performance.repository import AGG_SIGNALS, AggregateRepository
from ..performance.service import PerformanceService, compact_spread
from ..trades.errors import InvalidCursor
from ..users.models import UserSettings
from ..users.service import UserService
from .repository import ShortfallRepository

#: Settled days whose write shards one read merges (each one transaction).
COMPACT_PER_READ = 8


@dataclass(frozen=True)
class ShortfallFilter:
    """Which signals: their first time (decision, else first fill) in ``[start_date,
    end_date]`` (inclusive days of the user's time zone), of ``strategy_id`` and ``symbol``;
    ``shadow_source`` is the source the tracking difference compares live with."""

    start_date: date | None = None
    end_date: date | None = None
    strategy_id: str | None = None
    symbol: str | None = None
    shadow_source: str = "paper"

    def bounds(self, tz: ZoneInfo) -> tuple[int | None, int | None]:
        """``[first, last)`` in microseconds since the epoch."""
        first = epoch_us(datetime.combine(self.start_date, time.min, tz)) if self.start_date else None
        last = epoch_us(datetime.combine(self.end_date + timedelta(days=1), time.min, tz)) if self.end_date else None
        return first, last


@dataclass(frozen=True)
class ShortfallReport:
    """What ``GET /trades/shortfall`` answers.

    Attributes:
        items: the page of per-signal rows (id, figures), newest first; next_cursor: the
            last row's id when more may follow.
        summary: over every signal of the selection; groups: per (strategy, symbol, day)
            of the decision, ``(strategy_id, symbol, day) -> summary``.
        tracking: per close day of the window, live and shadow realized P&L (USD) of the
            same strategy and symbol filters, their cumulative sums and the difference
            (live - shadow).
    """

    items: list[tuple[str, SignalShortfall]]
    next_cursor: str | None
    summary: ShortfallSummary
    groups: dict[tuple[str, str, str], ShortfallSummary]
    tracking: list[dict[str, Any]]


class ShortfallService:
    """The implementation shortfall of a user's signals.

    Args:
        signals: the signals repository; users: the settings (time zone); performance: the
            dashboards whose daily P&L the tracking difference compares; aggregates: the
            aggregates repository (its merge of spread write shards).
    """

    def __init__(self, signals: ShortfallRepository, users: UserService, performance: PerformanceService,
                 aggregates: AggregateRepository) -> None:
        self.signals = signals
        self.aggregates = aggregates
        self.users = users
        self.performance = performance

    async def report(self, uid: str, flt: ShortfallFilter, *, limit: int, cursor: str | None) -> ShortfallReport:
        """The rows, summary, groups and tracking difference of ``flt``. The summary and the
        groups add the shortfall counters the fills maintain per strategy, symbol and day
        (bounded by the calendar, never the signals); the page reads ``limit`` signals;
        the tracking reads the two dashboards. A read also merges write shards it found
        spread (``compact_spread``, at most :data:`COMPACT_PER_READ` merges).

        Raises:
            InvalidCursor: ``cursor`` is no signal of this user.
        """
        settings = await self.users.get(uid)
        gen = settings.aggregates
        tz = gen.timezone
        first, last = flt.bounds(tz)
        page, ok = await self.signals.page(uid, first_us=first, last_us=last, strategy_id=flt.strategy_id,
                                           symbol=flt.symbol, limit=limit, after_id=cursor)
        if not ok:
            raise InvalidCursor("cursor is not the next_cursor of a page of your signals; start without one.")
        counters, ids = await self.signals.counters(uid, gen.number, flt.start_date, flt.end_date)
        total = ShortfallCounters()
        groups: dict[tuple[str, str, str], ShortfallCounters] = {}
        for (day, key), value in counters.items():
            strategy_id, symbol = key.split("|")
            if (flt.strategy_id and strategy_id != flt.strategy_id) or (flt.symbol and symbol != flt.symbol):
                continue
            total.add(value)
            groups.setdefault((strategy_id, symbol, day), ShortfallCounters()).add(value)
        today = datetime.now(timezone.utc).astimezone(tz).date()
        # the read merges the counter shards it found spread, as the dashboards' reads do
        await compact_spread(self.aggregates, uid, {AGG_SIGNALS: ids}, today, COMPACT_PER_READ)
        return ShortfallReport(items=page, next_cursor=page[-1][0] if len(page) == limit else None,
                               summary=summary_of(total),
                               groups={k: summary_of(v) for k, v in sorted(groups.items())},
                               tracking=await self._tracking(uid, flt, settings))

    async def _tracking(self, uid: str, flt: ShortfallFilter, settings: UserSettings) -> list[dict[str, Any]]:
        """Per close day: live and shadow realized P&L, cumulative, and live - shadow (USD),
        from the daily totals of the two selections' aggregates (what their dashboards'
        ``daily_pnl`` shows)."""
        daily: dict[str, list[Decimal]] = {}
        for k, source in enumerate(("live", flt.shadow_source)):
            selection = await self.performance.load_selection(uid, TradeFilter(
                start_date=flt.start_date, end_date=flt.end_date, source=source, strategy_id=flt.strategy_id,
                symbol=flt.symbol), settings)
            for day, stats in selection.rollup.by_day.items():
                daily.setdefault(day.isoformat(), [ZERO, ZERO])[k] = usd_from_cents(stats.pnl)
        out, cum_live, cum_shadow = [], ZERO, ZERO
        with localcontext(MONEY_CONTEXT):
            for day in sorted(daily):
                live_pnl, shadow_pnl = daily[day]
                cum_live += live_pnl
                cum_shadow += shadow_pnl
                out.append({"date": day, "live_pnl": quantize_usd(live_pnl), "shadow_pnl": quantize_usd(shadow_pnl),
                            "cumulative_live": quantize_usd(cum_live), "cumulative_shadow": quantize_usd(cum_shadow),
                            "tracking_difference": quantize_usd(cum_live - cum_shadow)})
        return out
