"""The simulator's metadata endpoints: applications, workflows, steps, paths, form types and
layouts, business entities, the calling user — the catalog as the API describes it."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub_webcon.simulator.common import CLIENT, ApiFault, _link
from hub_webcon.simulator.model import (
    ApiClient,
    Catalog,
    Step,
    Workflow,
)


class MetadataApi:
    """Handlers of the metadata endpoints, mixed into :class:`~.server.WebconSimulator`."""

    catalog: Catalog

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
