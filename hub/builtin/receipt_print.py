"""``POST /api/v1/documents/{id}/recipisa``: the receipt (recipisă) printed at the counter.

Issues a new access code (the previous one stops working), records ``receipt_printed`` in the
audit trail and answers the A4 PDF. Needs a token with the ``operator`` scope. Registered by the
built-in ``receipt`` plugin (:mod:`hub.builtin.receipt`) when the API is built.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from hub.api.auth import Principal, require_scope
from hub.receipts import ReceiptFacts, issue_code, recipisa_pdf

__all__ = ["register_routes"]


def register_routes(router: APIRouter) -> None:
    @router.post(
        "/documents/{document_id}/recipisa",
        tags=["documents"],
        summary="Print the receipt (recipisă) at the counter: issues a new access code",
        response_class=Response,
        responses={
            200: {"content": {"application/pdf": {}}, "description": "the receipt, A4 PDF"},
            404: {"description": "no such document"},
            409: {"description": "not registered yet"},
        },
    )
    async def recipisa(
        document_id: str,
        request: Request,
        principal: Principal = Depends(require_scope("operator")),
    ) -> Response:
        hub = request.app.state.hub
        doc = await hub.documents.get(document_id)
        if doc is None:
            raise HTTPException(404, "no such document")
        if not doc.registration_number:
            raise HTTPException(409, "the document has no registration number yet")
        code = await hub.runner.write(issue_code, hub.ledger, doc.id)
        await hub.runner.write(
            hub.ledger.record_event,
            "receipt_printed",
            principal.actor,
            "access code issued at the counter",
            document_id=doc.id,
        )
        facts = ReceiptFacts.of(doc, code, hub.settings.public_url)
        pdf = await asyncio.to_thread(recipisa_pdf, facts)
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"cache-control": "no-store"},
        )
