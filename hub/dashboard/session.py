"""Who is looking at the dashboard: session cookies, sign-in redirects, role checks and CSRF.

Pages declare what they need with :meth:`DashboardAuth.page` (GET) or :meth:`DashboardAuth.action`
(state-changing POST: also checks the session-bound CSRF token and the Origin header). Scopes are
those of :mod:`hub.api.auth`; a user's role stands for a set of them (:mod:`hub.auth.roles`), so
"who may replay" is decided by the same table for a token and for a person.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from starlette.requests import Request

from hub.api.auth import Principal
from hub.auth.settings import DashboardSettings
from hub.auth.users import SessionInfo, UserStore
from hub.db.runner import DbRunner
from hub.errors import ConfigurationError

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "DashboardAuth",
    "Forbidden",
    "SignInRequired",
    "Viewer",
]

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class SignInRequired(Exception):
    """No live session: pages redirect to the sign-in form, other requests answer 401."""


class Forbidden(Exception):
    """Signed in, but the role does not allow this (403)."""


class CsrfRejected(Exception):
    """A state-changing request without the session's CSRF token or from another origin."""


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in person, as the pages and the audit trail see them."""

    session: SessionInfo
    principal: Principal

    @property
    def name(self) -> str:
        return self.session.name

    @property
    def actor(self) -> str:
        return f"user:{self.session.name}"

    @property
    def role(self) -> str:
        return self.session.role

    @property
    def unit(self) -> str | None:
        return self.session.unit

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token

    def can(self, scope: str) -> bool:
        return self.principal.has(scope)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class DashboardAuth:
    def __init__(
        self, store: UserStore, runner: DbRunner, settings: DashboardSettings, api_host: str
    ) -> None:
        if not settings.cookie_secure and not is_loopback(api_host):
            raise ConfigurationError(
                "HUB_DASHBOARD__COOKIE_SECURE=false is allowed only when the API listens on a "
                f"loopback address (HUB_API_HOST is {api_host})"
            )
        self.store = store
        self.runner = runner
        self.settings = settings
        # The __Host- prefix pins the cookie to this host, path / and HTTPS.
        self.cookie = "__Host-hub_session" if settings.cookie_secure else "hub_session"
        self.login_cookie = "__Host-hub_login" if settings.cookie_secure else "hub_login"

    async def viewer(self, request: Request) -> Viewer | None:
        value = request.cookies.get(self.cookie)
        if not value:
            return None
        info = await self.runner.read(self.store.session, value)
        if info is None:
            return None
        viewer = Viewer(info, Principal(info.name, info.scopes))
        request.state.viewer = viewer
        return viewer

    async def _require(self, request: Request, scopes: tuple[str, ...]) -> Viewer:
        viewer = await self.viewer(request)
        if viewer is None:
            raise SignInRequired
        if scopes and not any(viewer.can(s) for s in scopes):
            raise Forbidden
        return viewer

    def page(self, *scopes: str) -> Callable[[Request], Awaitable[Viewer]]:
        """A dependency for a page: signed in, and holding one of ``scopes``."""

        async def dependency(request: Request) -> Viewer:
            return await self._require(request, scopes)

        return dependency

    def action(self, *scopes: str) -> Callable[[Request], Awaitable[Viewer]]:
        """A dependency for a state-changing request: :meth:`page`, plus the same-origin and
        CSRF-token checks."""

        async def dependency(request: Request) -> Viewer:
            viewer = await self._require(request, scopes)
            check_origin(request)
            sent = request.headers.get(CSRF_HEADER)
            if sent is None:
                form = await request.form()
                value = form.get(CSRF_FIELD)
                sent = value if isinstance(value, str) else None
            # Bytes: compare_digest raises TypeError on non-ASCII text (a 500 instead of a 403).
            if not sent or not hmac.compare_digest(sent.encode(), viewer.csrf_token.encode()):
                raise CsrfRejected
            return viewer

        return dependency

    def sign_in_url(self, request: Request) -> str:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        return "/login?next=" + quote(target, safe="")


def check_origin(request: Request) -> None:
    """Browsers send Origin on POST; when present it must be this host. (SameSite cookies and
    the token already stop cross-site forms; this refuses them before anything is read.)"""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        if origin == "null":
            raise CsrfRejected
        return
    host = request.headers.get("host", "")
    if urlsplit(origin).netloc != host:
        raise CsrfRejected


def safe_next(target: str | None) -> str:
    """Only local paths: a sign-in form must not become an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
