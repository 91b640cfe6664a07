"""Access control of the whole HTTP surface, table-driven.

:data:`RULES` names, for every route the app serves (core, dashboard and installed plugins), who
may use it. ``test_every_route_has_a_rule`` fails when a route is added without a rule (or a
rule outlives its route). ``test_rules_hold`` then sends a request to every route as nobody, as
a token of every scope set, and as a dashboard user of every role, and checks the answer
against the rule: 401 (API) or a redirect to the sign-in (pages) without credentials, 403
without the right, anything else with it. Only /healthz, /readyz, /status, the sign-in form and
static files answer without authentication.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from hub.api.auth import Principal
from hub.auth.roles import scopes_for
from tests.dashboard_harness import OVERRIDES, USERS, DashboardHarness, running_dashboard
from tests.fixtures import MakeHub
from tests.servers import SCOPE_SETS


@dataclass(frozen=True)
class Public:
    """Answers without credentials."""


@dataclass(frozen=True)
class Token:
    """Bearer token holding one of ``scopes`` (empty: any valid token).

    A token without the scope must get 403 even for a made-up, invalid request: the scope is
    checked as a dependency, before FastAPI validates path, query and body
    (``Depends(auth.require(scope))``; plugins: ``Depends(hub.api.auth.require_scope(scope))``)."""

    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Session:
    """Dashboard session of a user holding one of ``scopes`` (empty: any user)."""

    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SignedLink:
    """No credentials, but a link signed with ``HUB_DOWNLOAD_LINK_SECRET``: a forged one
    is 403."""


@dataclass(frozen=True)
class SessionOrToken:
    """A signed-in user or any valid token (the API's own documentation)."""


Rule = Public | Token | Session | SessionOrToken | SignedLink

RULES: dict[tuple[str, str], Rule] = {
    # --- probes, public status page, sign-in, static files
    ("GET", "/healthz"): Public(),
    ("GET", "/readyz"): Public(),
    ("GET", "/status"): Public(),
    ("POST", "/status"): Public(),
    ("GET", "/status/status.css"): Public(),
    ("GET", "/login"): Public(),
    ("POST", "/login"): Public(),
    ("GET", "/login/oidc"): Public(),
    ("GET", "/login/oidc/callback"): Public(),
    ("MOUNT", "/static"): Public(),
    ("GET", "/files/{sha256}"): SignedLink(),
    ("GET", "/openapi.json"): SessionOrToken(),
    ("GET", "/docs"): SessionOrToken(),
    ("GET", "/metrics"): Token(("metrics",)),
    # --- core API
    ("POST", "/api/v1/documents"): Token(("intake",)),
    ("GET", "/api/v1/documents"): Token(("read",)),
    ("GET", "/api/v1/documents/{document_id}"): Token(("read",)),
    ("GET", "/api/v1/deliveries"): Token(("read",)),
    ("GET", "/api/v1/deliveries/{delivery_id}"): Token(("read",)),
    ("POST", "/api/v1/deliveries/{delivery_id}/replay"): Token(("operator",)),
    ("POST", "/api/v1/deliveries/{delivery_id}/cancel"): Token(("operator",)),
    ("POST", "/api/v1/deliveries/replay"): Token(("operator",)),
    ("POST", "/api/v1/deliveries/cancel"): Token(("operator",)),
    ("GET", "/api/v1/connectors"): Token(("read",)),
    ("GET", "/api/v1/sources"): Token(("read",)),
    ("GET", "/api/v1/health"): Token(("read",)),
    # --- items (issue #7): a unit's own, or readers/operators
    ("GET", "/api/v1/items"): Token(("read", "unit")),
    ("GET", "/api/v1/items/{item_id}"): Token(("read", "unit")),
    ("POST", "/api/v1/items/{item_id}/ack"): Token(("operator", "unit")),
    ("POST", "/api/v1/items/{item_id}/return"): Token(("operator", "unit")),
    ("POST", "/api/v1/items/{item_id}/reroute"): Token(("operator",)),
    # --- dashboard
    ("POST", "/logout"): Session(),
    ("GET", "/"): Session(("read",)),
    ("GET", "/overview/live"): Session(("read",)),
    ("GET", "/documents"): Session(("read", "unit")),
    ("GET", "/documents/{document_id}"): Session(("read", "unit")),
    ("GET", "/overdue"): Session(("read", "unit")),
    ("POST", "/documents/{document_id}/reveal"): Session(("pii",)),
    ("GET", "/dead-letters"): Session(("read",)),
    ("POST", "/dead-letters/confirm"): Session(("operator",)),
    ("POST", "/dead-letters/run"): Session(("operator",)),
    ("GET", "/dead-letters/jobs/{job_id}"): Session(("operator",)),
    ("GET", "/sources"): Session(("read",)),
    ("POST", "/sources/{name}/pause"): Session(("operator",)),
    ("POST", "/sources/{name}/resume"): Session(("operator",)),
    ("GET", "/admin"): Session(("admin",)),
    ("POST", "/admin/users/{name}/{action}"): Session(("admin",)),
    ("POST", "/admin/tokens/{name}/revoke"): Session(("admin",)),
    ("GET", "/pages/avizier"): Session(("read",)),  # courts plugin (hub_register_dashboard_pages)
    # --- plugins (behind any valid token; each route declares its scope with require_scope)
    ("POST", "/api/v1/documents/{document_id}/release"): Token(("operator",)),
    ("POST", "/api/v1/documents/{document_id}/term/extension"): Token(("operator",)),
    ("POST", "/api/v1/documents/{document_id}/recipisa"): Token(("operator",)),
    ("POST", "/api/v1/dispatches"): Token(("intake",)),
    ("GET", "/api/v1/dispatches"): Token(("read",)),
    ("GET", "/api/v1/dispatches/{dispatch_id}"): Token(("read",)),
    ("GET", "/api/v1/dispatches/{dispatch_id}/attachments/{position}"): Token(("read",)),
    ("POST", "/api/v1/dispatches/{dispatch_id}/confirmation"): Token(("operator",)),
    ("POST", "/api/v1/postal/manifests"): Token(("operator",)),
    ("GET", "/api/v1/postal/manifests/{manifest_id}.{fmt}"): Token(("read",)),
    ("GET", "/api/v1/invoices/status"): Token(("read",)),
    ("GET", "/api/v1/invoices/messages"): Token(("read",)),
    ("GET", "/api/v1/fiscal/summary"): Token(("read",)),
    ("GET", "/api/v1/units/overdue"): Token(("read",)),
    ("GET", "/api/v1/courts/hearings.ics"): Token(("read",)),
    ("GET", "/api/v1/courts/hearings"): Token(("read",)),
    ("GET", "/api/v1/courts/centralizator"): Token(("read",)),
    ("POST", "/api/v1/courts/handovers"): Token(("operator",)),
    ("GET", "/api/v1/notice-board"): Token(("read",)),
    ("POST", "/api/v1/notice-board"): Token(("operator",)),
    ("POST", "/api/v1/notice-board/{posting_id}/removal"): Token(("operator",)),
    ("GET", "/api/v1/notice-board/{posting_id}/proces-verbal-afisare.pdf"): Token(("read",)),
    ("GET", "/api/v1/notice-board/{posting_id}/proces-verbal-dezafisare.pdf"): Token(("read",)),
}


def served_routes(app: object) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, plugin routes included; mounts as MOUNT."""
    found: set[tuple[str, str]] = set()
    for ctx in iter_route_contexts(app.routes):  # type: ignore[attr-defined]
        route = ctx.original_route
        if isinstance(route, Mount):
            found.add(("MOUNT", route.path))
            continue
        for method in ctx.methods or ():
            if method != "HEAD":
                found.add((method, ctx.path))
    return found


@pytest.fixture
async def dash(make_hub: MakeHub) -> AsyncIterator[DashboardHarness]:
    # Every installed plugin (their routes need rules too), and OpenID Connect switched on
    # (its sign-in routes; the provider is never reached: port 9 refuses).
    oidc = {"issuer": "http://127.0.0.1:9", "client_id": "hub", "client_secret": "x"}
    overrides = OVERRIDES | {"oidc": oidc, "download_link_secret": "k" * 32}
    async with running_dashboard(make_hub(overrides=overrides)) as harness:
        yield harness


async def test_every_route_has_a_rule(dash: DashboardHarness) -> None:
    served = served_routes(dash.api.app)
    missing = sorted(served - set(RULES))
    stale = sorted(set(RULES) - served)
    assert not missing, f"routes without an access rule in tests/test_access.py: {missing}"
    assert not stale, f"rules for routes that no longer exist: {stale}"


def _url(path: str) -> str:
    """A concrete URL for a route pattern (ids that exist nowhere: authorization comes first)."""
    return re.sub(r"\{[^}]+\}", "zz-absent", path).replace("zz-absent.zz-absent", "zz-absent.pdf")


def _allowed_token(rule: Token, scopes: tuple[str, ...]) -> bool:
    principal = Principal("probe", frozenset(scopes))
    return not rule.scopes or any(principal.has(s) for s in rule.scopes)


def _allowed_user(rule: Session, user: str) -> bool:
    role, pii, _unit = USERS[user]
    principal = Principal(user, scopes_for(role, pii=pii))
    return not rule.scopes or any(principal.has(s) for s in rule.scopes)


async def _send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    data: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.request(method, url, headers=headers, data=data, follow_redirects=False)


async def test_rules_hold(dash: DashboardHarness) -> None:
    anonymous = dash.new_client()
    problems: list[str] = []
    csrf = {name: await dash.csrf(name) for name in USERS}
    tokens = {role: (s, dash.api.tokens[role]) for role, s in SCOPE_SETS.items()}
    tokens["unit"] = (("unit",), dash.hub.ledger.create_token("unit-dj", ["unit"], unit="DJ"))
    for (method, path), rule in sorted(RULES.items()):
        if method == "MOUNT":
            r = await _send(anonymous, "GET", f"{path}/dashboard.css")
            if r.status_code != 200:
                problems.append(f"{path}: static file answered {r.status_code}")
            continue
        url = _url(path)
        if isinstance(rule, SignedLink):
            for sig in ("0" * 64, "%C4%83" * 64):  # non-ASCII too: a 403, never a 500
                forged = f"/files/{'0' * 64}?expires=4102444800&sig={sig}"
                r = await _send(anonymous, method, forged)
                if r.status_code != 403:
                    problems.append(f"{method} {path}: a forged link got {r.status_code}")
            continue
        r = await _send(anonymous, method, url)
        if isinstance(rule, Public):
            # (POST /login without its form token is 403: that is its CSRF check, not auth.)
            if r.status_code == 401 or r.headers.get("location", "").startswith("/login"):
                problems.append(f"{method} {path}: public, but anonymous got {r.status_code}")
            continue
        if (
            isinstance(rule, Session | SessionOrToken)
            and method == "GET"
            and path != "/openapi.json"
        ):
            if r.status_code != 303 or not r.headers["location"].startswith("/login?next="):
                problems.append(f"{method} {path}: anonymous not sent to sign-in ({r.status_code})")
        elif r.status_code != 401:
            problems.append(f"{method} {path}: anonymous got {r.status_code}, not 401")

        if isinstance(rule, Token):
            for role, (scopes, token) in tokens.items():
                r = await _send(
                    dash.api.client, method, url, headers={"Authorization": f"Bearer {token}"}
                )
                allowed = _allowed_token(rule, scopes)
                denied = r.status_code in (401, 403)
                if denied == allowed:
                    problems.append(f"{method} {path}: token {role} got {r.status_code}")
        elif isinstance(rule, Session):
            if path == "/logout":
                continue  # signing out is checked in tests/test_dashboard.py
            for user in USERS:
                client = await dash.as_user(user)
                data = {"csrf_token": csrf[user]} if method == "POST" else None
                r = await _send(client, method, url, data=data)
                denied = r.status_code in (401, 403) or (
                    r.status_code == 303 and r.headers["location"].startswith("/login")
                )
                if denied == _allowed_user(rule, user):
                    problems.append(f"{method} {path}: user {user} got {r.status_code}")
        elif isinstance(rule, SessionOrToken):
            r1 = await _send(dash.api.client, method, url, headers=dash.api.auth("metrics"))
            r2 = await _send(await dash.as_user("unit_dj"), method, url)
            if r1.status_code != 200 or r2.status_code != 200:
                problems.append(f"{method} {path}: token {r1.status_code}, user {r2.status_code}")
    assert not problems, "\n".join(problems)
