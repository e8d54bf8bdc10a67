"""The FastAPI application: lifespan (one Firestore client per process), routers, error handlers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from google.api_core import exceptions as gexc
from google.cloud import firestore
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import __version__
from .auth import firebase_app
from .config import Settings, get_settings
from .errors import InvalidRequest, ServiceError, StorageUnavailable
from .repository import Store
from .routers import health, quotes, trades, users
from .routing import BodyDecodeError, RequestContextMiddleware, error_response
from .web import endpoints as web_endpoints

log = logging.getLogger(__name__)

_HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "not_permitted", 404: "not_found",
               405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type"}


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app.

    Args:
        settings: the settings to use (tests pass their own); default: from the environment.

    Raises:
        ValueError: when the settings are unsafe (emulator variables in production).
    """
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = firestore.AsyncClient(project=settings.GOOGLE_CLOUD_PROJECT)
        app.state.store = Store(client, timeout_seconds=settings.FIRESTORE_TIMEOUT_SECONDS)
        app.state.firebase_app = firebase_app(settings.GOOGLE_CLOUD_PROJECT)
        try:
            yield
        finally:
            client.close()

    app = FastAPI(
        title="Strategy Service",
        version=__version__,
        description="Shadow (paper) trading at live quotes with exact Decimal P&L and metrics.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.MAX_BODY_BYTES)
    app.include_router(health.router)
    app.include_router(trades.router)
    app.include_router(quotes.router)
    app.include_router(users.router)
    app.include_router(web_endpoints.router)  # the dashboard page at / (web/)

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
        return error_response(
            InvalidRequest(f"{where}: {first['msg']}", code="validation_error", details=details)
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc, BodyDecodeError):
            return error_response(exc.service_error)
        err = ServiceError(str(exc.detail), code=_HTTP_CODES.get(exc.status_code, "http_error"),
                           headers=dict(exc.headers or {}))
        err.status_code = exc.status_code
        return error_response(err)

    @app.exception_handler(gexc.GoogleAPIError)
    async def _storage_error(_: Request, exc: gexc.GoogleAPIError) -> JSONResponse:
        log.warning("storage failure: %s", type(exc).__name__)
        return error_response(
            StorageUnavailable(
                "The trade store is unavailable right now; nothing was changed that you cannot "
                "retry. Retry after the delay given in Retry-After.",
                headers={"Retry-After": str(settings.RETRY_AFTER_SECONDS)},
            )
        )

    return app


app = create_app()
