"""The simulated courts portal as ``hub demo`` runs it: started on 127.0.0.1 before the hub is
built, its address merged into the ``courts`` section. A simulated court clerk changes a case
now and then (a hearing moved, a solution, an appeal, a new case), so the feed has news."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from hub.demo.simulators import DemoContext, DemoSimulator
from hub_courts.simulator import PortalSimulator, Store

__all__ = ["CourtsDemoSimulator"]


class CourtsDemoSimulator(DemoSimulator):
    name = "courts"
    connectors = ()
    description = "Courts portal portalquery.just.ro (cases, hearings, appeals)"

    #: Seconds between two changes of the simulated court clerk.
    clerk_interval = 8.0

    def __init__(self) -> None:
        store = Store()
        store.seed(40)
        self.sim = PortalSimulator(store)
        self._clerk: asyncio.Task[None] | None = None
        self.changes = 0

    async def start(self, ctx: DemoContext) -> dict[str, Any]:
        await self.sim.start()
        self._clerk = asyncio.create_task(self._work(), name="courts-demo-clerk")
        return {
            "courts": self.sim.settings(
                interval_seconds=10.0, initial_lookback_days=3, overlap_seconds=30
            )
        }

    async def _work(self) -> None:
        while True:
            await asyncio.sleep(self.clerk_interval)
            self.sim.store.advance()
            self.changes += 1

    def counters(self) -> dict[str, int]:
        return {
            "cases": len(self.sim.store.cases),
            "changes": self.changes,
            "soap calls": sum(self.sim.requests.values()),
        }

    def url(self) -> str | None:
        return self.sim.url if self.sim.port else None

    async def stop(self) -> None:
        if self._clerk is not None:
            self._clerk.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clerk
        await self.sim.stop()
