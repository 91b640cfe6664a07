"""The simulated ANAF as ``hub demo`` runs it: started on 127.0.0.1 with a few dozen received
invoices (some credit notes, some "ERORI FACTURA"), its settings — a seeded refresh token and a
fresh token key included — merged into the ``invoices`` section. New invoices keep arriving."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from hub.demo.simulators import DemoContext, DemoSimulator
from hub_invoices.simulator import EFacturaSimulator

__all__ = ["InvoicesDemoSimulator"]


class InvoicesDemoSimulator(DemoSimulator):
    name = "efactura"
    connectors = ()
    description = "ANAF RO e-Factura (received invoices, OAuth2)"

    #: Seconds between two new invoices from the simulated suppliers.
    supplier_interval = 15.0

    def __init__(self) -> None:
        self.sim = EFacturaSimulator()
        self._suppliers: asyncio.Task[None] | None = None

    async def start(self, ctx: DemoContext) -> dict[str, Any]:
        self.sim.generate(40, spread_hours=6)
        await self.sim.start()
        self._suppliers = asyncio.create_task(self._send(), name="efactura-demo-suppliers")
        return {"invoices": self.sim.settings(interval_seconds=10.0)}

    async def _send(self) -> None:
        n = 0
        while True:
            await asyncio.sleep(self.supplier_interval)
            n += 1
            self.sim.generate(1, seed=1000 + n, spread_hours=0.01)

    def counters(self) -> dict[str, int]:
        return {
            "messages": len(self.sim.messages),
            "downloads": self.sim.requests["download"],
            "list calls": self.sim.requests["paged"],
        }

    def url(self) -> str | None:
        return self.sim.url if self.sim.port else None

    async def stop(self) -> None:
        if self._suppliers is not None:
            self._suppliers.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._suppliers
        await self.sim.stop()
