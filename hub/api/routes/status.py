"""``/api/v1/connectors``, ``/api/v1/sources`` and ``/api/v1/health``: what the operations team
looks at first — is each system reachable, is its circuit open, what is stuck where."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from hub.api.auth import Authenticator, Principal
from hub.api.errors import error_responses
from hub.api.schemas import ConnectorOut, HealthOut, SourceOut
from hub.models import DeliveryState
from hub.runtime import Hub

__all__ = ["status_router"]

_STATES = [s.value for s in DeliveryState]


def _plugins_by_connector(hub: Hub) -> dict[str, str]:
    return {name: st.name for st in hub.host.statuses for name in st.connectors}


def status_router(hub: Hub, auth: Authenticator) -> APIRouter:
    router = APIRouter(tags=["operations"])
    ledger, runner, dispatcher = hub.ledger, hub.runner, hub.dispatcher
    plugin_of = _plugins_by_connector(hub)
    errors = error_responses(401, 403)

    @router.get(
        "/connectors",
        response_model=list[ConnectorOut],
        summary="Connectors with their circuit state and deliveries per state",
        responses=errors,
    )
    async def list_connectors(_: Principal = Depends(auth.require("read"))) -> list[dict[str, Any]]:
        stats = await runner.read(ledger.connector_stats)
        circuits = dispatcher.circuit_states()
        last = dispatcher.last_success()
        out = []
        for name in sorted(set(hub.connectors) | set(stats)):
            conn = hub.connectors.get(name)
            st = stats.get(name, {})
            out.append(
                {
                    "name": name,
                    "description": conn.description if conn else "(not installed)",
                    "plugin": plugin_of.get(name),
                    "enabled": bool(conn and conn.settings.enabled),
                    "circuit": circuits.get(name, "disabled"),
                    "last_success_at": last.get(name),
                    "counts": {s: int(st.get(s, 0)) for s in _STATES},
                    "oldest_open_age_seconds": float(st.get("oldest_open_age", 0.0)),
                }
            )
        return out

    @router.get(
        "/sources",
        response_model=list[SourceOut],
        summary="Sources with their last poll, last error and documents taken in",
        responses=errors,
    )
    async def list_sources(_: Principal = Depends(auth.require("read"))) -> list[dict[str, Any]]:
        states = {s["source"]: s for s in await runner.read(ledger.source_states)}
        for name in hub.sources:
            states.setdefault(name, {"source": name})
        for st in states.values():
            cursor = st.get("cursor")
            status = cursor.get("status") if isinstance(cursor, dict) else None
            st["status"] = status if isinstance(status, dict) else None
        return [states[name] for name in sorted(states)]

    @router.get(
        "/health",
        response_model=HealthOut,
        summary="Every health check (ledger, connectors, plugins), with details",
        responses=errors,
    )
    async def health(_: Principal = Depends(auth.require("read"))) -> dict[str, Any]:
        checks = await hub.health()
        return {"ok": all(c.ok for c in checks), "checks": [c.model_dump() for c in checks]}

    return router
