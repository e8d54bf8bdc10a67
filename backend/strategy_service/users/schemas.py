"""HTTP models of the users endpoints."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from ..api.schemas import PositiveAmount, Strict


class UserSettingsIn(Strict):
    """``PUT /users/me/settings``: starting capital (USD, > 0) and trading time zone (IANA)."""

    starting_capital: PositiveAmount | None = None
    timezone: Annotated[str, Field(max_length=64)] | None = None
    #: The trading calendar of daily returns (exchange-calendars name): XNYS, 24/7...
    calendar: Annotated[str, Field(max_length=16)] | None = None


class UserSettingsOut(BaseModel):
    """A user's settings as stored (defaults when never set)."""

    starting_capital: str
    timezone: str
    calendar: str
