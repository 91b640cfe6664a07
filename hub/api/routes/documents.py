"""``/api/v1/documents``: intake, one document with its deliveries and timeline, search.

Intake is the benchmarked path. It is served as a plain ASGI endpoint (:class:`AsgiEndpoint`,
routed ahead of the FastAPI routes, which still describe it in the OpenAPI document): FastAPI's
request handling cost about as much as the handler itself. Per request it costs a token check
from the cache (done in the handler, not as a dependency, for the same reason), one header
check, one bounded body read, one pydantic parse, :meth:`IntakeService.prepare` and a place in
the next group commit; the answer is built from the prepared row, not read back. Only a replay
reads the ledger (to answer with the original document). Large bodies are parsed off the event
loop so that a 25 MB attachment does not stall the dispatcher running beside the API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Query
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from hub.api.auth import Authenticator, Principal
from hub.api.body import check_json, parse_document, read_limited
from hub.api.errors import ApiError, error_responses
from hub.api.present import document_view, prepared_view
from hub.api.responses import OrjsonResponse
from hub.api.schemas import DocumentDetail, DocumentOut
from hub.db.ledger import PreparedDocument
from hub.models import Document
from hub.runtime import Hub

__all__ = ["AsgiEndpoint", "documents_router", "intake_handler"]

#: Bodies above this are parsed and prepared on a worker thread.
OFFLOAD_BYTES = 256 * 1024

#: The intake handler reads its body, token and header by hand (see the module docstring), so
#: the OpenAPI document is told about them here.
MAX_KEY_LENGTH = 200
_INTAKE_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DocumentIn"}}},
    },
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": "Makes a retried POST safe: the same key answers the same document",
            "schema": {"type": "string", "maxLength": MAX_KEY_LENGTH},
        }
    ],
    "security": [{"HTTPBearer": []}],
}


IntakeHandler = Callable[[Request], Awaitable[Response]]


def intake_handler(hub: Hub, auth: Authenticator) -> IntakeHandler:
    """``POST /api/v1/documents``: one coroutine, served by :class:`AsgiEndpoint` and described
    (OpenAPI) by the FastAPI route of :func:`documents_router`."""
    intake, ledger, runner = hub.intake, hub.ledger, hub.runner
    limit = hub.settings.max_request_bytes

    def prepare(body: bytes, key: str | None, actor: str) -> PreparedDocument:
        return intake.prepare(parse_document(body), idempotency_key=key, actor=actor)

    async def submit_document(request: Request) -> Response:
        principal = await auth.check(request, "intake")
        key = request.headers.get("idempotency-key") or None
        if key is not None and len(key) > MAX_KEY_LENGTH:
            raise ApiError(
                422,
                f"the Idempotency-Key header is longer than {MAX_KEY_LENGTH} characters",
                errors=[{"loc": ["header", "idempotency-key"], "msg": "too long"}],
            )
        check_json(request)
        body = await read_limited(request, limit)
        if len(body) > OFFLOAD_BYTES:
            prepared = await asyncio.to_thread(prepare, body, key, principal.actor)
        else:
            prepared = prepare(body, key, principal.actor)
        result = await intake.submit(prepared)
        if result.conflict:
            raise ApiError(
                409,
                "this Idempotency-Key or source/external_id was already used for a different "
                f"document ({result.document_id})",
                code="idempotency_conflict",
            )
        if result.created:
            return OrjsonResponse(
                prepared_view(prepared),
                status_code=201,
                headers={"Location": f"/api/v1/documents/{result.document_id}"},
            )
        original = await runner.read(ledger.get_document, result.document_id)
        if original is None:  # pragma: no cover - the ledger just named it
            raise ApiError(404, "document not found")
        return OrjsonResponse(document_view(original), status_code=200)

    return submit_document


class AsgiEndpoint:
    """A request handler served as a plain ASGI app: what Starlette's ``Route`` runs for an
    endpoint that is not a function, so FastAPI's request handling (dependency resolution, an
    exit stack, its nested-router matching) is not paid on the intake path. An exception
    propagates to the app's exception handlers exactly as it would from a FastAPI route."""

    def __init__(self, handler: IntakeHandler) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.handler(Request(scope, receive))
        await response(scope, receive, send)


def documents_router(hub: Hub, auth: Authenticator, submit: IntakeHandler) -> APIRouter:
    """Intake's description (served by :class:`AsgiEndpoint` in front of it), look-up and
    search."""
    router = APIRouter(tags=["documents"])
    ledger, runner = hub.ledger, hub.runner

    router.post(
        "/documents",
        status_code=201,
        response_model=DocumentOut,
        summary="Submit a document",
        description="Validates, classifies and routes the document, and writes it with all its "
        "deliveries in one transaction before answering. 201 for a new document (with "
        "`Location`); 200 with the original for a replay (same `source` + `external_id`, or "
        "the same `Idempotency-Key`); 409 when either is reused for a different document.",
        responses={
            200: {"model": DocumentOut, "description": "replay of a document already accepted"},
            **error_responses(401, 403, 409, 413, 415, 422),
        },
        openapi_extra=_INTAKE_OPENAPI,
    )(submit)

    @router.get(
        "/documents/{document_id}",
        response_model=DocumentDetail,
        summary="One document with its deliveries and timeline",
        description="The sender is masked unless the token has the `pii` scope; an unmasked "
        "view is recorded in the audit trail (`pii_viewed`).",
        responses=error_responses(401, 403, 404),
    )
    async def get_document(
        document_id: str, principal: Principal = Depends(auth.require("read"))
    ) -> dict[str, Any]:
        def load() -> tuple[Document | None, list[dict[str, Any]], dict[str, Any]]:
            doc = ledger.get_document(document_id)
            if doc is None:
                return None, [], {}
            return doc, ledger.deliveries_of(document_id), ledger.timeline(document_id)

        doc, deliveries, timeline = await runner.read(load)
        if doc is None:
            raise ApiError(404, "document not found")
        full = principal.has("pii")
        if full:
            # Audit first: nobody sees a person's data without a durable record of it.
            await runner.write(
                ledger.record_event, "pii_viewed", principal.actor, document_id=document_id
            )
        view = document_view(doc, full_sender=full)
        view["deliveries"] = deliveries
        view["timeline"] = timeline
        return view

    @router.get(
        "/documents",
        response_model=list[DocumentOut],
        summary="Search documents",
        description="Newest first; all given criteria must match. Senders are always masked.",
        responses=error_responses(401, 403, 422),
    )
    async def search_documents(
        registration_number: str | None = Query(default=None, max_length=64),
        external_id: str | None = Query(default=None, max_length=200),
        kind: str | None = Query(default=None, max_length=64),
        limit: int = Query(default=50, ge=1, le=500),
        _: Principal = Depends(auth.require("read")),
    ) -> list[dict[str, Any]]:
        found = await runner.read(
            ledger.find_documents,
            registration_number=registration_number,
            external_id=external_id,
            kind=kind,
            limit=limit,
        )
        return [document_view(d) for d in found]

    return router
