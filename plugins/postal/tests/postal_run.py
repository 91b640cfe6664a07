"""One courier dispatch through a real hub with respx in front of the courier, for the contract
kit's metrics test (see test_postal_contract.py)."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hub_postal.dispatches import DispatchIn, PostalService
from prometheus_client import CollectorRegistry

from hub.connectors import Connector
from hub.hookspecs import hookimpl
from hub.models import Job, Receipt
from hub.plugins import create_plugin_host
from hub.routing import RoutingRules
from hub.runtime import Hub
from hub.settings import load_settings
from hub.testing.factories import make_document_in
from hub.testing.remote import MockRemote


class _Registrar(Connector):
    name = "registrar"

    async def deliver(self, job: Job) -> Receipt:
        return Receipt(registration_number="REG/00001")


class _Plugin:
    @hookimpl
    def hub_register_connectors(self, register: Any) -> None:
        register(_Registrar)


@dataclass
class Run:
    registry: CollectorRegistry
    delivery: dict[str, Any]
    attempts: list[dict[str, Any]]

    def sample(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


async def run_dispatch_through_hub(
    settings: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Run:
    for key in [k for k in os.environ if k.startswith("HUB_") and not k.startswith("HUB_TEST_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HUB_CONFIG_FILE", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("HUB_LOAD_PLUGINS", "postal")
    base = settings["base_url"]
    remote = MockRemote()
    remote.router.post(f"{base}/login").mock(
        return_value=httpx.Response(200, json={"status": "success", "data": {"token": "t"}})
    )
    remote.router.post(f"{base}/intern-awb").mock(
        return_value=httpx.Response(200, json={"response": [{"awbNumber": 2000000000042}]})
    )
    host = create_plugin_host(extra=[_Plugin()])
    hub_settings = load_settings(
        host.settings_sections(),
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        data_dir=tmp_path,
        postal=settings,
    )
    rules = RoutingRules.model_validate(
        {"fallback": {"destinations": [{"connector": "registrar"}]}}
    )
    registry = CollectorRegistry()
    hub = Hub(
        hub_settings,
        host,
        registry=registry,
        rules=rules,
        transports={"postal": remote.transport},
        migrate=True,
    )
    task = None
    try:
        await hub.start()
        task = asyncio.create_task(hub.dispatcher.run())
        doc = await hub.intake.submit(hub.intake.prepare(make_document_in()))
        for _ in range(1000):
            stored = await hub.documents.get(doc.document_id)
            if stored is not None and stored.registration_number:
                break
            await asyncio.sleep(0.02)
        created = await PostalService(hub).create(
            DispatchIn.model_validate(
                {
                    "document_id": doc.document_id,
                    "service": "courier_pod",
                    "addressee": {
                        "name": "Kit Destinatar",
                        "phone": "0722000000",
                        "address": {
                            "county": "TM",
                            "locality": "Timișoara",
                            "street": "Strada Kit",
                            "postal_code": "300001",
                        },
                    },
                }
            ),
            actor="kit",
        )
        assert created.delivery_id is not None
        for _ in range(1000):
            delivery = await hub.runner.read(hub.ledger.get_delivery, created.delivery_id)
            assert delivery is not None
            if delivery["state"] in ("delivered", "dead"):
                break
            await asyncio.sleep(0.02)
        timeline = await hub.runner.read(hub.ledger.timeline, doc.document_id)
        attempts = [a for a in timeline["attempts"] if a["delivery_id"] == created.delivery_id]
        remote.assert_all_called()
        return Run(registry, delivery, attempts)
    finally:
        hub.stop()
        if task is not None:
            await task
        await hub.aclose()
