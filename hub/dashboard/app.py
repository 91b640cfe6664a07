"""Wiring: templates, static files, error pages, security headers, and the guarded API docs."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from hub.api.errors import ApiError
from hub.auth.oidc import OidcClient
from hub.auth.users import UserStore
from hub.dashboard.formatting import FILTERS
from hub.dashboard.jobs import BulkJobs
from hub.dashboard.routes import dashboard_router
from hub.dashboard.security import CSP, ApiGate, SecurityHeaders
from hub.dashboard.session import CsrfRejected, DashboardAuth, Forbidden, SignInRequired
from hub.runtime import Hub

__all__ = ["STATIC_PREFIX", "mount_dashboard"]

STATIC = Path(__file__).parent / "static"
STATIC_PREFIX = "/static"
#: FastAPI's own documentation routes, replaced by guarded ones.
_DOC_PATHS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
_SWAGGER_CDN = "https://cdn.jsdelivr.net"


def _templates() -> Jinja2Templates:
    env = Environment(
        loader=PackageLoader("hub.dashboard", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return Jinja2Templates(env=env)


def mount_dashboard(app: FastAPI, hub: Hub) -> None:
    """Add the dashboard to ``app`` (the API built by :func:`hub.api.app.create_app`)."""
    settings = hub.settings.dashboard
    store = UserStore(
        hub.writer,
        hub.reader,
        max_failures=settings.lockout_failures,
        lockout_seconds=settings.lockout_minutes * 60,
    )
    auth = DashboardAuth(store, hub.runner, settings, hub.settings.api_host)
    templates = _templates()
    jobs = BulkJobs(hub)
    app.state.dashboard_auth = auth
    app.state.dashboard_jobs = jobs
    _guard_api_docs(app, auth)
    if settings.enabled:
        oidc = OidcClient(hub.settings.oidc) if hub.settings.oidc.enabled else None
        app.include_router(dashboard_router(hub, auth, templates, jobs, oidc))
        app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC), name="static")
    _install_handlers(app, auth, templates)
    app.add_middleware(ApiGate, authenticator=app.state.authenticator)
    app.add_middleware(SecurityHeaders, csp_for={"/docs": _swagger_csp(app)})


def _install_handlers(app: FastAPI, auth: DashboardAuth, templates: Jinja2Templates) -> None:
    def page(request: Request, status: int, title: str, message: str) -> Response:
        response = templates.TemplateResponse(
            request,
            "error.html",
            {
                "viewer": getattr(request.state, "viewer", None),
                "title": title,
                "message": message,
                "csrf_field": "csrf_token",
                "refresh_seconds": 0,
            },
            status_code=status,
        )
        response.headers["cache-control"] = "no-store"
        return response

    async def sign_in(request: Request, _exc: Exception) -> Response:
        if request.headers.get("hx-request") == "true":
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        if request.method in ("GET", "HEAD"):
            return RedirectResponse(auth.sign_in_url(request), 303)
        return page(
            request, 401, "Autentificare necesară", "Sesiunea a expirat. Autentificați-vă din nou."
        )

    async def forbidden(request: Request, _exc: Exception) -> Response:
        return page(
            request, 403, "Acces interzis", "Rolul dumneavoastră nu permite această acțiune."
        )

    async def csrf(request: Request, _exc: Exception) -> Response:
        return page(
            request,
            403,
            "Cerere respinsă",
            "Cererea nu poartă tokenul de siguranță al sesiunii (CSRF) sau vine de pe alt site. "
            "Reîncărcați pagina și reîncercați.",
        )

    app.add_exception_handler(SignInRequired, sign_in)
    app.add_exception_handler(Forbidden, forbidden)
    app.add_exception_handler(CsrfRejected, csrf)


def _guard_api_docs(app: FastAPI, auth: DashboardAuth) -> None:
    """The OpenAPI document and Swagger UI answer to a signed-in person or a valid token."""
    kept: list[BaseRoute] = [
        r for r in app.router.routes if getattr(r, "path", None) not in _DOC_PATHS
    ]
    app.router.routes[:] = kept

    async def allowed(request: Request) -> None:
        if await auth.viewer(request) is not None:
            return
        if request.headers.get("authorization"):
            await request.app.state.authenticator.check(request, None)
            return
        raise SignInRequired

    async def openapi_json(request: Request) -> Response:
        try:
            await allowed(request)
        except SignInRequired:
            raise ApiError(
                401,
                "a valid bearer token or a dashboard session is required",
                headers={"WWW-Authenticate": 'Bearer realm="hub"'},
            ) from None
        return JSONResponse(app.openapi())

    async def swagger(request: Request) -> Response:
        await allowed(request)
        return _swagger_html(app)

    app.router.routes.append(
        Route("/openapi.json", openapi_json, methods=["GET"], include_in_schema=False)
    )
    app.router.routes.append(Route("/docs", swagger, methods=["GET"], include_in_schema=False))


def _swagger_html(app: FastAPI) -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - Swagger UI")


def _swagger_csp(app: FastAPI) -> str:
    """Swagger UI's page: its one inline script allowed by hash, its files from jsDelivr."""
    html = bytes(_swagger_html(app).body).decode()
    hashes = []
    for script in re.findall(r"<script>(.*?)</script>", html, flags=re.S):
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        hashes.append(f"'sha256-{digest}'")
    extra: dict[str, Any] = {
        "script-src": f"'self' {_SWAGGER_CDN} {' '.join(hashes)}",
        "style-src": f"'self' {_SWAGGER_CDN}",
        "img-src": "'self' data: https://fastapi.tiangolo.com",
    }
    parts = []
    for directive in CSP.split("; "):
        key = directive.split(" ", 1)[0]
        parts.append(f"{key} {extra[key]}" if key in extra else directive)
    return "; ".join(parts)
