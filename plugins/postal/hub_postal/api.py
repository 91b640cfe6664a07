"""The plugin's HTTP endpoints under ``/api/v1`` (behind the API's bearer tokens).

=================================================  ==========  ================================
endpoint                                           scope       what
=================================================  ==========  ================================
``POST /dispatches``                               intake      ask for a document to be sent
``GET /dispatches/{id}``                           read        state, events, AWB/S10, delivery
``GET /dispatches?state=&stuck=&document_id=``      read        a page of dispatches
``GET /dispatches/{id}/attachments/{position}``    read        a file to print
``POST /dispatches/{id}/confirmation``             operator    a returned confirmation card
``POST /postal/manifests``                         operator    close a day: its manifests
``GET /postal/manifests/{id}.pdf`` / ``.csv``      read        a manifest to print / import
=================================================  ==========  ================================

Bad input answers 422 with the field paths (never the values) and writes nothing. The addressee
is shown only to a token with the ``pii`` scope.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from hub.api.auth import Principal, require_scope
from hub.api.errors import ApiError
from hub.api.responses import OrjsonResponse
from hub.errors import InputError
from hub.redaction import mask
from hub_postal.dispatches import ConfirmationIn, DispatchIn, PostalService
from hub_postal.manifest import manifest_csv, manifest_pdf
from hub_postal.settings import Network
from hub_postal.store import local_day

__all__ = ["register_routes"]


class CloseDayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: date | None = Field(default=None, description="Day to close (default: today)")
    network: Network = Network.POSTA_ROMANA


def _service(request: Request) -> PostalService:
    hub = request.app.state.hub
    service = getattr(hub, "_postal_service", None)
    if service is None:
        service = PostalService(hub)
        hub._postal_service = service
    return service


def dispatch_view(row: dict[str, Any], *, full: bool) -> dict[str, Any]:
    """A dispatch as the API shows it: addressee masked unless ``full``; no card signer."""
    addressee = dict(row["addressee"])
    if not full:
        address = addressee.get("address") or {}
        addressee = {
            "name": mask(addressee.get("name") or ""),
            "address": {"county": address.get("county"), "locality": address.get("locality")},
        }
    outcome = dict(row.get("outcome") or {})
    if not full:
        outcome.pop("signer", None)
    out = {
        "id": row["id"],
        "document_id": row["document_id"],
        "registration_number": row["registration_number"],
        "department": row["department"],
        "service": row["service"],
        "network": row["network"],
        "contractor": row["contractor"],
        "state": row["state"],
        "tracking_number": row["tracking_number"],
        "manifest_id": row["manifest_id"],
        "cost_ron": f"{int(row['cost_bani']) / 100:.2f}",
        "addressee": addressee,
        "outcome": outcome or None,
        "stuck": row["stuck_flagged_at"] is not None,
        "created_at": row["created_at"],
    }
    for key in ("events", "attachments", "delivery_state", "delivery_error"):
        if key in row:
            out[key] = row[key]
    return out


def _input_error(exc: InputError) -> ApiError:
    return ApiError(exc.status, exc.message, errors=exc.errors)


def register_routes(router: APIRouter) -> None:
    @router.post(
        "/dispatches",
        status_code=201,
        tags=["postal"],
        summary="Ask for a registered document's answer to be sent by post or courier",
        responses={
            200: {"description": "replay of a request already accepted (same Idempotency-Key)"},
            404: {"description": "no such document"},
            409: {"description": "document not registered yet, or Idempotency-Key reused"},
            422: {"description": "invalid request (field paths in errors)"},
        },
    )
    async def create_dispatch(
        body: DispatchIn,
        request: Request,
        principal: Principal = Depends(require_scope("intake")),
    ) -> Response:
        key = request.headers.get("idempotency-key") or None
        if key is not None and len(key) > 200:
            raise ApiError(
                422,
                "the Idempotency-Key header is longer than 200 characters",
                errors=[{"loc": ["header", "idempotency-key"], "msg": "too long"}],
            )
        try:
            created = await _service(request).create(
                body, actor=principal.actor, idempotency_key=key
            )
        except InputError as exc:
            raise _input_error(exc) from None
        view = dispatch_view(created.dispatch, full=principal.has("pii"))
        view["delivery_id"] = created.delivery_id
        return OrjsonResponse(
            view,
            status_code=201 if created.created else 200,
            headers={"Location": f"/api/v1/dispatches/{created.dispatch['id']}"},
        )

    @router.get("/dispatches", tags=["postal"], summary="Dispatches, by id (keyset paging)")
    async def list_dispatches(
        request: Request,
        state: str | None = Query(default=None, max_length=24),
        stuck: bool | None = Query(default=None, description="Only (not) stuck ones"),
        document_id: str | None = Query(default=None, max_length=36),
        after: str = Query(default="", max_length=36, description="Last id of the page before"),
        limit: int = Query(default=100, ge=1, le=500),
        principal: Principal = Depends(require_scope("read")),
    ) -> list[dict[str, Any]]:
        rows = await _service(request).store.search(
            state=state, stuck=stuck, document_id=document_id, after=after, limit=limit
        )
        return [dispatch_view(r, full=principal.has("pii")) for r in rows]

    @router.get("/dispatches/{dispatch_id}", tags=["postal"], summary="One dispatch")
    async def get_dispatch(
        dispatch_id: str,
        request: Request,
        principal: Principal = Depends(require_scope("read")),
    ) -> dict[str, Any]:
        row = await _service(request).store.detail(dispatch_id)
        if row is None:
            raise ApiError(404, "no such dispatch")
        return dispatch_view(row, full=principal.has("pii"))

    @router.get(
        "/dispatches/{dispatch_id}/attachments/{position}",
        tags=["postal"],
        summary="A file of the dispatch, to print",
        dependencies=[Depends(require_scope("read"))],
    )
    async def get_attachment(dispatch_id: str, position: int, request: Request) -> Response:
        row = await _service(request).store.attachment(dispatch_id, position)
        if row is None:
            raise ApiError(404, "no such attachment")
        return Response(
            bytes(row["content"]),
            media_type=row["content_type"],
            headers={"Content-Disposition": f'attachment; filename="attachment-{position}"'},
        )

    @router.post(
        "/dispatches/{dispatch_id}/confirmation",
        tags=["postal"],
        summary="Record a returned confirmation-of-receipt card (date, signer, scan)",
    )
    async def confirm(
        dispatch_id: str,
        body: ConfirmationIn,
        request: Request,
        principal: Principal = Depends(require_scope("operator")),
    ) -> dict[str, Any]:
        try:
            row = await _service(request).confirm(dispatch_id, body, actor=principal.actor)
        except InputError as exc:
            raise _input_error(exc) from None
        return dispatch_view(row, full=False)

    @router.post(
        "/postal/manifests",
        tags=["postal"],
        summary="Close a day: put the queued post items on that day's manifests",
    )
    async def close_day(
        body: CloseDayIn,
        request: Request,
        principal: Principal = Depends(require_scope("operator")),
    ) -> dict[str, Any]:
        service = _service(request)
        day = body.day or local_day(service.hub.ledger.clock())
        created = await service.store.close_day(day, body.network.value, principal.actor)
        manifests = await service.store.manifests(day, body.network.value)
        return {
            "day": day.isoformat(),
            "network": body.network.value,
            "created": created,
            "manifests": [
                {
                    "id": m["id"],
                    "service": m["service"],
                    "sequence": m["sequence"],
                    "items": m["items"],
                    "total_ron": f"{int(m['total_bani']) / 100:.2f}",
                    "pdf": f"/api/v1/postal/manifests/{m['id']}.pdf",
                    "csv": f"/api/v1/postal/manifests/{m['id']}.csv",
                }
                for m in manifests
            ],
        }

    @router.get(
        "/postal/manifests/{manifest_id}.{fmt}",
        tags=["postal"],
        summary="A manifest",
        dependencies=[Depends(require_scope("read"))],
    )
    async def get_manifest(manifest_id: int, fmt: str, request: Request) -> Response:
        if fmt not in ("pdf", "csv"):
            raise ApiError(404, "manifests are served as .pdf or .csv")
        service = _service(request)
        found = await service.store.manifest(manifest_id)
        if found is None:
            raise ApiError(404, "no such manifest")
        head, items = found
        name = f"borderou-{head['day']}-{head['network']}-{head['service']}-{head['sequence']}"
        if fmt == "pdf":
            content = manifest_pdf(service.settings, head, items)
            media = "application/pdf"
        else:
            content = manifest_csv(head, items).encode("utf-8-sig")
            media = "text/csv; charset=utf-8"
        return Response(
            content,
            media_type=media,
            headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
        )
