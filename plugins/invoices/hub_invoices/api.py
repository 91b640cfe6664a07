"""``GET /api/v1/invoices/status`` and ``GET /api/v1/invoices/messages``: what the e-Factura
robot did — errors ("ERORI FACTURA" reports, unreadable invoices) and duplicates included, since
those are not registered as documents and would otherwise be invisible."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from hub.api.auth import require_scope
from hub_invoices.source import SOURCE, EFacturaSource
from hub_invoices.tables import MESSAGE_STATES

__all__ = ["register_routes"]


def _source(request: Request) -> EFacturaSource:
    hub = request.app.state.hub
    src = hub.sources.get(SOURCE)
    if not isinstance(src, EFacturaSource) or src._store is None:
        raise HTTPException(status_code=503, detail="e-Factura source is not configured")
    return src


def register_routes(router: APIRouter) -> None:
    @router.get(
        "/invoices/status",
        tags=["invoices"],
        summary="e-Factura source: last poll, lag, items today, quota used today, last error",
        dependencies=[Depends(require_scope("read"))],
    )
    async def invoices_status(request: Request) -> dict[str, Any]:
        src = _source(request)
        data = await src.status()
        hub = request.app.state.hub
        states = {s["source"]: s for s in await hub.runner.read(hub.ledger.source_states)}
        st = states.get(SOURCE, {})
        data["last_success_at"] = st.get("last_success_at")
        data["last_error"] = st.get("last_error") or data.get("last_error")
        data["paused_until"] = st.get("paused_until")
        return data

    @router.get(
        "/invoices/messages",
        tags=["invoices"],
        summary="e-Factura messages with their state (error, anaf_error, duplicate, …)",
        dependencies=[Depends(require_scope("read"))],
    )
    async def invoices_messages(
        request: Request,
        state: str | None = Query(default=None, description=", ".join(MESSAGE_STATES)),
        limit: int = Query(default=50, ge=1, le=500),
        before: str | None = Query(default=None, pattern=r"^\d{1,32}$"),
    ) -> dict[str, Any]:
        if state is not None and state not in MESSAGE_STATES:
            raise HTTPException(status_code=422, detail=f"state must be one of {MESSAGE_STATES}")
        src = _source(request)
        rows = await src._read(src.store.list_messages, state, limit, before)
        return {"messages": rows, "next_before": rows[-1]["id"] if len(rows) == limit else None}
