"""Mark-to-market job: refresh every OPEN trade's current price and unrealized P&L, and
apply the exits (stop, target, trailing stop) its quote reaches."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timezone

from ..core.exits import evaluate
from ..core.pnl import exit_fill_price
from ..quotes.repository import QuoteRepository
from .models import LIVE
from .repository import TradeRepository
from .triggers import CLOSED, MOVED, TriggerService


@dataclass
class MarkResult:
    """What one mark-to-market run did (counts of OPEN trades; ``live``: live trades, which
    the job leaves alone)."""

    scanned: int = 0
    updated: int = 0
    no_quote: int = 0
    stale_quote: int = 0
    changed_meanwhile: int = 0
    exited: int = 0
    water_marks_moved: int = 0
    live: int = 0


async def mark_to_market(trades: TradeRepository, quotes: QuoteRepository, *, batch_size: int,
                         max_quote_age_seconds: int, triggers: TriggerService | None = None) -> MarkResult:
    """Mark every OPEN trade of every user at its exit side of ``live_quotes``.

    Reads OPEN trades ``batch_size`` at a time, the quotes of their symbols in one round
    trip per batch, and writes ``current_price``, ``current_pnl``, ``pnl_percent`` and
    ``last_updated`` under a ``last_update_time`` precondition, so that a trade closed
    meanwhile is never overwritten (it is counted in ``changed_meanwhile``). The mark is
    what closing now would realize: the exit fill after the trade's slippage, net of its
    entry commission and of the exit commission its cost model would charge. A trade
    without a priced quote, or with one older than ``max_quote_age_seconds`` (when > 0),
    keeps its last mark.

    With ``triggers``, a paper trade whose stop, target or trailing stop the fresh quote
    reaches exits through ``TriggerService.apply`` (the one close path; counted in
    ``exited``), and one whose water mark the quote improves has it moved together with
    its mark (``water_marks_moved``), instead of the plain mark. This is the safety net
    for quotes written without a publish (``PUT /quotes`` checks at once).
    """
    result = MarkResult()
    after = None
    now = datetime.now(timezone.utc)
    while True:
        page = await trades.open_trades_page(limit=batch_size, after=after)
        if not page:
            return result
        after = page[-1]
        marks = await quotes.get_many({t.symbol for t in page})
        writes = []
        exits = []
        for trade in page:
            result.scanned += 1
            if trade.source == LIVE:  # a broker's position: its marks are the broker's, not our quotes
                result.live += 1
                continue
            quote = marks.get(trade.symbol)
            mark = None if quote is None else exit_fill_price(trade.side, bid=quote.bid, ask=quote.ask, price=quote.price)
            if quote is None or mark is None or mark <= 0:
                result.no_quote += 1
                continue
            age = quote.age_seconds(now)
            if max_quote_age_seconds > 0 and (age is None or age > max_quote_age_seconds):
                result.stale_quote += 1
                continue
            if triggers is not None and trade.exits_by_quotes:
                decision = evaluate(trade.exit_plan(), mark)
                if decision.exit is not None or decision.water_mark is not None:
                    exits.append(triggers.apply(trade, mark))
                    continue
            price, net = trade.position().mark(mark)
            writes.append(trades.mark(trade, current_price=price, current_pnl=net.net, pnl_percent=net.net_percent))
        for outcome in await asyncio.gather(*exits):
            result.exited += outcome == CLOSED
            result.water_marks_moved += outcome == MOVED
        for ok in await asyncio.gather(*writes):
            if ok:
                result.updated += 1
            else:
                result.changed_meanwhile += 1
        if len(page) < batch_size:
            return result
