"""Domain errors: one class per error code, each carrying its HTTP status and stable code.

Services raise these; one handler (``api/errors.py``) turns them into the API's single
error body ``{"error": {"code", "message", "request_id", "details"?}}``. Endpoints
declare the classes they may raise, so OpenAPI lists every code. This module is pure:
it imports no web or storage library.

The status classes (:class:`InvalidRequest`, :class:`ResourceNotFound`...) are the bases;
the concrete codes of each domain live in that domain's ``errors.py``; the codes that
belong to no domain (authentication, request decoding, storage) are defined here.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ServiceError(Exception):
    """Base of every error the API answers on purpose.

    Class attributes:
        status_code: HTTP status of the answer.
        code: stable machine-readable code (snake_case); clients branch on it.
        description: when the code is used (shown in OpenAPI).

    Args:
        message: a sentence a person understands (the body's ``message``).
        details: optional structured detail (field errors...), sent as ``details``.
        headers: extra response headers (``Retry-After``...).
    """

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    description: ClassVar[str] = "An unexpected error."

    def __init__(self, message: str, *, details: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers or {}


# ----------------------------------------------------------------- the status classes
class BadRequest(ServiceError):
    """400: the request cannot be read at all."""

    status_code = 400
    code = "bad_request"
    description = "The request cannot be read."


class Unauthenticated(ServiceError):
    """401: no valid Firebase ID token."""

    status_code = 401
    code = "unauthenticated"
    description = "No Authorization: Bearer <Firebase ID token> header, or not a Bearer token."


class NotPermitted(ServiceError):
    """403: authenticated, but this caller may not do this."""

    status_code = 403
    code = "not_permitted"
    description = "The caller may not do this."


class ResourceNotFound(ServiceError):
    """404: no such resource for this caller (another user's resource included)."""

    status_code = 404
    code = "not_found"
    description = "No such route or resource."


class MethodNotAllowed(ServiceError):
    """405: the route exists, the method does not."""

    status_code = 405
    code = "method_not_allowed"
    description = "The route does not take this HTTP method."


class StateConflict(ServiceError):
    """409: the resource is in a state that does not allow the operation now."""

    status_code = 409
    code = "conflict"
    description = "The resource's state does not allow this now."


class PayloadTooLarge(ServiceError):
    """413: the body is larger than ``MAX_BODY_BYTES``."""

    status_code = 413
    code = "payload_too_large"
    description = "The body is larger than MAX_BODY_BYTES."


class UnsupportedMediaType(ServiceError):
    """415: the body's media type is not JSON."""

    status_code = 415
    code = "unsupported_media_type"
    description = "The body is not JSON."


class InvalidRequest(ServiceError):
    """422: the request is well-formed but cannot be honoured (bad values, no usable quote)."""

    status_code = 422
    code = "invalid_request"
    description = "The request cannot be honoured."


class ServiceUnavailable(ServiceError):
    """503: a dependency (storage, token keys) failed in a way the client may retry."""

    status_code = 503
    code = "service_unavailable"
    description = "A dependency is unavailable; retry after Retry-After."


# ----------------------------------------------------------- codes of no single domain
class InvalidJson(BadRequest):
    """The body is not JSON, or holds ``NaN``/``Infinity``."""

    code = "invalid_json"
    description = "The body is not valid JSON, or holds NaN or Infinity."


class InvalidToken(Unauthenticated):
    """firebase-admin rejected the token (signature, expiry, audience, issuer, subject)."""

    code = "invalid_token"
    description = "The ID token is invalid or expired."


class ValidationFailed(InvalidRequest):
    """A field is missing, unknown, wrong-typed or out of range (``details`` lists each)."""

    code = "validation_error"
    description = "A missing, unknown, wrong-typed or out-of-range field; details lists each."


class StorageUnavailable(ServiceUnavailable):
    """Firestore could not be reached, timed out or aborted; nothing was half-written."""

    code = "storage_unavailable"
    description = "Firestore is unreachable, timed out or aborted; retry after Retry-After."


class StorageRejected(ServiceError):
    """Firestore refused a write for good (a production limit such as the index entries or
    the size of a document, or an invalid argument): retrying the same request cannot
    succeed. Nothing was written; the cause is logged."""

    status_code = 500
    code = "storage_rejected"
    description = "Firestore refused the write for good (a limit or an invalid argument); nothing was written."


class StorageNotConfigured(ServiceError):
    """No Firestore to talk to: neither an emulator address nor credentials."""

    status_code = 500
    code = "storage_not_configured"
    description = "Firestore is not configured: set FIRESTORE_EMULATOR_HOST, or credentials for a real project."


class AuthUnavailable(ServiceUnavailable):
    """Google's token keys (or credentials) cannot be fetched right now."""

    code = "auth_unavailable"
    description = "Token keys cannot be fetched right now; retry after Retry-After."


#: Errors any authenticated route may answer (added to every route's OpenAPI responses).
AUTHENTICATED_ROUTE_ERRORS: tuple[type[ServiceError], ...] = (
    Unauthenticated, InvalidToken, ValidationFailed, StorageUnavailable, StorageRejected, AuthUnavailable,
)
