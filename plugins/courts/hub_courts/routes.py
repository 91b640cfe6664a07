"""The plugin's API (under ``/api/v1``, bearer token; ``read`` for GET, ``operator`` for changes).

* ``GET /courts/hearings.ics`` — the hearing calendar (iCalendar); ``GET /courts/hearings`` (JSON)
* ``GET /courts/centralizator?date=&department=&format=json|pdf|csv`` — the daily handover list
* ``POST /courts/handovers`` — record a handover (closes the ``handover`` deliveries)
* ``GET /notice-board`` — what is posted; ``POST /notice-board`` — post an act;
  ``POST /notice-board/{id}/removal``; ``GET /notice-board/{id}/proces-verbal-afisare.pdf`` and
  ``…/proces-verbal-dezafisare.pdf``
"""

from __future__ import annotations

import datetime as dt
from datetime import UTC, date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from hub.api.auth import Principal, require_scope
from hub_courts import noticeboard, service
from hub_courts.centralizator import as_json, list_acts, to_csv, to_pdf
from hub_courts.ical import hearings_calendar

__all__ = ["register_routes"]


class HandoverIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    date: dt.date = Field(description="Day of the centralizator (registration date)")
    department: str = Field(min_length=1, max_length=64, description="Receiving department")
    received_by: str = Field(min_length=2, max_length=200, description="Who signed for the acts")
    received_at: datetime | None = Field(default=None, description="When (default: now)")


class PostingIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    act: str = Field(min_length=2, max_length=500, description="The act posted, as on the record")
    posted_on: date
    posted_by: str = Field(min_length=2, max_length=200, description="The clerk who posted it")
    document_id: str | None = Field(default=None, max_length=36)
    issuer: str = Field(default="", max_length=300)
    case_number: str = Field(default="", max_length=64)
    addressee: str = Field(default="", max_length=300)


class RemovalIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    removed_on: date
    removed_by: str = Field(min_length=2, max_length=200, description="The clerk who removed it")


def register_routes(router: APIRouter) -> None:
    @router.get(
        "/courts/hearings.ics",
        tags=["courts"],
        summary="Hearing calendar (iCalendar)",
        dependencies=[Depends(require_scope("read"))],
    )
    async def hearings_ics(
        request: Request, days: int | None = Query(default=None, ge=1, le=730)
    ) -> Response:
        hub = request.app.state.hub
        rows = await hub.runner.read(service.hearings, hub, days=days, past_days=30)
        body = hearings_calendar(rows, tz=service.courts_settings(hub).timezone)
        return Response(
            body,
            media_type="text/calendar; charset=utf-8",
            headers={"Content-Disposition": 'inline; filename="termene-instante.ics"'},
        )

    @router.get(
        "/courts/hearings",
        tags=["courts"],
        summary="Next hearings (JSON)",
        dependencies=[Depends(require_scope("read"))],
    )
    async def hearings_json(
        request: Request, days: int | None = Query(default=None, ge=1, le=730)
    ) -> list[dict[str, Any]]:
        hub = request.app.state.hub
        rows = await hub.runner.read(service.hearings, hub, days=days)
        return [r | {"at": r["at"].isoformat()} for r in rows]

    @router.get(
        "/courts/centralizator",
        tags=["courts"],
        summary="Daily handover list",
        dependencies=[Depends(require_scope("read"))],
    )
    async def centralizator(
        request: Request,
        day: date = Query(alias="date"),
        department: str | None = Query(default=None, max_length=64),
        format: Literal["json", "pdf", "csv"] = "json",
    ) -> Any:
        hub = request.app.state.hub
        s = service.courts_settings(hub)
        acts = await hub.runner.read(
            list_acts,
            hub.ledger.reader,
            day,
            kinds=s.centralizator_kinds,
            tz=s.timezone,
            department=department,
        )
        name = f"centralizator-{day:%Y-%m-%d}{'-' + department if department else ''}"
        if format == "pdf":
            pdf = to_pdf(acts, day, department, now=datetime.now(UTC))
            return Response(
                pdf,
                media_type="application/pdf",
                headers={"Content-Disposition": f'inline; filename="{name}.pdf"'},
            )
        if format == "csv":
            return Response(
                to_csv(acts),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
            )
        return {"date": day.isoformat(), "department": department, "acts": as_json(acts)}

    @router.post("/courts/handovers", tags=["courts"], summary="Record a handover")
    async def handover(
        body: HandoverIn,
        request: Request,
        principal: Principal = Depends(require_scope("operator")),
    ) -> dict[str, Any]:
        hub = request.app.state.hub
        when = body.received_at or datetime.now(UTC)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        try:
            done, document_ids = await hub.runner.write(
                service.record,
                hub,
                body.date,
                body.department,
                received_by=body.received_by,
                received_at=when,
                actor=principal.actor,
            )
        except IntegrityError:
            raise HTTPException(
                409, "another handover of these acts was being recorded; look again and retry"
            ) from None
        closed = await service.close_handover(hub, done, document_ids, principal.actor)
        return {
            "handover_id": done.id,
            "date": body.date.isoformat(),
            "department": body.department,
            "received_by": done.received_by,
            "received_at": done.received_at.isoformat(),
            "documents": done.documents,
            "deliveries_closed": closed,
        }

    @router.get(
        "/notice-board",
        tags=["notice board"],
        summary="Acts on the notice board",
        dependencies=[Depends(require_scope("read"))],
    )
    async def notice_board(
        request: Request,
        include_removed: bool = Query(default=False, alias="all", description="Removed ones too"),
    ) -> list[dict[str, Any]]:
        hub = request.app.state.hub
        items = await hub.runner.read(
            noticeboard.list_postings, hub.ledger.reader, current=not include_removed
        )
        return [p.as_json() for p in items]

    @router.post("/notice-board", tags=["notice board"], status_code=201, summary="Post an act")
    async def post_act(
        body: PostingIn, request: Request, principal: Principal = Depends(require_scope("operator"))
    ) -> dict[str, Any]:
        hub = request.app.state.hub
        if body.document_id and await hub.documents.get(body.document_id) is None:
            raise HTTPException(404, "no such document")
        s = service.courts_settings(hub)
        p: noticeboard.Posting = await hub.runner.write(
            noticeboard.add_posting,
            hub.ledger.writer,
            act=body.act,
            posted_on=body.posted_on,
            posted_by=body.posted_by,
            rule=s.notice_board,
            actor=principal.actor,
            document_id=body.document_id,
            issuer=body.issuer,
            case_number=body.case_number,
            addressee=body.addressee,
        )
        return p.as_json()

    @router.post("/notice-board/{posting_id}/removal", tags=["notice board"])
    async def remove_act(
        posting_id: int,
        body: RemovalIn,
        request: Request,
        principal: Principal = Depends(require_scope("operator")),
    ) -> dict[str, Any]:
        hub = request.app.state.hub
        try:
            p: noticeboard.Posting | None = await hub.runner.write(
                noticeboard.record_removal,
                hub.ledger.writer,
                posting_id,
                removed_on=body.removed_on,
                removed_by=body.removed_by,
                actor=principal.actor,
            )
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        if p is None:
            raise HTTPException(404, "no such posting")
        return p.as_json()

    @router.get(
        "/notice-board/{posting_id}/proces-verbal-afisare.pdf",
        tags=["notice board"],
        dependencies=[Depends(require_scope("read"))],
    )
    async def pv_afisare(posting_id: int, request: Request) -> Response:
        hub = request.app.state.hub
        p = await hub.runner.read(noticeboard.get_posting, hub.ledger.reader, posting_id)
        if p is None:
            raise HTTPException(404, "no such posting")
        return Response(noticeboard.pv_afisare(p), media_type="application/pdf")

    @router.get(
        "/notice-board/{posting_id}/proces-verbal-dezafisare.pdf",
        tags=["notice board"],
        dependencies=[Depends(require_scope("read"))],
    )
    async def pv_dezafisare(posting_id: int, request: Request) -> Response:
        hub = request.app.state.hub
        p = await hub.runner.read(noticeboard.get_posting, hub.ledger.reader, posting_id)
        if p is None:
            raise HTTPException(404, "no such posting")
        if p.removed_on is None:
            raise HTTPException(409, "the act has not been removed yet")
        return Response(noticeboard.pv_dezafisare(p), media_type="application/pdf")
