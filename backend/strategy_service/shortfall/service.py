"""Shortfall use cases: the per-signal rows of a selection, their summary, their groups and
the tracking difference of live against shadow realized P&L."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ..core.aggregates import epoch_us
from ..core.errors import StorageUnavailable
from ..core.money import MONEY_CONTEXT, ZERO, localcontext, quantize_usd
from ..core.shortfall import ShortfallCounters, ShortfallSummary, SignalShortfall, summary_of
from ..performance.filters import TradeFilter
from ..performance.service import IDLE_SHARD_SECONDS, ROLLUP_SECONDS, PerformanceService
from ..trades.errors import InvalidCursor
from ..users.service import UserService
from .repository import ShortfallRepository

log = logging.getLogger(__name__)
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
            dashboards whose daily P&L the tracking difference compares.
    """

    def __init__(self, signals: ShortfallRepository, users: UserService, performance: PerformanceService) -> None:
        self.signals = signals
        self.users = users
        self.performance = performance

    async def report(self, uid: str, flt: ShortfallFilter, *, limit: int, cursor: str | None) -> ShortfallReport:
        """The rows, summary, groups and tracking difference of ``flt``. The summary and the
        groups add the shortfall counters the fills maintain per strategy, symbol and day
        (bounded by the calendar, never the signals); the page reads ``limit`` signals;
        the tracking reads the two dashboards. A read also merges write shards it found
        spread (:meth:`_compact`).

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
        await self._compact(uid, ids, datetime.now(timezone.utc).astimezone(tz).date().isoformat())
        return ShortfallReport(items=page, next_cursor=page[-1][0] if len(page) == limit else None,
                               summary=summary_of(total),
                               groups={k: summary_of(v) for k, v in sorted(groups.items())},
                               tracking=await self._tracking(uid, flt))

    async def _compact(self, uid: str, ids: dict[str, dict[str, float]], today: str) -> None:
        """Merge the write shards a read found spread (``ids``: ``"{day}~{p}"`` -> id -> idle
        seconds), at most :data:`COMPACT_PER_READ` merges, each document at most once per
        ``ROLLUP_SECONDS`` in this process: a settled day's all into one document; today's
        (and a later day's) only those no fill has written for ``IDLE_SHARD_SECONDS``, as
        the trade aggregates do (docs/aggregates.md, "Compaction"). Best effort:
        the figures do not depend on it, only what later reads fetch."""
        done = 0
        for where, shards in sorted(ids.items()):
            if done >= COMPACT_PER_READ:
                return
            group = sorted(shards)
            if where[:10] >= today:  # the current day: the idle shards only
                group = [g for g in group if not g.endswith("~00") and shards[g] >= IDLE_SHARD_SECONDS]
            if not group or (where[:10] < today and len(group) < 2):
                continue
            # one merge of a document at a time in this process: two concurrent reads
            # merging the same shards would only contend
            if not self.performance.aggregates.may_roll_up(uid, f"aggSignals/{where}", ROLLUP_SECONDS):
                continue
            try:
                await self.signals.compact(uid, group)
                done += 1
            except StorageUnavailable:  # best effort: the figures are exact either way
                log.info("merging the shortfall shards %s of %s lost to contention", group, uid)

    async def _tracking(self, uid: str, flt: ShortfallFilter) -> list[dict[str, Any]]:
        """Per close day: live and shadow realized P&L, cumulative, and live - shadow (USD)."""
        def selection(source: str) -> TradeFilter:
            return TradeFilter(start_date=flt.start_date, end_date=flt.end_date, source=source,
                               strategy_id=flt.strategy_id, symbol=flt.symbol)
        live = await self.performance.dashboard(uid, selection("live"))
        shadow = await self.performance.dashboard(uid, selection(flt.shadow_source))
        daily: dict[str, list[Decimal]] = {}
        for d in live.daily_pnl:
            daily.setdefault(d.date, [ZERO, ZERO])[0] = d.pnl
        for d in shadow.daily_pnl:
            daily.setdefault(d.date, [ZERO, ZERO])[1] = d.pnl
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
