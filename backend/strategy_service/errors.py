"""Domain errors that carry their HTTP status and a stable machine-readable code.

Services raise these; one handler in ``main.py`` turns them into the API's single error
body shape: ``{"error": {"code", "message", "request_id", "details"}}``.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Base of every error the API answers on purpose.

    Attributes:
        status_code: HTTP status of the answer.
        code: stable machine-readable code (snake_case); clients branch on it.
        message: a sentence a person understands.
        details: optional structured detail (field errors...).
        headers: extra response headers (``Retry-After``...).
    """

    status_code = 500
    code = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details
        self.headers = headers or {}


class BadRequest(ServiceError):
    """400: the request cannot be read at all (malformed JSON...)."""

    status_code = 400
    code = "bad_request"


class Unauthenticated(ServiceError):
    """401: no valid Firebase ID token."""

    status_code = 401
    code = "unauthenticated"


class NotPermitted(ServiceError):
    """403: authenticated, but this caller may not do this."""

    status_code = 403
    code = "not_permitted"


class ResourceNotFound(ServiceError):
    """404: no such resource for this caller (another user's resource included)."""

    status_code = 404
    code = "not_found"


class StateConflict(ServiceError):
    """409: the resource is in a state that does not allow the operation now."""

    status_code = 409
    code = "conflict"


class PayloadTooLarge(ServiceError):
    """413: the body is larger than ``MAX_BODY_BYTES``."""

    status_code = 413
    code = "payload_too_large"


class InvalidRequest(ServiceError):
    """422: the request is well-formed but cannot be honoured (bad values, no usable quote)."""

    status_code = 422
    code = "invalid_request"


class StorageUnavailable(ServiceError):
    """503: Firestore could not be reached, timed out or aborted; the client may retry."""

    status_code = 503
    code = "storage_unavailable"


#: Error responses documented in OpenAPI for every authenticated route.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid Firebase ID token (`unauthenticated`)."},
    422: {"description": "Invalid input (`validation_error` or a domain code)."},
    503: {"description": "Storage unavailable (`storage_unavailable`); retry after `Retry-After`."},
}
