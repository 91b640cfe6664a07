"""The simulated courier as ``hub demo`` runs it: started on 127.0.0.1 before the hub is built,
its settings merged into the ``postal`` section. Once the samples are registered it sends an
answer to a petitioner by courier through the hub's API (``POST /api/v1/dispatches``, as a
department would); shipments advance by themselves (one event every ``step_seconds``) and
tracking polls often, so the demo shows the AWB reaching ``delivered`` with its proof."""

from __future__ import annotations

from typing import Any

import httpx

from hub.demo.simulators import DemoContext, DemoSimulator
from hub.models import DocumentIn
from hub_postal.simulator import CourierSimulator

__all__ = ["PostalDemoSimulator"]


class PostalDemoSimulator(DemoSimulator):
    name = "postal"
    connectors = ("postal",)
    description = "Courier API (FAN Courier v2 shapes): AWBs, tracking, proofs of delivery"

    #: Seconds between two events of a simulated shipment.
    step_seconds = 4.0

    def __init__(self) -> None:
        self.sim = CourierSimulator(step_seconds=self.step_seconds)

    async def start(self, ctx: DemoContext) -> dict[str, Any]:
        await self.sim.start()
        section = self.sim.settings()
        section["tracking"] = {"interval_seconds": 5.0}
        return {"postal": section}

    def counters(self) -> dict[str, int]:
        delivered = sum(
            1 for s in self.sim.shipments.values() if s.finished and s.outcome == "delivered"
        )
        return {
            "AWBs": len(self.sim.shipments),
            "delivered": delivered,
            "api calls": sum(v for k, v in self.sim.requests.items() if k != "login"),
        }

    def url(self) -> str | None:
        return self.sim.url if self.sim.port else None

    async def after_samples(self, api: httpx.AsyncClient, documents: dict[str, DocumentIn]) -> None:
        """Send the answer to the first petitioner who gave a phone number by courier with
        signed proof of delivery, to a (fictitious) address in Timișoara."""
        chosen = next(
            (
                (document_id, doc.sender)
                for document_id, doc in documents.items()
                if doc.kind == "petitie"
                and doc.sender is not None
                and doc.sender.type == "pf"
                and doc.sender.phone
            ),
            None,
        )
        if chosen is None:
            return
        document_id, sender = chosen
        answer = await api.post(
            "/api/v1/dispatches",
            json={
                "document_id": document_id,
                "service": "courier_pod",
                "addressee": {
                    "name": sender.name or "Petent",
                    "phone": sender.phone,
                    "address": {
                        "county": "TM",
                        "locality": "Timișoara",
                        "street": "Strada Exemplului",
                        "number": "1",
                        "postal_code": "300001",
                    },
                },
            },
        )
        answer.raise_for_status()

    async def stop(self) -> None:
        await self.sim.stop()
