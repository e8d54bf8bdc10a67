"""Errors on the wire: the one error body, the exception handlers, and the OpenAPI
declaration of each route's error codes."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..core.errors import (
    AUTHENTICATED_ROUTE_ERRORS,
    BadRequest,
    MethodNotAllowed,
    NotPermitted,
    PayloadTooLarge,
    ResourceNotFound,
    ServiceError,
    Unauthenticated,
    UnsupportedMediaType,
    ValidationFailed,
)
from .routing import BodyDecodeError, error_response
from .schemas import ErrorResponse

#: Framework-level HTTP errors (unknown route, wrong method...) as domain error classes.
_HTTP_ERRORS: dict[int, type[ServiceError]] = {
    400: BadRequest, 401: Unauthenticated, 403: NotPermitted, 404: ResourceNotFound,
    405: MethodNotAllowed, 413: PayloadTooLarge, 415: UnsupportedMediaType,
}


def responses(*errors: type[ServiceError], authenticated: bool = True) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` of a route that may raise ``errors``: one entry per status,
    with the shared :class:`ErrorResponse` model, each code and its meaning in the
    description, and an example body per code. Authenticated routes also list
    :data:`~..core.errors.AUTHENTICATED_ROUTE_ERRORS`."""
    by_status: dict[int, list[type[ServiceError]]] = defaultdict(list)
    for cls in (*(AUTHENTICATED_ROUTE_ERRORS if authenticated else ()), *errors):
        if cls not in by_status[cls.status_code]:
            by_status[cls.status_code].append(cls)
    out: dict[int | str, dict[str, Any]] = {}
    for status in sorted(by_status):
        classes = by_status[status]
        examples = {
            f"{cls.code}-{i}" if sum(c.code == cls.code for c in classes) > 1 else cls.code: {
                "summary": cls.description,
                "value": {"error": {"code": cls.code, "message": cls.description, "request_id": "5f0c2a..."}},
            }
            for i, cls in enumerate(classes)
        }
        out[status] = {
            "model": ErrorResponse,
            "description": "; ".join(f"`{cls.code}`: {cls.description}" for cls in classes),
            "content": {"application/json": {"examples": examples}},
        }
    return out


def install_handlers(app: FastAPI) -> None:
    """Answer every :class:`ServiceError`, request validation error and framework HTTP
    error with the one error body."""

    @app.exception_handler(ServiceError)
    async def _service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"] if p != "body") or "request"
        return error_response(ValidationFailed(f"{where}: {first['msg']}", details=details))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc, BodyDecodeError):
            return error_response(exc.service_error)
        cls = _HTTP_ERRORS.get(exc.status_code)
        if cls is None:  # a status no domain class stands for: keep it, code "http_error"
            err = ServiceError(str(exc.detail), headers=dict(exc.headers or {}))
            err.status_code, err.code = exc.status_code, "http_error"  # type: ignore[misc]
            return error_response(err)
        return error_response(cls(str(exc.detail), headers=dict(exc.headers or {})))
