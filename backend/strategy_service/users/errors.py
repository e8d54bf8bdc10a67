"""Error codes of the users domain (one class per code)."""

from __future__ import annotations

from ..core.errors import InvalidRequest


class InvalidTimezone(InvalidRequest):
    """A time zone that is not an IANA name."""

    code = "invalid_timezone"
    description = "The time zone is not an IANA name (e.g. America/New_York)."
