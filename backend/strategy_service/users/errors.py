"""Error codes of the users domain (one class per code)."""

from __future__ import annotations

from ..core.errors import InvalidRequest


class InvalidCalendar(InvalidRequest):
    """A trading calendar exchange-calendars does not know."""

    code = "invalid_calendar"
    description = "The calendar is not one exchange-calendars knows (XNYS, 24/7, XLON...)."


class InvalidTimezone(InvalidRequest):
    """A time zone that is not an IANA name."""

    code = "invalid_timezone"
    description = "The time zone is not an IANA name (e.g. America/New_York)."
