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


class RequestContextMiddleware:
    """Gives every request an id (``X-Request-ID`` in, or a new one), echoes it in the
    response, writes one access log line with it (method, path, status, milliseconds; no
    header, so no token, is logged), and refuses bodies larger than ``max_body_bytes`` with
    413: by ``Content-Length``, or while reading a chunked body that has none.

    A plain ASGI middleware (Starlette's ``BaseHTTPMiddleware`` cost about 1 ms of CPU per
    request: ``docs/performance.md``)."""

    def __init__(self, app: Any, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    def too_large(self) -> JSONResponse:
        """The 413 answer (built when needed: it carries the request id)."""
        return error_response(PayloadTooLarge(f"The body is larger than {self.max_body_bytes} bytes."))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        incoming = headers.get("x-request-id", "")
        rid = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        token = request_id_var.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            length = headers.get("content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
                await self.too_large()(scope, receive, send_with_id)
                return
            if length is None and scope["method"] in ("POST", "PUT", "PATCH"):
                chunks, size, more = [], 0, True
                while more:  # chunked: count while reading, stop past the cap
                    message = await receive()
                    if message["type"] != "http.request":
                        break
                    chunks.append(message.get("body", b""))
                    size += len(chunks[-1])
                    more = message.get("more_body", False)
                    if size > self.max_body_bytes:
                        await self.too_large()(scope, receive, send_with_id)
                        return
                body, replayed = b"".join(chunks), False

                async def replay() -> dict[str, Any]:
                    nonlocal replayed
                    if not replayed:
                        replayed = True
                        return {"type": "http.request", "body": body, "more_body": False}
                    return await receive()

                await self.app(scope, replay, send_with_id)
                return
            await self.app(scope, receive, send_with_id)
        finally:
            access_log.info("%s %s %s %.1f ms", scope["method"], scope["path"], status,
                            (time.perf_counter() - started) * 1000)
            request_id_var.reset(token)
