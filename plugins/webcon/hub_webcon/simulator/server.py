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
import base64
import binascii
import re
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hub.testing.loopback import LoopbackServer
from hub_webcon.simulator.faults import Faults
from hub_webcon.simulator.model import (
    ApiClient,
    Attachment,
    Catalog,
    Element,
    FieldDef,
    PathDef,
    Step,
    Workflow,
    registry_catalog,
)
from hub_webcon.simulator.spec import WebconSpec, load_spec

__all__ = ["ApiFault", "WebconSimulator"]

SPEC_PREFIX = "/api/data/v6.0"
VERSIONS = ("v5.0", "v6.0")
ERROR_SCHEMA = "WebCon.BPSCloud.Core.PublicApi.Exceptions.ApiErrorResponse"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ApiHandler = Callable[[web.Request], Awaitable[tuple[int, Any]]]


class ApiFault(Exception):
    """An answer in WEBCON's error shape: ``{type, description, errorGuid}``."""

    def __init__(self, status: int, error_type: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error_type = error_type
        self.description = description


CLIENT = web.RequestKey("client", ApiClient)
BODY: web.RequestKey[dict[str, Any]] = web.RequestKey("body", dict)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _link(href: str) -> list[dict[str, str]]:
    return [{"href": href, "method": "GET", "rel": "self"}]


class WebconSimulator(LoopbackServer):
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

    # --- metadata -----------------------------------------------------------------------------

    def _find(self, kind: str, idguid: str, label: str) -> Any:
        obj = self.catalog.find(kind, idguid)
        if obj is None:
            raise ApiFault(404, "ResourceNotFound", f"{label} '{idguid}' does not exist")
        return obj

    def _info(self, request: web.Request, kind: str, obj: Any) -> dict[str, Any]:
        return {
            "id": obj.id,
            "guid": obj.guid,
            "name": obj.name,
            "links": _link(f"{request.path}"),
        }

    async def _applications(self, request: web.Request) -> tuple[int, Any]:
        return 200, {
            "applications": [
                self._info(request, "application", a) for a in self.catalog.applications
            ]
        }

    async def _application(self, request: web.Request) -> tuple[int, Any]:
        app = self._find("application", request.match_info["idguid"], "Application")
        return 200, {
            **self._info(request, "application", app),
            "description": None,
            "groupId": 0,
            "groupName": None,
        }

    async def _workflow(self, request: web.Request) -> tuple[int, Any]:
        wf = self._find("workflow", request.match_info["idguid"], "Workflow")
        return 200, {**self._info(request, "workflow", wf), "description": None}

    async def _workflow_steps(self, request: web.Request) -> tuple[int, Any]:
        wf: Workflow = self._find("workflow", request.match_info["idguid"], "Workflow")
        return 200, {"steps": [self._info(request, "step", s) for s in wf.steps]}

    async def _associated_form_types(self, request: web.Request) -> tuple[int, Any]:
        wf: Workflow = self._find("workflow", request.match_info["idguid"], "Workflow")
        return 200, {
            "associatedFormTypes": [self._info(request, "formtype", f) for f in wf.form_types]
        }

    async def _step(self, request: web.Request) -> tuple[int, Any]:
        step: Step = self._find("step", request.match_info["idguid"], "Step")
        return 200, {**self._info(request, "step", step), "description": None, "type": step.type}

    async def _step_paths(self, request: web.Request) -> tuple[int, Any]:
        step: Step = self._find("step", request.match_info["idguid"], "Step")
        wf = self.catalog.workflow_of(step)
        return 200, {
            "paths": [self._info(request, "path", p) for p in wf.paths if p.from_step == step.id]
        }

    async def _path(self, request: web.Request) -> tuple[int, Any]:
        path = self._find("path", request.match_info["idguid"], "Path")
        return 200, {**self._info(request, "path", path), "description": None}

    async def _form_type(self, request: web.Request) -> tuple[int, Any]:
        ft = self._find("formtype", request.match_info["idguid"], "Form type")
        return 200, {**self._info(request, "formtype", ft), "description": None}

    async def _form_layout(self, request: web.Request) -> tuple[int, Any]:
        step: Step = self._find("step", request.query["step"], "Step")
        ft = self._find("formtype", request.query["formType"], "Form type")
        wf = self.catalog.workflow_of(step)
        if ft not in wf.form_types:
            raise ApiFault(404, "ResourceNotFound", "Form type is not used by this workflow")
        fields = [
            {
                "id": f.id,
                "guid": f.guid,
                "name": f.name,
                "type": f.type,
                "requiredness": "Mandatory"
                if step.type == "Start" and f.guid in ft.mandatory
                else "Optional",
                "visibility": "Visible",
                "position": {"order": i},
                "parentId": None,
                "dbColumn": f.db_column,
                "editability": "Editable",
            }
            for i, f in enumerate(wf.fields)
        ]
        paths = [
            {**self._info(request, "path", p), "description": None, "visibility": "Visible"}
            for p in wf.paths
            if p.from_step == step.id
        ]
        return 200, {"fields": fields, "itemLists": [], "paths": paths}

    async def _entity(self, request: web.Request) -> tuple[int, Any]:
        be = self._find("businessentity", request.match_info["idguid"], "Business entity")
        return 200, {"id": be.id, "guid": be.guid, "name": be.name, "code": be.code}

    async def _me(self, request: web.Request) -> tuple[int, Any]:
        client: ApiClient = request[CLIENT]
        return 200, {"bpsId": client.client_id, "name": client.name}

    # --- elements -----------------------------------------------------------------------------

    def _element(self, request: web.Request) -> Element:
        el = self.elements.get(int(request.match_info["id"]))
        if el is None:
            raise ApiFault(404, "ResourceNotFound", "Element does not exist")
        return el

    def _path_from_step(self, el: Element, idguid: str) -> PathDef | None:
        p = self.catalog.find("path", idguid)
        return p if isinstance(p, PathDef) and p.from_step == el.step.id else None

    def _apply_path(self, el: Element, path: PathDef) -> None:
        now = datetime.now(UTC)
        el.step = next(s for s in el.workflow.steps if s.id == path.to_step)
        el.entered_step = el.modified = now
        el.finish_date = now if el.step.finishing else None
        el.version += 1

    async def _create(self, request: web.Request) -> tuple[int, Any]:
        body: dict[str, Any] = request[BODY]
        client: ApiClient = request[CLIENT]
        wf = self._require_ref(body, "workflow", "Workflow")
        ft = self._require_ref(body, "formType", "Form type")
        if ft not in wf.form_types:
            raise ApiFault(409, "ValidationError", "Form type is not connected with the workflow")
        be = None
        if body.get("businessEntity"):
            ref = body["businessEntity"]
            be = self.catalog.find("businessentity", ref.get("guid") or ref.get("id"))
            if be is None:
                raise ApiFault(404, "ResourceNotFound", "Business entity does not exist")
        if wf.guid.lower() in self.denied_workflows:
            raise ApiFault(
                403,
                "InsufficientAccountPermissions",
                "The application has no permission to start instances of this workflow",
            )
        start = wf.start_step
        path_arg = request.query["path"]
        if path_arg.lower() == "default":
            path = next(p for p in wf.paths if p.from_step == start.id)
        else:
            found = self.catalog.find("path", path_arg)
            if found is None:
                raise ApiFault(400, "InvalidQueryParameterValue", f"Path '{path_arg}' not found")
            if found.from_step != start.id:
                raise ApiFault(
                    400, "InvalidQueryParameterValue", "Path is not available in the start step"
                )
            path = found
        values = self._field_values(wf, body.get("formFields") or [])
        missing = [
            f.name for f in wf.fields if f.guid in ft.mandatory and values.get(f.guid) in (None, "")
        ]
        if missing:
            raise ApiFault(
                409, "ValidationError", "Required fields are empty: " + ", ".join(missing)
            )
        attachments = self._decode_attachments(body.get("attachments") or [])
        now = datetime.now(UTC)
        el = Element(
            id=self._next_id,
            instance_number=self._number(ft.number_pattern, now),
            workflow=wf,
            form_type=ft,
            business_entity=be,
            step=start,
            created=now,
            author=client.client_id,
            fields=values,
            attachments=attachments,
        )
        self._next_id += 1
        comment = ((body.get("comments") or {}).get("newComment") or "").strip()
        if comment:
            el.comments.append(self._comment(client, comment, now))
        self._apply_path(el, path)
        el.version = 1
        self.elements[el.id] = el
        return 200, {"id": el.id, "instanceNumber": el.instance_number, "status": "MovedToNextStep"}

    def _require_ref(self, body: dict[str, Any], key: str, label: str) -> Any:
        ref = body.get(key) or {}
        ident = ref.get("guid") or ref.get("id")
        if ident is None:
            raise ApiFault(400, "MissingRequiredBodyParameter", f"'{key}' is required")
        kind = "workflow" if key == "workflow" else "formtype"
        obj = self.catalog.find(kind, ident)
        if obj is None:
            raise ApiFault(404, "ResourceNotFound", f"{label} '{ident}' does not exist")
        return obj

    def _field_values(self, wf: Workflow, form_fields: list[dict[str, Any]]) -> dict[str, Any]:
        by_key = {f.guid.lower(): f for f in wf.fields} | {str(f.id): f for f in wf.fields}
        out: dict[str, Any] = {}
        for item in form_fields:
            ident = str(item.get("guid") or item.get("id") or "").lower()
            fdef = by_key.get(ident)
            if fdef is None:
                raise ApiFault(400, "InvalidFieldData", f"Field '{ident}' does not exist")
            value = item["value"] if item.get("value") is not None else item.get("svalue")
            out[fdef.guid] = _coerce(fdef, value)
        return out

    def _decode_attachments(self, items: list[dict[str, Any]]) -> list[Attachment]:
        out = []
        for item in items:
            if item.get("id") is not None or item.get("delete"):
                raise ApiFault(400, "InvalidBodyParameterValue", "New elements have no attachments")
            if not item.get("name"):
                raise ApiFault(400, "MissingRequiredBodyParameter", "Attachment name is required")
            out.append(self._attachment(item))
        return out

    def _attachment(self, item: dict[str, Any]) -> Attachment:
        try:
            content = base64.b64decode(item.get("content") or "", validate=True)
        except (binascii.Error, ValueError):
            raise ApiFault(
                400, "InvalidBodyParameterValue", "Attachment content is not base64"
            ) from None
        att = Attachment(
            id=self._next_attachment,
            name=str(item["name"]),
            group=item.get("group"),
            description=item.get("description"),
            content=content,
            created=datetime.now(UTC),
        )
        self._next_attachment += 1
        return att

    def _number(self, pattern: str, now: datetime) -> str:
        prefix = pattern.replace("{yyyy}", f"{now.year:04d}").replace("{MM}", f"{now.month:02d}")
        self._numbers[prefix] += 1
        return prefix.replace("{seq}", f"{self._numbers[prefix]:05d}")

    @staticmethod
    def _comment(client: ApiClient, text: str, now: datetime) -> dict[str, Any]:
        return {
            "author": client.name,
            "comment": text,
            "date": _iso(now),
            "bpsId": client.client_id,
        }

    async def _get(self, request: web.Request) -> tuple[int, Any]:
        el = self._element(request)
        return 200, self._element_model(el)

    def _element_model(self, el: Element) -> dict[str, Any]:
        def ref(obj: Any) -> dict[str, Any]:
            return (
                {"id": obj.id, "guid": obj.guid} if obj is not None else {"id": None, "guid": None}
            )

        fields = []
        for f in el.workflow.fields:
            value = el.fields.get(f.guid)
            fields.append(
                {
                    "id": f.id,
                    "guid": f.guid,
                    "type": f.type,
                    "name": f.name,
                    "svalue": None if value is None else str(value),
                    "value": value,
                }
            )
        author = {"bpsId": el.author, "name": el.author}
        return {
            "header": {
                "id": el.id,
                "instanceNumber": el.instance_number,
                "version": el.version,
                "author": author,
                "updatedBy": author,
                "creationDate": _iso(el.created),
                "modificationDate": _iso(el.modified),
                "finishDate": _iso(el.finish_date),
                "enterToCurrentStepDate": _iso(el.entered_step),
                "step": ref(el.step),
                "workflow": ref(el.workflow),
                "formType": ref(el.form_type),
                "businessEntity": ref(el.business_entity),
                "parentInstanceId": None,
                "isFinished": el.finished,
            },
            "formFields": fields,
            "itemLists": [],
            "comments": {"newComment": None, "existingEntries": list(el.comments)},
            "attachments": [self._attachment_model(a, el) for a in el.attachments],
            "tasks": {"directTasks": [], "ccTasks": []},
        }

    @staticmethod
    def _attachment_model(a: Attachment, el: Element) -> dict[str, Any]:
        user = {"bpsId": el.author, "name": el.author}
        return {
            "id": a.id,
            "name": a.name,
            "description": a.description,
            "group": a.group,
            "author": user,
            "updatedBy": user,
            "creationDate": _iso(a.created),
            "modificationDate": _iso(a.created),
            "isPublished": True,
            "version": 1,
        }

    def _editable(self, request: web.Request) -> Element:
        el = self._element(request)
        client: ApiClient = request[CLIENT]
        if el.checked_out_by and el.checked_out_by != client.client_id:
            raise ApiFault(409, "ResourceIsLocked", "The element is checked out by another user")
        return el

    async def _patch(self, request: web.Request) -> tuple[int, Any]:
        el = self._editable(request)
        if el.finished:
            raise ApiFault(409, "ValidationError", "A finished element cannot be edited")
        body: dict[str, Any] = request[BODY]
        for key, current in (("workflow", el.workflow), ("formType", el.form_type)):
            ref = body.get(key) or {}
            ident = ref.get("guid") or ref.get("id")
            if ident is not None and str(ident).lower() not in (
                current.guid.lower(),
                str(current.id),
            ):
                raise ApiFault(409, "ValidationError", f"'{key}' cannot be changed")
        path = None
        if request.query.get("path"):
            path = self._path_from_step(el, request.query["path"])
            if path is None:
                raise ApiFault(
                    400,
                    "InvalidQueryParameterValue",
                    "Path is not available in the element's current step",
                )
        values = self._field_values(el.workflow, body.get("formFields") or [])
        for item in body.get("attachments") or []:
            el.attachments.append(self._attachment(item))
        el.fields.update(values)
        client: ApiClient = request[CLIENT]
        now = datetime.now(UTC)
        comment = ((body.get("comments") or {}).get("newComment") or "").strip()
        if comment:
            el.comments.append(self._comment(client, comment, now))
        el.modified = now
        if path is not None:
            self._apply_path(el, path)
            status = "MovedToNextStep"
        else:
            el.version += 1
            status = "Saved"
        return 200, {"id": el.id, "instanceNumber": el.instance_number, "status": status}

    async def _attach(self, request: web.Request) -> tuple[int, Any]:
        el = self._editable(request)
        body: dict[str, Any] = request[BODY]
        if not body.get("name"):
            raise ApiFault(400, "MissingRequiredBodyParameter", "Attachment name is required")
        att = self._attachment(body)
        el.attachments.append(att)
        el.modified = att.created
        return 200, {"id": att.id, "name": att.name, "version": 1}

    async def _attachments(self, request: web.Request) -> tuple[int, Any]:
        el = self._element(request)
        return 200, {"attachments": [self._attachment_model(a, el) for a in el.attachments]}

    # --- search (Solr) ------------------------------------------------------------------------

    async def _app_search(self, request: web.Request) -> tuple[int, Any]:
        app = self._find("application", request.match_info["idguid"], "Application")
        return self._search_in(request, set(id(w) for w in app.workflows))

    async def _search(self, request: web.Request) -> tuple[int, Any]:
        return self._search_in(request, None)

    def _search_in(self, request: web.Request, workflows: set[int] | None) -> tuple[int, Any]:
        q = request.query
        page, size = int(q.get("page", "1")), int(q.get("size", "10"))
        if page < 1 or not 1 <= size <= 200:
            raise ApiFault(400, "InvalidQueryParameterValue", "page >= 1 and 1 <= size <= 200")
        words = [w.strip('"+').lower() for w in q.get("search", "").split() if w.strip('"+')]
        all_words = q.get("allWords", "true").lower() == "true"
        visible_before = datetime.now(UTC).timestamp() - self.search_index_delay
        hits = []
        for el in self.elements.values():
            if workflows is not None and id(el.workflow) not in workflows:
                continue
            if el.created.timestamp() > visible_before:
                continue  # not indexed yet
            text = " ".join(
                [el.instance_number, *(str(v) for v in el.fields.values() if v is not None)]
            ).lower()
            found = [w in text for w in words]
            if words and not (all(found) if all_words else any(found)):
                continue
            hits.append(el)
        order = q.get("order", "Rank")
        hits.sort(key=lambda e: e.modified if order == "Modified" else e.created, reverse=True)
        chunk = hits[(page - 1) * size : page * size]
        return 200, {
            "page": page,
            "pageSize": size,
            "count": len(hits),
            "links": [],
            "elements": [self._search_hit(el) for el in chunk],
        }

    def _search_hit(self, el: Element) -> dict[str, Any]:
        app = self.catalog.application_of(el.workflow)

        def data(obj_id: int, name: str, guid: str) -> dict[str, Any]:
            return {"id": obj_id, "name": name, "guid": guid}

        return {
            "instanceNumber": el.instance_number,
            "instanceId": el.id,
            "dbId": self.catalog.db_id,
            "app": data(app.id, app.name, app.guid),
            "process": data(app.process_id, app.process_name, app.process_guid),
            "workflow": data(el.workflow.id, el.workflow.name, el.workflow.guid),
            "step": data(el.step.id, el.step.name, el.step.guid),
            "highlights": [],
            "tags": [],
            "attachments": [{"name": a.name, "links": []} for a in el.attachments],
            "modified": {"date": _iso(el.modified), "modifier": el.author},
            "links": _link(f"/api/data/v6.0/db/{self.catalog.db_id}/elements/{el.id}"),
        }

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


def _coerce(fdef: FieldDef, value: Any) -> Any:
    """A value as the field's type stores it; 400 ``InvalidFieldData`` when it does not fit."""
    if value is None or value == "":
        return None

    def bad() -> ApiFault:
        return ApiFault(
            400, "InvalidFieldData", f"Value of field '{fdef.name}' is not a valid {fdef.type}"
        )

    if fdef.type in ("DateTime", "Date"):
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise bad() from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return _iso(parsed)
    if fdef.type == "Int":
        if isinstance(value, bool) or not re.fullmatch(r"-?\d+", str(value)):
            raise bad()
        return int(value)
    if not isinstance(value, str):
        raise bad()
    if fdef.type == "Email" and not re.fullmatch(r"[^@\s]+@[^@\s]+", value):
        raise bad()
    if fdef.type == "SingleLine" and len(value) > 255:
        raise bad()
    return value
