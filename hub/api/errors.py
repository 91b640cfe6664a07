"""One error body for every failure the API answers::

    {"error": {"code": "invalid_document", "message": "…", "errors": [{"loc": […], "msg": …}]}}

Validation errors are rendered from pydantic's details *without* the input value, the context
or the documentation URL: the values are the petitioner's personal data (a CNP that fails its
check digit is still somebody's CNP). Messages pass through :func:`hub.redaction.redact_text`
as a second line of defence.

An unexpected exception answers 500 with no detail at all. :class:`ContainErrors` catches it
before Starlette's outermost middleware would, because that one re-raises to the server, which
prints the raw traceback — message included — outside the hub's log redaction. Here it is
logged through structlog instead, where personal data is redacted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.api.responses import OrjsonResponse
from hub.errors import InputError
from hub.log import get_logger
from hub.redaction import redact_text

__all__ = [
    "ApiError",
    "ContainErrors",
    "ErrorBody",
    "ErrorItem",
    "error_response",
    "error_responses",
    "install_error_handlers",
    "render_errors",
]

log = get_logger("hub.api")

#: Machine-readable codes by HTTP status, where the status alone says what happened.
STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    500: "internal_error",
    503: "not_ready",
}

_INPUT_CODES = {413: "payload_too_large", 415: "unsupported_media_type", 422: "invalid_document"}


class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str | None = None


class ErrorInfo(BaseModel):
    code: str
    message: str
    errors: list[ErrorItem] = []


class ErrorBody(BaseModel):
    """The body of every error answer."""

    error: ErrorInfo


class ApiError(Exception):
    """Raised by routes and dependencies; rendered by the handler below."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        errors: Sequence[Mapping[str, Any]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or STATUS_CODES.get(status, f"http_{status}")
        self.message = message
        self.errors = list(errors)
        self.headers = dict(headers or {})


def render_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Keep only the path, the message and the type of each error; never the input."""
    out = []
    for err in errors:
        item: dict[str, Any] = {
            "loc": [p if isinstance(p, int) else redact_text(str(p)) for p in err.get("loc", ())],
            "msg": redact_text(str(err.get("msg", ""))),
        }
        if err.get("type"):
            item["type"] = str(err["type"])
        out.append(item)
    return out


def summarize(errors: Sequence[Mapping[str, Any]], prefix: str) -> str:
    """``prefix: sender.cnp: not a valid CNP`` (first error), for logs and simple clients."""
    if not errors:
        return prefix
    first = errors[0]
    path = ".".join(str(p) for p in first["loc"]) or "(body)"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{prefix}: {path}: {first['msg']}{more}"


def error_response(
    status: int,
    code: str,
    message: str,
    errors: Sequence[Mapping[str, Any]] = (),
    headers: Mapping[str, str] | None = None,
) -> OrjsonResponse:
    body = {"error": {"code": code, "message": message, "errors": list(errors)}}
    return OrjsonResponse(body, status_code=status, headers=dict(headers or {}))


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries documenting the error body for these statuses."""
    return {s: {"model": ErrorBody, "description": STATUS_CODES.get(s, "error")} for s in statuses}


async def _api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(
        exc.status, exc.code, exc.message, render_errors(exc.errors), exc.headers or None
    )


async def _input_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InputError)
    return error_response(
        exc.status,
        _INPUT_CODES.get(exc.status, STATUS_CODES.get(exc.status, "bad_request")),
        redact_text(exc.message),
        render_errors(exc.errors),
    )


async def _request_validation(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = render_errors(exc.errors())
    return error_response(422, "invalid_request", summarize(errors, "invalid request"), errors)


async def _http_exception(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = STATUS_CODES.get(exc.status_code, f"http_{exc.status_code}")
    return error_response(
        exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None)
    )


async def _unexpected(_request: Request, exc: Exception) -> Response:
    log.error("hub.api.unhandled", error_type=type(exc).__name__)
    return error_response(500, "internal_error", "internal error; see the hub's log")


class ContainErrors:
    """ASGI middleware: an exception no handler took becomes a logged, detail-free 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log.error(
                "hub.api.unhandled",
                error_type=type(exc).__name__,
                method=scope.get("method"),
                path=scope.get("path"),
                exc_info=True,
            )
            if not started:
                response = error_response(
                    500, "internal_error", "internal error; see the hub's log"
                )
                await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(InputError, _input_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(Exception, _unexpected)  # if ContainErrors itself fails
    app.add_middleware(ContainErrors)
