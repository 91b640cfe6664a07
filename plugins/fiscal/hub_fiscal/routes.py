"""Plugin endpoints under ``/api/v1`` (bearer token; ``read`` scope):

* ``GET /fiscal/summary?date=YYYY-MM-DD[&format=csv]`` — the daily reconciliation summary;
* ``GET /units/overdue`` — items not acknowledged within ``HUB_DEPARTMENTS__ACK_WITHIN_HOURS``,
  per unit (what the follow-up reminds).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from starlette.requests import Request
from starlette.responses import Response

from hub.api.auth import require_scope
from hub.api.errors import error_responses
from hub.items import ItemStore
from hub.runtime import Hub
from hub.units import load_units
from hub_fiscal.followup import overdue_by_unit
from hub_fiscal.settings import DepartmentsSettings
from hub_fiscal.summary import daily_summary, summary_csv

__all__ = ["register_routes"]


def _hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def register_routes(router: APIRouter) -> None:
    @router.get(
        "/fiscal/summary",
        tags=["operations"],
        summary="Daily summary of acts acknowledged by the Fiscal Directorate, per issuer",
        responses=error_responses(401, 403, 422),
        dependencies=[Depends(require_scope("read"))],
    )
    async def fiscal_summary(
        request: Request,
        day: date = Query(alias="date", description="The local day (Europe/Bucharest)"),
        format: Literal["json", "csv"] = Query(default="json"),
    ) -> Any:
        hub = _hub(request)
        rows = await hub.runner.read(daily_summary, hub.ledger, day)
        if format == "csv":
            return Response(
                summary_csv(day, rows),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="fiscal-{day}.csv"'},
            )
        return {
            "date": day.isoformat(),
            "issuers": [r.view() for r in rows],
            "count": sum(r.count for r in rows),
            "total": f"{sum(r.total for r in rows):.2f}",
            "currency": "RON",
        }

    @router.get(
        "/units/overdue",
        tags=["items"],
        summary="Items not acknowledged in time, per unit",
        responses=error_responses(401, 403),
        dependencies=[Depends(require_scope("read"))],
    )
    async def units_overdue(request: Request) -> dict[str, Any]:
        hub = _hub(request)
        section = hub.settings.section("departments")
        hours = section.ack_within_hours if isinstance(section, DepartmentsSettings) else 48.0
        store = ItemStore(hub.ledger, load_units(hub.settings.units_file))
        grouped = await hub.runner.read(overdue_by_unit, store, hours)
        return {
            "ack_within_hours": hours,
            "units": {code: [i.view() for i in items] for code, items in sorted(grouped.items())},
        }
