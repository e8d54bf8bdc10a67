"""``GET /trades/shortfall``: each signal's shadow and live fills against its decision price."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from ..api.deps import CurrentUser, SettingsDep, ShortfallDep
from ..api.errors import responses
from ..api.routing import DecimalJSONRoute
from ..api.schemas import ID_PATTERN
from ..core.money import to_plain_str
from ..performance.errors import InvalidDateRange
from ..quotes.service import SYMBOL_PATTERN
from ..trades.errors import InvalidCursor, PageSizeTooLarge
from .schemas import CONVENTIONS, ShortfallOut, row_view, summary_view
from .service import ShortfallFilter

router = APIRouter(tags=["shortfall"], route_class=DecimalJSONRoute)
#: A signal's id: ``{strategy_id}|{signal_id}``, both client ids.
SIGNAL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}\|[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$"


@router.get("/trades/shortfall", response_model=ShortfallOut,
            responses=responses(InvalidDateRange, PageSizeTooLarge, InvalidCursor),
            summary="Implementation shortfall: live fills against shadow fills, signal by signal")
async def get_shortfall(
    user: CurrentUser,
    shortfall: ShortfallDep,
    settings: SettingsDep,
    start_date: Annotated[date | None, Query(description="First decision day (inclusive), user's time zone.")] = None,
    end_date: Annotated[date | None, Query(description="Last decision day (inclusive), user's time zone.")] = None,
    strategy_id: Annotated[str | None, Query(pattern=ID_PATTERN, max_length=128)] = None,
    symbol: Annotated[str | None, Query(pattern=SYMBOL_PATTERN, max_length=15)] = None,
    shadow_source: Annotated[Literal["paper", "backtest"], Query(
        description="The source the tracking difference compares live with.")] = "paper",
    limit: Annotated[int | None, Query(ge=1)] = None,
    cursor: Annotated[str | None, Query(pattern=SIGNAL_ID_PATTERN, max_length=260,
                                        description="The previous page's next_cursor.")] = None,
) -> dict[str, Any]:
    """Per-signal rows (paged, newest first), the summary and the per strategy, symbol and
    day groups of every signal of the selection, and the tracking difference of realized
    P&L (live minus shadow) per close day. Signs: positive = worse for the trader."""
    if start_date and end_date and start_date > end_date:
        raise InvalidDateRange("start_date is after end_date.")
    size = limit or settings.PAGE_SIZE_DEFAULT
    if size > settings.PAGE_SIZE_MAX:
        raise PageSizeTooLarge(f"limit is at most {settings.PAGE_SIZE_MAX}.")
    flt = ShortfallFilter(start_date=start_date, end_date=end_date, strategy_id=strategy_id,
                          symbol=symbol.upper() if symbol else None, shadow_source=shadow_source)
    report = await shortfall.report(user.uid, flt, limit=size, cursor=cursor)
    return {
        "items": [row_view(i, r) for i, r in report.items], "next_cursor": report.next_cursor,
        "summary": summary_view(report.summary),
        "groups": [{"strategy_id": k[0], "symbol": k[1], "day": k[2] or None, **summary_view(v)}
                   for k, v in report.groups.items()],
        "tracking": [{k: to_plain_str(v) if not isinstance(v, str) else v for k, v in t.items()}
                     for t in report.tracking],
        "filters": {"start_date": start_date.isoformat() if start_date else None,
                    "end_date": end_date.isoformat() if end_date else None, "strategy_id": strategy_id,
                    "symbol": flt.symbol, "shadow_source": shadow_source},
        "conventions": CONVENTIONS,
    }
