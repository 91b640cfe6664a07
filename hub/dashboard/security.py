"""Security headers on every response of the app (API and dashboard).

The dashboard runs no inline script or style (htmx is configured through a ``<meta>`` tag with
eval and indicator styles off), so the policy allows scripts and styles from this origin only.
The one exception is ``/docs`` (Swagger UI, behind sign-in): its page loads Swagger UI from
jsDelivr and runs one inline script, allowed by its hash, not by ``'unsafe-inline'``.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.api.errors import error_response

__all__ = ["CSP", "ApiGate", "SecurityHeaders"]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

_COMMON: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    """Pure ASGI middleware (no per-request task, unlike BaseHTTPMiddleware): adds the headers
    unless the response set them itself. ``csp_for`` maps a path prefix to its own policy."""

    def __init__(self, app: ASGIApp, csp_for: dict[str, str] | None = None) -> None:
        self.app = app
        self.csp_for = csp_for or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        csp = next((v for p, v in self.csp_for.items() if path == p), CSP).encode()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", csp))
                headers.extend((k, v) for k, v in _COMMON if k not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class ApiGate:
    """Refuses every request under ``/api/`` and ``/metrics`` without a valid bearer token
    (401) before routing, so that no handler — a plugin's included — can answer anything, not
    even a validation error, to someone unauthenticated. Scopes are still checked per route.
    The token check is :meth:`hub.api.auth.Authenticator.authenticate` with its cache, so the
    handler's own check right after costs a dictionary look-up."""

    PREFIXES = ("/api/", "/metrics")

    def __init__(self, app: ASGIApp, authenticator: Any) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path", "").startswith(self.PREFIXES):
            token = _bearer(scope)
            if token is None or await self.authenticator.authenticate(token) is None:
                response = error_response(
                    401,
                    "unauthorized",
                    "a valid bearer token is required",
                    headers={"WWW-Authenticate": 'Bearer realm="hub"'},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _bearer(scope: Scope) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == b"authorization":
            kind, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            return token if kind.lower() == "bearer" and token else None
    return None
