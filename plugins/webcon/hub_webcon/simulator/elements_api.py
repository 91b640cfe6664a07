"""The simulator's element endpoints: start (create), read, PATCH along a path, attachments,
and search (Solr), with WEBCON's numbering, comments and field types."""

from __future__ import annotations

import base64
import binascii
import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hub_webcon.simulator.common import BODY, CLIENT, ApiFault, _iso, _link
from hub_webcon.simulator.metadata_api import MetadataApi
from hub_webcon.simulator.model import (
    ApiClient,
    Attachment,
    Element,
    FieldDef,
    PathDef,
    Workflow,
)


class ElementsApi(MetadataApi):
    """Handlers of the element and search endpoints (on top of the metadata look-ups), mixed
    into :class:`~.server.WebconSimulator`, which holds the state they work on."""

    elements: dict[int, Element]
    denied_workflows: set[str]
    search_index_delay: float
    _next_id: int
    _next_attachment: int
    _numbers: Counter[str]

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
