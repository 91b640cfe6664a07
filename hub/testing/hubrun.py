"""Run one document through a real hub (intake → ledger → dispatcher → connector) in-process.

The connector is registered by a plugin object exactly as its entry point would register it,
its settings section goes through :func:`hub.settings.load_settings`, and the ledger is a fresh
SQLite file. What comes back is the hub's own record: the delivery row, its attempts, and the
Prometheus registry the dispatcher wrote into.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry

from hub.connectors import Connector
from hub.hookspecs import hookimpl
from hub.models import DeliveryState, DocumentIn, Job
from hub.plugins import create_plugin_host
from hub.routing import RoutingRules
from hub.runtime import Hub
from hub.settings import load_settings

__all__ = ["HubRun", "dispatching", "run_through_hub"]

FINAL_STATES = (DeliveryState.DELIVERED.value, DeliveryState.DEAD.value)


@contextlib.asynccontextmanager
async def dispatching(hub: Hub) -> AsyncIterator[Hub]:
    """``async with dispatching(hub):`` the hub started and its dispatcher running (no sources),
    stopped and drained on the way out — what a plugin's end-to-end tests run their documents
    through."""
    await hub.start()
    task = asyncio.create_task(hub.dispatcher.run(), name="kit-dispatcher")
    try:
        yield hub
    finally:
        hub.stop()
        await task


class _RegisterOne:
    """A plugin object registering one connector class, as an entry point would."""

    def __init__(self, cls: type[Connector]) -> None:
        self.cls = cls

    @hookimpl
    def hub_register_connectors(self, register: Callable[[type[Connector]], None]) -> None:
        register(self.cls)


@dataclass
class HubRun:
    registry: CollectorRegistry
    delivery: dict[str, Any]
    attempts: list[dict[str, Any]]

    def sample(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


async def run_through_hub(
    connector_class: type[Connector],
    settings: dict[str, Any],
    document: DocumentIn,
    *,
    data_dir: Path,
    transport: httpx.AsyncBaseTransport,
    declare: Callable[[Job], None],
    target: str | None = None,
    deadline_seconds: float = 20.0,
) -> HubRun:
    """Route ``document`` to the connector only, declare the remote's answers once the delivery's
    job is known (``declare``), dispatch until the delivery is delivered or dead."""
    name = connector_class.name
    host = create_plugin_host(entry_points=False, extra=[_RegisterOne(connector_class)])
    hub_settings = load_settings(
        host.settings_sections(),
        database_url=f"sqlite:///{data_dir / 'hub.db'}",
        data_dir=data_dir,
        **{connector_class.section(): settings},
    )
    rules = RoutingRules.model_validate(
        {"fallback": {"destinations": [{"connector": name, "target": target}]}}
    )
    registry = CollectorRegistry()
    hub = Hub(
        hub_settings,
        host,
        registry=registry,
        transports={name: transport},
        rules=rules,
        migrate=True,
    )
    dispatching: asyncio.Task[None] | None = None
    try:
        await hub.start()
        result = await hub.intake.submit(hub.intake.prepare(document))
        rows = await hub.runner.read(hub.ledger.deliveries_of, result.document_id)
        row = next(r for r in rows if r["connector"] == name)
        stored = await hub.runner.read(hub.ledger.get_document, result.document_id)
        assert stored is not None
        declare(
            Job(
                delivery_id=row["id"],
                connector=name,
                idempotency_key=row["idempotency_key"],
                attempt=1,
                document=stored,
                target=row["target"],
            )
        )
        dispatching = asyncio.create_task(hub.dispatcher.run(), name="kit-dispatcher")
        hub.dispatcher.wake()
        deadline = asyncio.get_running_loop().time() + deadline_seconds
        while True:
            delivery = await hub.runner.read(hub.ledger.get_delivery, row["id"])
            assert delivery is not None
            if delivery["state"] in FINAL_STATES:
                break
            if asyncio.get_running_loop().time() > deadline or dispatching.done():
                raise AssertionError(
                    f"delivery still {delivery['state']} after {deadline_seconds:g} s "
                    f"(last error: {delivery.get('last_error')})"
                )
            await asyncio.sleep(0.02)
        hub.stop()
        await dispatching
        timeline = await hub.runner.read(hub.ledger.timeline, result.document_id)
        return HubRun(registry, delivery, timeline["attempts"])
    finally:
        if dispatching is not None and not dispatching.done():
            hub.stop()
            with contextlib.suppress(Exception):
                await dispatching
        await hub.aclose()
