"""The simulated WEBCON BPS REST API: a real HTTP server (aiohttp) on 127.0.0.1.

It serves the endpoints the ``webcon`` connector uses, as the published OpenAPI document
describes them (``/api/data/v6.0/…``, and ``v5.0`` with the same shapes), plus the OAuth2 token
endpoint and a small ``/_sim`` admin API for tests and the demo (faults, staff moving elements
along paths, checkouts). Every request body is validated against the document's schema for its
operation, and so is every answer the simulator gives (``validate_responses``).

Use it in-process::

    sim = WebconSimulator()
    await sim.start()                 # 127.0.0.1, a free port
    sim.url, sim.settings()           # base URL, and a ``webcon`` settings section that fits
    await sim.stop()

or on its own: ``python -m hub_webcon.simulator --port 8081``.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
import uuid
from collections import Counter
from typing import Any

from aiohttp import web

from hub.testing.loopback import LoopbackServer
from hub_webcon.simulator.faults import Faults
from hub_webcon.simulator.model import (
    ApiClient,
    Catalog,
    Element,
    registry_catalog,
)
from hub_webcon.simulator.spec import WebconSpec, load_spec

__all__ = ["ApiFault", "WebconSimulator"]

from hub_webcon.simulator.common import (
    BODY,
    CLIENT,
    ERROR_SCHEMA,
    SPEC_PREFIX,
    VERSIONS,
    ApiFault,
    ApiHandler,
    Handler,
)
from hub_webcon.simulator.elements_api import ElementsApi


class WebconSimulator(ElementsApi, LoopbackServer):
    """One simulated WEBCON installation (one content database by default).

    Args:
        catalog: metadata and API clients; :func:`registry_catalog` by default.
        token_ttl: seconds a token lives (``expires_in``).
        omit_expires_in: answer tokens without ``expires_in`` (clients must assume 3600 s).
        search_index_delay: seconds before a new element is found by search (Solr indexing).
        denied_workflows: workflow guids the API client may not start (403
            ``InsufficientAccountPermissions``).
        validate_responses: check every answer against the document (on by default).
    """

    def __init__(
        self,
        catalog: Catalog | None = None,
        *,
        token_ttl: int = 3600,
        omit_expires_in: bool = False,
        search_index_delay: float = 0.0,
        denied_workflows: frozenset[str] = frozenset(),
        validate_responses: bool = True,
        spec: WebconSpec | None = None,
    ) -> None:
        self.catalog = catalog or registry_catalog()
        self.spec = spec or load_spec()
        self.token_ttl = token_ttl
        self.omit_expires_in = omit_expires_in
        self.search_index_delay = search_index_delay
        self.denied_workflows = {g.lower() for g in denied_workflows}
        self.validate_responses = validate_responses
        self.faults = Faults()
        self.elements: dict[int, Element] = {}
        self.requests: Counter[str] = Counter()
        self.rejected: list[str] = []  # descriptions of 4xx answers, for test diagnostics
        self._tokens: dict[str, tuple[ApiClient, frozenset[str], float]] = {}
        self._next_id = 1000
        self._numbers: Counter[str] = Counter()
        self._next_attachment = 1
        self.app = self._build_app()

    # --- settings (start, stop and url: LoopbackServer) ---------------------------------------

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """A ``webcon`` settings section that fits this simulator's catalog."""
        from hub_webcon.simulator.section import settings_for

        return settings_for(self, **overrides)

    # --- test and demo controls ---------------------------------------------------------------

    def expire_tokens(self) -> None:
        """Every token issued so far answers 401 ``InvalidAuthenticationToken`` from now on."""
        for token, (client, scopes, _) in list(self._tokens.items()):
            self._tokens[token] = (client, scopes, 0.0)

    def move(self, element_id: int, path: str) -> Element:
        """A member of staff moves an element along a path (guid, id or name)."""
        el = self.elements[element_id]
        p = self._path_from_step(el, path) or next(
            (x for x in el.workflow.paths if x.name == path and x.from_step == el.step.id), None
        )
        if p is None:
            raise ValueError(f"path {path!r} is not available in step {el.step.name!r}")
        self._apply_path(el, p)
        return el

    def checkout(self, element_id: int, user: str | None = "ana.ionescu-test") -> None:
        """Someone opens the element for editing (None releases it)."""
        self.elements[element_id].checked_out_by = user

    def find_by_field(self, field_guid: str, value: str) -> list[Element]:
        return [e for e in self.elements.values() if e.fields.get(field_guid.lower()) == value]

    # --- app ----------------------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024**2)
        r = app.router
        r.add_post("/api/oauth2/token", self._token)
        api = [
            ("GET", "/db/{dbId}/applications", "metadata", self._applications),
            ("GET", "/db/{dbId}/applications/{idguid}", "metadata", self._application),
            ("GET", "/db/{dbId}/applications/{idguid}/search", "search", self._app_search),
            ("GET", "/search", "search", self._search),
            ("GET", "/db/{dbId}/workflows/{idguid}", "metadata", self._workflow),
            ("GET", "/db/{dbId}/workflows/{idguid}/steps", "metadata", self._workflow_steps),
            (
                "GET",
                "/db/{dbId}/workflows/{idguid}/associatedFormTypes",
                "metadata",
                self._associated_form_types,
            ),
            ("GET", "/db/{dbId}/steps/{idguid}", "metadata", self._step),
            ("GET", "/db/{dbId}/steps/{idguid}/paths", "metadata", self._step_paths),
            ("GET", "/db/{dbId}/paths/{idguid}", "metadata", self._path),
            ("GET", "/db/{dbId}/formtypes/{idguid}", "metadata", self._form_type),
            ("GET", "/db/{dbId}/formlayout", "metadata", self._form_layout),
            ("GET", "/admin/db/{dbId}/businessentities/{idguid}", "metadata", self._entity),
            ("GET", "/me", "metadata", self._me),
            ("POST", "/db/{dbId}/elements", "create", self._create),
            ("GET", "/db/{dbId}/elements/{id}", "get", self._get),
            ("PATCH", "/db/{dbId}/elements/{id}", "patch", self._patch),
            ("POST", "/db/{dbId}/elements/{id}/attachments", "attachment", self._attach),
            ("GET", "/db/{dbId}/elements/{id}/attachments", "get", self._attachments),
        ]
        for method, suffix, op, handler in api:
            template = SPEC_PREFIX + suffix
            self.spec.operation(method, template)  # fails loudly if the document lacks it
            route = "/api/data/{version}" + suffix
            r.add_route(method, route, self._endpoint(method, template, op, handler))
        r.add_get("/_sim/state", self._sim_state)
        r.add_post("/_sim/faults", self._sim_add_fault)
        r.add_delete("/_sim/faults", self._sim_clear_faults)
        r.add_post("/_sim/tokens/expire", self._sim_expire)
        r.add_post("/_sim/elements/{id}/move", self._sim_move)
        r.add_post("/_sim/elements/{id}/checkout", self._sim_checkout)
        r.add_delete("/_sim/elements/{id}/checkout", self._sim_checkin)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        if self.faults.latency_ms > 0:
            await asyncio.sleep(self.faults.latency_ms / 1000.0)
        try:
            return await handler(request)
        except ApiFault as fault:
            return self._error(fault)

    def _endpoint(self, method: str, template: str, op: str, handler: ApiHandler) -> Handler:
        operation = self.spec.operation(method, template)

        async def endpoint(request: web.Request) -> web.StreamResponse:
            self.requests[op] += 1
            if request.match_info["version"] not in VERSIONS:
                raise ApiFault(404, "ResourceNotFound", "Unsupported API version")
            rule = self.faults.take(op, ("status", "hang", "drop"))
            if rule is not None:
                if rule.kind == "drop":
                    return self._drop(request)
                if rule.kind == "hang":
                    await asyncio.sleep(rule.seconds)
                else:
                    raise ApiFault(rule.status, rule.error_type, "Simulated failure")
            client, scopes = self._authenticate(request)
            if operation.scopes and operation.scopes.isdisjoint(scopes):
                raise ApiFault(
                    403,
                    "InvalidScope",
                    "The token has none of the scopes this endpoint requires: "
                    + ", ".join(sorted(s for s in operation.scopes if s.startswith("App."))),
                )
            request[CLIENT] = client
            self._check_query(request, operation.parameters)
            if "dbId" in request.match_info and int(request.match_info["dbId"]) != (
                self.catalog.db_id
            ):
                raise ApiFault(404, "ResourceNotFound", "Database does not exist")
            if operation.body_schema is not None:
                request[BODY] = await self._body(request, operation.body_schema)
            status, payload = await handler(request)
            after = self.faults.take(op, ("hang_after_commit", "drop_after_commit"))
            if after is not None:
                if after.kind == "drop_after_commit":
                    return self._drop(request)
                await asyncio.sleep(after.seconds)
            return self._answer(operation.responses.get(status), status, payload)

        return endpoint

    # --- plumbing -----------------------------------------------------------------------------

    @staticmethod
    def _drop(request: web.Request) -> web.Response:
        transport = request.transport
        if transport is not None:
            transport.close()
        return web.Response(status=500)  # never reaches the client

    def _answer(self, schema: str | None, status: int, payload: Any) -> web.Response:
        if self.validate_responses and schema is not None:
            problems = self.spec.errors(schema, payload)
            if problems:  # a bug of the simulator: say so loudly, in WEBCON's error shape
                raise ApiFault(
                    500, "InternalError", f"simulator answer does not fit {schema}: {problems[:3]}"
                )
        return web.json_response(payload, status=status)

    def _error(self, fault: ApiFault) -> web.Response:
        if 400 <= fault.status < 500:
            self.rejected.append(f"{fault.status} {fault.error_type}: {fault.description}")
        body = {
            "type": fault.error_type,
            "description": fault.description,
            "errorGuid": str(uuid.uuid4()),
        }
        return self._answer(ERROR_SCHEMA, fault.status, body)

    def _authenticate(self, request: web.Request) -> tuple[ApiClient, frozenset[str]]:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise ApiFault(401, "AuthenticationFailed", "Authorization header is missing")
        found = self._tokens.get(header[7:].strip())
        if found is None or found[2] <= time.monotonic():
            raise ApiFault(401, "InvalidAuthenticationToken", "The token is invalid or expired")
        return found[0], found[1]

    @staticmethod
    def _check_query(request: web.Request, parameters: list[dict[str, Any]]) -> None:
        for p in parameters:
            if p.get("in") != "query":
                continue
            name, value = p["name"], request.query.get(p["name"])
            if value is None:
                if p.get("required"):
                    raise ApiFault(
                        400, "MissingRequiredQueryParameter", f"Query parameter '{name}' is missing"
                    )
                continue
            kind = (p.get("schema") or {}).get("type")
            ok = (kind != "integer" or re.fullmatch(r"-?\d+", value)) and (
                kind != "boolean" or value.lower() in ("true", "false")
            )
            if not ok:
                raise ApiFault(
                    400, "InvalidQueryParameterValue", f"Query parameter '{name}' is not {kind}"
                )

    async def _body(self, request: web.Request, schema: str) -> Any:
        ctype = request.content_type
        if ctype not in ("application/json", "text/json") and not ctype.endswith("+json"):
            raise ApiFault(415, "UnsupportedContentType", f"Content type {ctype} is not supported")
        try:
            body = await request.json()
        except ValueError:
            raise ApiFault(400, "InvalidInput", "The request body is not valid JSON") from None
        problems = self.spec.errors(schema, body)
        if problems:
            raise ApiFault(
                400,
                "InvalidBodyParameterValue",
                "The request body does not match " + schema + ": " + "; ".join(problems[:5]),
            )
        return body

    # --- OAuth2 -------------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.StreamResponse:
        self.requests["token"] += 1
        rule = self.faults.take("token", ("status", "hang", "drop"))
        if rule is not None:
            if rule.kind == "drop":
                return self._drop(request)
            if rule.kind == "hang":
                await asyncio.sleep(rule.seconds)
            else:
                return web.json_response({"error": "server_error"}, status=rule.status)
        if request.content_type != "application/x-www-form-urlencoded":
            return _oauth_error(400, "invalid_request", "form-encoded body expected")
        form = await request.post()
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "only client_credentials")
        client = next(
            (
                c
                for c in self.catalog.clients
                if c.client_id == form.get("client_id")
                and secrets.compare_digest(c.secret, str(form.get("client_secret") or ""))
            ),
            None,
        )
        if client is None:
            return _oauth_error(401, "invalid_client", "unknown client or wrong secret")
        requested = frozenset(str(form.get("scope") or "").split())
        if requested - client.scopes:
            return _oauth_error(400, "invalid_scope", "scope not granted to this application")
        scopes = requested or client.scopes
        token = secrets.token_urlsafe(32)
        self._tokens[token] = (client, scopes, time.monotonic() + self.token_ttl)
        body: dict[str, Any] = {
            "access_token": token,
            "token_type": "Bearer",
            "scope": " ".join(sorted(scopes)),
        }
        if not self.omit_expires_in:
            body["expires_in"] = self.token_ttl
        return web.json_response(body)

    # --- /_sim admin --------------------------------------------------------------------------

    async def _sim_state(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "elements": len(self.elements),
                "requests": dict(self.requests),
                "faults": len(self.faults.rules),
                "latency_ms": self.faults.latency_ms,
            }
        )

    async def _sim_add_fault(self, request: web.Request) -> web.Response:
        data = await request.json()
        if "latency_ms" in data:
            self.faults.latency_ms = float(data.pop("latency_ms"))
        if data:
            try:
                self.faults.add(**data)
            except (TypeError, ValueError) as exc:
                return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"faults": len(self.faults.rules)})

    async def _sim_clear_faults(self, request: web.Request) -> web.Response:
        self.faults.clear()
        return web.json_response({"faults": 0})

    async def _sim_expire(self, request: web.Request) -> web.Response:
        self.expire_tokens()
        return web.json_response({"expired": len(self._tokens)})

    async def _sim_move(self, request: web.Request) -> web.Response:
        data = await request.json()
        try:
            el = self.move(int(request.match_info["id"]), str(data["path"]))
        except (KeyError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"step": el.step.name, "isFinished": el.finished})

    async def _sim_checkout(self, request: web.Request) -> web.Response:
        data = await request.json() if request.can_read_body else {}
        self.checkout(int(request.match_info["id"]), data.get("user", "ana.ionescu-test"))
        return web.json_response({"checked_out": True})

    async def _sim_checkin(self, request: web.Request) -> web.Response:
        self.checkout(int(request.match_info["id"]), None)
        return web.json_response({"checked_out": False})


def _oauth_error(status: int, error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)
