"""``/healthz``, ``/readyz`` and ``/metrics``, at the root where probes and scrapers look.

``/healthz`` answers from memory: the process is alive and its event loop turns. ``/readyz``
asks the ledger for its schema revision (reachable + current) and says only ``ok`` or
``failed`` per check: it needs no token, so it must not describe the installation. Connector
health is *not* part of readiness — a remote system being down is what the retry queue is for,
and taking the hub out of a load balancer then would only stop intake. The details are at the
authenticated ``/api/v1/health``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from hub.api.auth import Authenticator, Principal
from hub.api.errors import ErrorBody, error_response, error_responses
from hub.api.schemas import Liveness, Readiness
from hub.db.migrate import missing_revisions
from hub.runtime import Hub

__all__ = ["probes_router"]

READY_TIMEOUT_SECONDS = 5.0


def probes_router(hub: Hub, auth: Authenticator) -> APIRouter:
    router = APIRouter(tags=["probes"])

    @router.get("/healthz", response_model=Liveness, summary="The process is alive")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        response_model=Readiness,
        summary="The ledger is reachable and its schema is current",
        responses={503: {"model": ErrorBody, "description": "not ready"}},
    )
    async def readyz() -> Any:
        checks = {"ledger": "failed", "schema": "failed"}
        try:
            missing = await asyncio.wait_for(
                hub.runner.read(missing_revisions, hub.reader), READY_TIMEOUT_SECONDS
            )
        except Exception:  # noqa: S110 - any failure means "not ready"; details stay private
            pass
        else:
            checks["ledger"] = "ok"
            if not missing:
                checks["schema"] = "ok"
        failed = [name for name, state in checks.items() if state != "ok"]
        if failed:
            return error_response(
                503,
                "not_ready",
                "not ready: " + ", ".join(failed),
                [{"loc": [name], "msg": "failed", "type": "check_failed"} for name in failed],
            )
        return {"status": "ok", "checks": checks}

    @router.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics",
        response_class=Response,
        responses={
            200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"},
            **error_responses(401, 403),
        },
    )
    async def metrics(_: Principal = Depends(auth.require("metrics"))) -> Response:
        await hub.refresh_metrics()
        return Response(generate_latest(hub.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router
