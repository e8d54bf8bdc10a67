"""``/users/me/settings``: the caller's starting capital and trading time zone."""

from __future__ import annotations

from fastapi import APIRouter

from ..api.deps import CurrentUser, UsersDep
from ..api.errors import responses
from ..api.routing import DecimalJSONRoute
from .errors import InvalidCalendar, InvalidTimezone
from .schemas import UserSettingsIn, UserSettingsOut

router = APIRouter(tags=["users"], route_class=DecimalJSONRoute)


@router.get("/users/me/settings", response_model=UserSettingsOut, responses=responses(), summary="The caller's settings")
async def get_settings(user: CurrentUser, users: UsersDep) -> dict[str, str]:
    """Starting capital (USD, default 100000.00), trading time zone (default
    America/New_York) and trading calendar (default XNYS)."""
    return (await users.get(user.uid)).as_json()


@router.put("/users/me/settings", response_model=UserSettingsOut, responses=responses(InvalidTimezone, InvalidCalendar),
            summary="Change the caller's settings")
async def put_settings(body: UserSettingsIn, user: CurrentUser, users: UsersDep) -> dict[str, str]:
    """Fields left out keep their value; a new time zone rebuilds the caller's aggregates."""
    settings = await users.update(user.uid, starting_capital=body.starting_capital, timezone=body.timezone,
                                  calendar=body.calendar)
    return settings.as_json()
