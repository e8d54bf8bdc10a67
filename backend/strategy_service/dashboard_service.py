"""Serving the dashboard: user settings, trade filters, the story's per-user metrics record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .dashboard_metrics import ClosedTrade, compute_dashboard, q2
from .errors import InvalidRequest
from .money import HUNDRED, MONEY_CONTEXT, ZERO, localcontext, to_decimal, to_plain_str
from .quotes import Quote
from .repository import Store
from .shadow_metrics import ShadowMetrics, compute_shadow_metrics, realized_pnl_of

DEFAULT_STARTING_CAPITAL = Decimal("100000.00")
DEFAULT_TIMEZONE = "America/New_York"
SOURCES = ("paper", "backtest", "live")


@dataclass(frozen=True)
class UserSettings:
    """A user's dashboard settings: starting capital (USD) and trading time zone."""

    starting_capital: Decimal
    timezone: ZoneInfo

    def as_json(self) -> dict[str, str]:
        """API shape."""
        return {"starting_capital": to_plain_str(q2(self.starting_capital)), "timezone": self.timezone.key}


def parse_timezone(name: str) -> ZoneInfo:
    """An IANA time zone.

    Raises:
        InvalidRequest: ``invalid_timezone``.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRequest(f"{name!r} is not an IANA time zone (e.g. America/New_York).", code="invalid_timezone") from None


async def load_user_settings(store: Store, uid: str) -> UserSettings:
    """Stored settings with defaults (100,000.00 USD, America/New_York)."""
    doc = await store.get_user_settings(uid)
    capital = doc.get("starting_capital")
    return UserSettings(
        starting_capital=to_decimal(capital, field="starting_capital") if capital else DEFAULT_STARTING_CAPITAL,
        timezone=parse_timezone(doc.get("timezone") or DEFAULT_TIMEZONE),
    )


async def update_user_settings(
    store: Store, uid: str, *, starting_capital: Decimal | None, timezone: str | None
) -> UserSettings:
    """Change a user's starting capital and/or time zone; returns the result.

    Raises:
        InvalidRequest: ``invalid_timezone``.
    """
    fields: dict[str, Any] = {}
    if starting_capital is not None:
        fields["starting_capital"] = to_plain_str(q2(starting_capital))
    if timezone is not None:
        fields["timezone"] = parse_timezone(timezone).key
    if fields:
        await store.merge_user_settings(uid, fields)
    return await load_user_settings(store, uid)


@dataclass(frozen=True)
class TradeFilter:
    """Filters of the metrics endpoints. Dates are inclusive close dates in the user's time
    zone (a trade's P&L belongs to the day it is realized); they apply to CLOSED trades.

    Raises (on construction):
        InvalidRequest: ``invalid_date_range`` when ``start_date > end_date``.
    """

    start_date: date | None = None
    end_date: date | None = None
    source: str | None = None
    strategy_id: str | None = None
    symbol: str | None = None

    def __post_init__(self) -> None:
        if self.start_date and self.end_date and self.start_date > self.end_date:
            raise InvalidRequest("start_date is after end_date.", code="invalid_date_range")

    def matches_attributes(self, doc: dict[str, Any]) -> bool:
        """Source, strategy and symbol match (trades without ``source`` are paper)."""
        return (
            (self.source is None or (doc.get("source") or "paper") == self.source)
            and (self.strategy_id is None or doc.get("strategy_id") == self.strategy_id)
            and (self.symbol is None or doc.get("symbol") == self.symbol)
        )

    def matches_closed(self, doc: dict[str, Any], tz: ZoneInfo) -> bool:
        """A CLOSED trade document passes every filter."""
        if not self.matches_attributes(doc):
            return False
        if self.start_date or self.end_date:
            closed = doc.get("closed_at")
            if not isinstance(closed, datetime):
                return False
            day = closed.astimezone(tz).date()
            if (self.start_date and day < self.start_date) or (self.end_date and day > self.end_date):
                return False
        return True


def closed_trade_of(doc: dict[str, Any]) -> ClosedTrade:
    """The metric input of a CLOSED trade document."""
    risk = doc.get("risk_amount")
    created = doc.get("created_at")
    return ClosedTrade(
        pnl=realized_pnl_of(doc),
        closed_at=doc["closed_at"],
        opened_at=created if isinstance(created, datetime) else None,
        symbol=doc.get("symbol", ""),
        strategy_id=doc.get("strategy_id", ""),
        source=doc.get("source") or "paper",
        risk=to_decimal(risk, field="risk_amount") if risk else None,
    )


async def _split(store: Store, uid: str, flt: TradeFilter, tz: ZoneInfo) -> tuple[list[dict], list[dict]]:
    open_trades, closed = [], []
    async for doc in store.stream_trades(uid):
        if doc.get("status") == "CLOSED":
            if flt.matches_closed(doc, tz):
                closed.append(doc)
        elif flt.matches_attributes(doc):
            open_trades.append(doc)
    return open_trades, closed


async def dashboard_for(store: Store, *, uid: str, flt: TradeFilter) -> dict[str, Any]:
    """``GET /trades/shadow/dashboard``: seed 002's response plus the extra metrics, for the
    user's CLOSED trades passing ``flt``, with their settings."""
    settings = await load_user_settings(store, uid)
    _, closed = await _split(store, uid, flt, settings.timezone)
    result = compute_dashboard(
        [closed_trade_of(d) for d in closed], starting_capital=settings.starting_capital, tz=settings.timezone
    )
    result["filters"] = {
        "start_date": flt.start_date.isoformat() if flt.start_date else None,
        "end_date": flt.end_date.isoformat() if flt.end_date else None,
        "source": flt.source, "strategy_id": flt.strategy_id, "symbol": flt.symbol,
    }
    return result


async def shadow_metrics_filtered(store: Store, *, uid: str, flt: TradeFilter) -> ShadowMetrics:
    """Seed 001's aggregate over the trades passing ``flt`` (OPEN trades: attribute filters
    only, as they have no close date)."""
    settings = await load_user_settings(store, uid)
    open_trades, closed = await _split(store, uid, flt, settings.timezone)
    docs = await store.get_quotes(t["symbol"] for t in open_trades)
    marks = {sym: Quote.from_document(sym, d).as_mark() for sym, d in docs.items()}
    return compute_shadow_metrics(open_trades=open_trades, closed_trades=closed, live_prices_by_symbol=marks)


def metrics_record_view(record: dict[str, Any] | None) -> dict[str, Decimal | int]:
    """The story's ``metrics.json`` shape from the stored counters: ``totalTrades``,
    ``winRate`` (percent), ``totalPnl`` (USD), ``averagePnlPerTrade`` (USD), 0.01 half up;
    plus ``wins``, ``losses``, ``breakEven``."""
    record = record or {}
    total = int(record.get("totalTrades", 0))
    wins = int(record.get("wins", 0))
    with localcontext(MONEY_CONTEXT):
        total_pnl = Decimal(int(record.get("totalPnlCents", 0))) / HUNDRED
        return {
            "totalTrades": total,
            "winRate": q2(Decimal(wins) / total * HUNDRED if total else ZERO),
            "totalPnl": q2(total_pnl),
            "averagePnlPerTrade": q2(total_pnl / total if total else ZERO),
            "wins": wins,
            "losses": int(record.get("losses", 0)),
            "breakEven": int(record.get("breakEven", 0)),
        }
