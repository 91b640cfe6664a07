"""The simulated courier as ``hub demo`` runs it: started on 127.0.0.1 before the hub is built,
its settings merged into the ``postal`` section. Shipments advance by themselves (one event
every ``step_seconds``) and tracking polls often, so the demo shows AWBs reaching ``delivered``
with their proofs."""

from __future__ import annotations

from typing import Any

from hub.demo.simulators import DemoContext, DemoSimulator
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

    async def stop(self) -> None:
        await self.sim.stop()
