"""Exits the service triggers: when a quote reaches an OPEN trade's stop, target or
trailing stop, the trade closes through :meth:`TradeService.close` (the one close path);
when it improves on a trailing stop's water mark, the mark moves.

Who calls it: ``QuoteService.publish`` (``PUT /quotes/{symbol}`` and the quote loader,
through ``on_publish``), and the mark-to-market job (``marking.py``) for the trades it
scans. The rule is ``core/exits.py``; the design (thresholds, indexes, bounds) is decision
D23 in ``docs/decisions.md``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from decimal import Decimal

from ..config import Settings
from ..core.exits import evaluate, scaled_ceil, scaled_floor
from ..core.pnl import BUY, SELL, exit_fill_price
from ..quotes.models import Quote
from .models import Trade
from .repository import exit_key
from .service import TradeService

log = logging.getLogger(__name__)

#: Outcomes of one trade's check.
CLOSED = "closed"
MOVED = "moved"
UNCHANGED = "unchanged"
FAILED = "failed"
#: Water-mark writes that lost their precondition are re-read and retried this often.
MOVE_ATTEMPTS = 3


@dataclass
class TriggerRun:
    """What one quote's trigger check did (counts of trades).

    Attributes:
        candidates: trades the threshold queries returned (each checked by the exact rule).
        closed: trades this check closed, or found closed by a concurrent close.
        moved: trailing stops whose water mark moved.
        failed: checks that raised (logged, never raised to the publisher).
        pending: True when the publish stopped waiting and the check went on in the background.
    """

    candidates: int = 0
    closed: int = 0
    moved: int = 0
    failed: int = 0
    pending: bool = False

    def count(self, outcome: str) -> None:
        """Add one trade's outcome."""
        if outcome == CLOSED:
            self.closed += 1
        elif outcome == MOVED:
            self.moved += 1
        elif outcome == FAILED:
            self.failed += 1


class TriggerService:
    """Checks the exits a quote triggers and applies them.

    Args:
        trades: the trade service (its ``close`` is the one close path; its repository
            runs the threshold queries and the water-mark writes).
        settings: ``TRIGGER_WAIT_SECONDS``, ``TRIGGER_CONCURRENCY``, ``TRIGGER_PAGE_SIZE``.
    """

    def __init__(self, trades: TradeService, settings: Settings) -> None:
        self.trades = trades
        self.repo = trades.trades
        self.settings = settings
        self._background: set[asyncio.Task[TriggerRun]] = set()

    async def on_quote(self, quote: Quote) -> TriggerRun:
        """Check the exits ``quote`` triggers, waiting at most ``TRIGGER_WAIT_SECONDS``.

        Past the wait the check goes on in the background (kept until :meth:`drain`) and
        the answer says ``pending``. Never raises: a failure is logged.

        Args:
            quote: the quote just written.

        Returns:
            The :class:`TriggerRun` (counts so far are final unless ``pending``).
        """
        task = asyncio.create_task(self.run(quote))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        done, _ = await asyncio.wait({task}, timeout=self.settings.TRIGGER_WAIT_SECONDS)
        if task in done:
            return task.result()
        log.warning("exits triggered by %s still closing after %s s; continuing in the background",
                    quote.symbol, self.settings.TRIGGER_WAIT_SECONDS)
        return TriggerRun(pending=True)

    async def drain(self) -> None:
        """Wait for the checks still running in the background (shutdown, CLI exit)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def run(self, quote: Quote) -> TriggerRun:
        """Find the trades ``quote`` reaches and apply the rule to each.

        Two threshold queries per exit side (longs at the bid, shorts at the ask, else the
        price): the reads are the trades returned, not the open trades. Each candidate is
        checked by the exact rule (``core.exits.evaluate``); the closes and water-mark
        moves run concurrently, at most ``TRIGGER_CONCURRENCY`` at a time.

        Returns:
            The counts. Never raises: failures are logged and counted.
        """
        result = TriggerRun()
        found: dict[tuple[str, str], tuple[Trade, Decimal]] = {}
        try:
            for side in (BUY, SELL):
                exit_price = exit_fill_price(side, bid=quote.bid, ask=quote.ask, price=quote.price)
                if exit_price is None or exit_price <= 0:
                    continue
                async for trade in self.repo.trigger_candidates(
                        exit_key(quote.symbol, side), exit_floor=scaled_floor(exit_price),
                        exit_ceil=scaled_ceil(exit_price), page_size=self.settings.TRIGGER_PAGE_SIZE):
                    found[(trade.uid, trade.shadow_id)] = (trade, exit_price)
        except Exception:  # the publish itself succeeded: never fail it for its triggers
            log.exception("trigger query for %s failed", quote.symbol)
            result.failed += 1
        result.candidates = len(found)
        bound = asyncio.Semaphore(self.settings.TRIGGER_CONCURRENCY)

        async def one(trade: Trade, exit_price: Decimal) -> str:
            async with bound:
                return await self.apply(trade, exit_price)

        for outcome in await asyncio.gather(*(one(t, p) for t, p in found.values())):
            result.count(outcome)
        return result

    async def apply(self, trade: Trade, exit_price: Decimal) -> str:
        """Apply the rule to one OPEN trade at the exit price ``exit_price`` (USD per unit).

        An exit closes it with ``TradeService.close(..., trigger_price=<exit price>)``, which
        re-evaluates the rule on the trade it reads (an exit moved or removed meanwhile does
        not fire): of concurrent closes (other quotes, the user) exactly one
        realizes it, and a losing one returns the stored trade. A better price moves the
        water mark (and marks the trade at it) under the trade's precondition, re-read and
        retried on a lost race. Backtest trades are never touched.

        Returns:
            :data:`CLOSED`, :data:`MOVED`, :data:`UNCHANGED` or :data:`FAILED`. Never raises:
            a failure (stale quote, storage, busy trade) is logged.
        """
        try:
            for _ in range(MOVE_ATTEMPTS):
                if not trade.exits_by_quotes:
                    return UNCHANGED
                decision = evaluate(trade.exit_plan(), exit_price)
                if decision.exit is not None:
                    closed = await self.trades.close(trade.uid, trade.shadow_id, exit_reason=decision.exit.reason,
                                                     trigger_price=exit_price)
                    return UNCHANGED if closed.is_open else CLOSED
                if decision.water_mark is None:
                    return UNCHANGED
                moved = trade.with_exits(stop_loss=trade.stop_loss, take_profit=trade.take_profit,
                                         trailing_stop_percent=trade.trailing_stop_percent,
                                         water_mark=decision.water_mark)
                price, mark = trade.position().mark(exit_price)  # net of costs, on what is open
                if await self.repo.update_exits(moved, mark=(price, mark.net, mark.net_percent)) is not None:
                    return MOVED
                fresh = await self.repo.get(trade.uid, trade.shadow_id)
                if fresh is None:
                    return UNCHANGED
                trade = fresh
            return UNCHANGED
        except Exception:
            log.exception("exit check of trade %s/%s at %s failed", trade.uid, trade.shadow_id, exit_price)
            return FAILED
