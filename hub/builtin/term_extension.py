"""``POST /api/v1/documents/{id}/term/extension``: extend a document's legal term, once.

Petitions (OG 27/2002) may be extended once by at most 15 days, 544 requests become 30 days
from registration when the requester was notified — always with a reason. The new due date,
the original one and the reason are kept in ``metadata.term``, and an audit event
``term_extended`` records who did it. Asking again answers 409; a kind whose term cannot be
extended, or a missing reason, 422. Needs a token with the ``operator`` scope.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from fastapi import Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import insert, select, update

from hub.api.auth import Principal, require_scope
from hub.db.schema import documents, events
from hub.terms import TermEngine, TermError, local_date

if TYPE_CHECKING:
    from fastapi import APIRouter

    from hub.db.ledger import Ledger

__all__ = ["TermExtensionIn", "TermExtensionOut", "extend_document_term", "register_routes"]


class TermExtensionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=5, max_length=1000, description="Why the term is extended")
    days: int | None = Field(
        default=None, ge=1, le=366, description="Days to add (petitions; default the maximum)"
    )


class TermExtensionOut(BaseModel):
    document_id: str
    kind: str
    original_due_date: date
    due_date: date
    days: int


class _Conflict(Exception):
    pass


def extend_document_term(
    ledger: Ledger,
    engine: TermEngine,
    document_id: str,
    body: TermExtensionIn,
    actor: str,
) -> TermExtensionOut | None:
    """Extend in one transaction (None: no such document). Raises TermError or _Conflict."""
    with ledger.writer.begin() as conn:
        row = conn.execute(
            select(
                documents.c.kind,
                documents.c.due_date,
                documents.c.created_at,
                documents.c.registered_at,
                documents.c.meta,
            ).where(documents.c.id == document_id)
        ).first()
        if row is None:
            return None
        meta: dict[str, Any] = dict(row.meta or {})
        start = local_date(row.registered_at or row.created_at)
        already = bool((meta.get("term") or {}).get("extended"))
        if already:
            raise _Conflict("the term was already extended once")
        ext = engine.extend(
            row.kind,
            start,
            row.due_date,
            days=body.days,
            already_extended=already,
            reason=body.reason,
        )
        meta["term"] = {
            "extended": True,
            "original_due_date": ext.original_due_date.isoformat(),
            "due_date": ext.due_date.isoformat(),
            "days": ext.days,
            "reason": body.reason,
        }
        conn.execute(
            update(documents)
            .where(documents.c.id == document_id)
            .values(due_date=ext.due_date, meta=meta)
        )
        conn.execute(
            insert(events).values(
                at=ledger.clock(),
                document_id=document_id,
                actor=actor,
                action="term_extended",
                reason=f"{ext.original_due_date:%Y-%m-%d} → {ext.due_date:%Y-%m-%d}: {body.reason}",
            )
        )
    return TermExtensionOut(
        document_id=document_id,
        kind=row.kind,
        original_due_date=ext.original_due_date,
        due_date=ext.due_date,
        days=ext.days,
    )


def register_routes(router: APIRouter) -> None:
    @router.post(
        "/documents/{document_id}/term/extension",
        response_model=TermExtensionOut,
        tags=["documents"],
        summary="Extend the legal term once, with a reason",
        responses={
            404: {"description": "no such document"},
            409: {"description": "already extended"},
            422: {"description": "this kind's term cannot be extended, or bad days/reason"},
        },
    )
    async def extend(
        document_id: str,
        body: TermExtensionIn,
        request: Request,
        principal: Principal = Depends(require_scope("operator")),
    ) -> Any:
        hub = request.app.state.hub
        try:
            out = await hub.runner.write(
                extend_document_term, hub.ledger, hub.terms, document_id, body, principal.actor
            )
        except TermError as exc:
            raise HTTPException(422, str(exc)) from None
        except _Conflict as exc:
            raise HTTPException(409, str(exc)) from None
        if out is None:
            raise HTTPException(404, "no such document")
        return out
