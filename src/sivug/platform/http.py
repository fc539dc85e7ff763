"""HTTP plumbing shared by every route: request ids, access logs and the error format."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any, TypeVar

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sivug.platform.errors import AppError, BadRequest, PayloadTooLarge, RateLimited
from sivug.platform.logging import get_logger
from sivug.platform.metrics import HTTP_LATENCY, HTTP_REQUESTS

log = get_logger("sivug.http")

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

_Body = TypeVar("_Body", bound=BaseModel)


class RequestContextMiddleware:
    """Binds a request id to every log line of the request and returns it in a header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            HTTP_REQUESTS.labels(scope["method"], template, str(status)).inc()
            HTTP_LATENCY.labels(scope["method"], template).observe(elapsed)
            log.info(
                "http.request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round(elapsed * 1000, 1),
            )
            structlog.contextvars.clear_contextvars()


#: JSON bodies of the API are small (a description is at most 4,000 characters).
MAX_JSON_BYTES = 1024 * 1024


async def read_body(request: Request, *, max_bytes: int, what: str = "Request bodies") -> bytes:
    """The raw body, refused with a 413 before it is read in full when it is larger than
    ``max_bytes``, and with a 400 (not a server error) when the client went away first."""
    too_large = f"{what} are limited to {max_bytes} bytes."
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(too_large)
    chunks = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise PayloadTooLarge(too_large)
            chunks.append(chunk)
    except ClientDisconnect:
        raise BadRequest("The request body did not arrive: the client disconnected.") from None
    return b"".join(chunks)


async def json_body(
    request: Request, model: type[_Body], *, max_bytes: int = MAX_JSON_BYTES
) -> _Body:
    """The request's JSON body read as ``model``, for a route that reads its request itself:
    bad input gets the same 422 as a body FastAPI validated (and ``read_body``'s 413 and
    400)."""
    raw = await read_body(request, max_bytes=max_bytes)
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        problems = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(problems) from None


def documented_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI of a JSON body read by ``json_body`` (the route's ``openapi_extra``)."""
    schema = model.model_json_schema()
    if "$defs" in schema:
        raise TypeError(f"{model.__name__}: a nested body model needs its components listed")
    content = {"application/json": {"schema": schema}}
    return {"requestBody": {"required": True, "content": content}}


def error_response(name: str, detail: str, status_code: int) -> JSONResponse:
    return JSONResponse({"error": name, "detail": detail}, status_code=status_code)


#: Paths whose callers are programs: they always get the JSON error, whatever they accept.
_MACHINE_PATHS = ("/api/", "/webhooks/", "/healthz", "/readyz", "/metrics", "/static/", "/docs")


def wants_html(request: Request) -> bool:
    """A person's browser (a page or an htmx request) outside the API and webhooks."""
    if request.url.path.startswith(_MACHINE_PATHS):
        return False
    accept = request.headers.get("accept", "")
    return request.headers.get("hx-request") == "true" or "text/html" in accept


def _error(request: Request, name: str, detail: str, status_code: int) -> Response:
    """The JSON error, or for browsers the web app's error page (``app.state.html_error_page``,
    set when the web app is mounted)."""
    page = getattr(request.app.state, "html_error_page", None)
    if page is not None and wants_html(request):
        response: Response = page(request, name, detail, status_code)
        return response
    return error_response(name, detail, status_code)


def _field(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(request: Request, exc: AppError) -> Response:
        response = _error(request, exc.name, exc.detail, exc.status_code)
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        if exc.status_code >= 500:
            log.error("http.app_error", error=exc.name, detail=exc.detail)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        problems = [f"{_field(tuple(e['loc']))}: {e['msg']}" for e in exc.errors()]
        return _error(request, "ValidationFailed", "; ".join(problems), 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            detail = f"No route for {request.method} {request.url.path}"
            return _error(request, "NotFound", detail, 404)
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
            return _error(request, "MethodNotAllowed", detail, 405)
        return _error(request, "HTTPError", str(exc.detail), exc.status_code)

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, exc: DBAPIError) -> Response:
        log.error("http.database_error", error=type(exc.orig).__name__)
        return _error(
            request, "DatabaseUnavailable", "The database is unreachable; try again shortly.", 503
        )

    @app.exception_handler(OSError)
    async def os_error(request: Request, exc: OSError) -> Response:
        log.error("http.os_error", error=type(exc).__name__)
        return _error(request, "ServiceUnavailable", "A backing service is unreachable.", 503)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("http.unhandled_error")
        request_id = getattr(request.state, "request_id", "")
        return _error(
            request,
            "InternalError",
            f"Something went wrong on our side (request {request_id}).",
            500,
        )
