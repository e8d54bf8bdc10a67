"""Request plumbing: exact-Decimal JSON bodies, request ids, body size limit."""

from __future__ import annotations

import contextvars
import json
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.responses import JSONResponse
import simplejson
from fastapi.routing import APIRoute
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from ..core.errors import InvalidJson, PayloadTooLarge, ServiceError

#: The id of the request being served (logs and error bodies carry it).
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def error_response(err: ServiceError) -> JSONResponse:
    """The API's one error body, ``{"error": {"code", "message", "request_id", "details"?}}``."""
    body: dict[str, Any] = {"code": err.code, "message": err.message, "request_id": request_id_var.get()}
    if err.details is not None:
        body["details"] = err.details
    return JSONResponse({"error": body}, status_code=err.status_code, headers=err.headers or None)


class DecimalJSONResponse(JSONResponse):
    """JSON response that writes ``Decimal`` values as JSON numbers with their exact digits
    (``12750.00``), as the dashboard metrics specification's format shows them."""

    def render(self, content: Any) -> bytes:
        return simplejson.dumps(content, use_decimal=True, ensure_ascii=False, separators=(",", ":")).encode()


class BodyDecodeError(HTTPException):
    """Carries a :class:`ServiceError` through FastAPI's body parsing, which re-raises
    ``HTTPException`` as it is (any other error there becomes a generic 400)."""

    def __init__(self, error: ServiceError) -> None:
        super().__init__(status_code=error.status_code, detail=error.message)
        self.service_error = error


def _refuse_constant(name: str) -> Any:
    raise BodyDecodeError(InvalidJson(f"{name} is not a number this API accepts."))


class DecimalJSONRequest(Request):
    """A request whose JSON numbers become ``Decimal`` (never a binary float), and whose
    ``NaN``/``Infinity`` literals are refused."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = json.loads(body, parse_float=Decimal, parse_constant=_refuse_constant)
            except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
                raise BodyDecodeError(InvalidJson("The body is not valid JSON.")) from exc
        return self._json


class DecimalJSONRoute(APIRoute):
    """Route class that hands handlers a :class:`DecimalJSONRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            return await original(DecimalJSONRequest(request.scope, request.receive))

        return handler


access_log = logging.getLogger("strategy_service.access")


class RequestContextMiddleware(BaseHTTPMiddleware):
    """Gives every request an id (``X-Request-ID`` in, or a new one), echoes it in the
    response, writes one access log line with it (method, path, status, milliseconds; no
    header, so no token, is logged), and refuses bodies larger than ``max_body_bytes`` with
    413: by ``Content-Length``, or while reading a chunked body that has none."""

    def __init__(self, app: Any, *, max_body_bytes: int) -> None:
        super().__init__(app)
        self.max_body_bytes = max_body_bytes

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        incoming = request.headers.get("x-request-id", "")
        rid = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        token = request_id_var.set(rid)
        started = time.perf_counter()
        status = 500
        try:
            too_large = error_response(PayloadTooLarge(f"The body is larger than {self.max_body_bytes} bytes."))
            length = request.headers.get("content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
                status = 413
                return too_large
            if length is None and request.method in ("POST", "PUT", "PATCH"):
                chunks, size = [], 0
                async for chunk in request.stream():  # chunked: count while reading, stop past the cap
                    size += len(chunk)
                    if size > self.max_body_bytes:
                        status = 413
                        return too_large
                    chunks.append(chunk)
                request._body = b"".join(chunks)  # replayed to the route by BaseHTTPMiddleware
            response = await call_next(request)
            response.headers["X-Request-ID"] = rid
            status = response.status_code
            return response
        finally:
            access_log.info("%s %s %s %.1f ms", request.method, request.url.path, status,
                            (time.perf_counter() - started) * 1000)
            request_id_var.reset(token)

