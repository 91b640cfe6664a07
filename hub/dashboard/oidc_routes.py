"""``/login/oidc`` and its callback: sign-in through the institution's identity provider.

The flow's ``state``, ``nonce`` and PKCE verifier travel in a short-lived HttpOnly cookie
(``SameSite=Lax``: the provider's redirect back is a cross-site navigation, which a Strict
cookie would not survive). The callback answers with a page that moves on by itself (a meta
refresh, no script): the session cookie is ``SameSite=Strict``, and a browser does not send it
on the rest of a redirect chain that began on the provider's site.
"""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hub.auth.oidc import OidcClient, OidcError, new_flow
from hub.dashboard.session import DashboardAuth, safe_next
from hub.log import get_logger

__all__ = ["oidc_router"]

log = get_logger("hub.dashboard.oidc")

FLOW_SECONDS = 600

#: (request, message, status) → the sign-in page with that message.
LoginPage = Callable[[Request, str, int], Response]
#: (request, user id, user name, how, target) → the response that opens the session.
OpenSession = Callable[[Request, int, str, str, str], Awaitable[Response]]


def _encode(flow: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(flow).encode()).decode()


def _decode(value: str | None) -> dict[str, Any] | None:
    if not value or len(value) > 2048:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(value.encode()))
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def oidc_router(
    client: OidcClient, auth: DashboardAuth, login_page: LoginPage, open_session: OpenSession
) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    settings = client.settings
    cookie = "__Host-hub_oidc" if auth.settings.cookie_secure else "hub_oidc"

    def redirect_uri(request: Request) -> str:
        return settings.redirect_url or str(request.base_url).rstrip("/") + "/login/oidc/callback"

    @router.get("/login/oidc")
    async def start(request: Request) -> Response:
        flow = new_flow()
        flow["next"] = safe_next(request.query_params.get("next"))
        try:
            url = await client.authorization_url(flow, redirect_uri(request))
        except OidcError as exc:
            log.error("hub.dashboard.oidc_failed", step=str(exc))
            return login_page(request, "Furnizorul de identitate nu răspunde. Reîncercați.", 502)
        response = RedirectResponse(url, 303)
        response.set_cookie(
            cookie,
            _encode(flow),
            max_age=FLOW_SECONDS,
            path="/",
            secure=auth.settings.cookie_secure,
            httponly=True,
            samesite="lax",
        )
        return response

    @router.get("/login/oidc/callback")
    async def callback(request: Request) -> Response:
        flow = _decode(request.cookies.get(cookie))
        state = request.query_params.get("state", "")
        code = request.query_params.get("code")
        if flow is None or not hmac.compare_digest(  # bytes: non-ASCII state is no 500
            str(flow.get("state", "")).encode(), state.encode()
        ):
            return login_page(request, "Sesiunea de autentificare a expirat. Reîncercați.", 403)
        if not code:
            return login_page(request, "Autentificarea instituțională a fost anulată.", 401)
        try:
            subject = await client.subject(code, flow, redirect_uri(request))
        except OidcError as exc:
            log.error("hub.dashboard.oidc_failed", step=str(exc))
            return login_page(request, "Autentificarea instituțională a eșuat. Reîncercați.", 401)
        creds = await auth.runner.read(auth.store.by_oidc_subject, subject)
        if creds is None or creds.disabled:
            log.info("hub.dashboard.oidc_unknown_subject")
            return login_page(
                request,
                "Contul dumneavoastră instituțional nu are acces la hub. "
                "Cereți unui administrator să vă creeze un utilizator.",
                403,
            )
        response = await open_session(
            request, creds.user_id, creds.name, "oidc", safe_next(str(flow.get("next", "/")))
        )
        response.delete_cookie(cookie, path="/", secure=auth.settings.cookie_secure)
        return response

    return router
