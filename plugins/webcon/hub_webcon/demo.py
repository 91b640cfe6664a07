"""The simulated WEBCON as ``hub demo`` runs it: started on 127.0.0.1 before the hub is built,
its settings merged into the ``webcon`` section. Elements move along by themselves (a simulated
registry clerk) so that status sync has something to bring back.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from hub.demo.simulators import DemoContext, DemoSimulator
from hub_webcon.simulator import WebconSimulator

__all__ = ["WebconDemoSimulator"]


class WebconDemoSimulator(DemoSimulator):
    name = "webcon"
    connectors = ("webcon",)
    description = "WEBCON BPS (registration numbers, workflow status)"

    #: Seconds between two moves of the simulated clerk.
    clerk_interval = 5.0

    def __init__(self) -> None:
        self.sim = WebconSimulator()
        self._clerk: asyncio.Task[None] | None = None

    async def start(self, ctx: DemoContext) -> dict[str, Any]:
        await self.sim.start()
        self._clerk = asyncio.create_task(self._work(), name="webcon-demo-clerk")
        section = self.sim.settings()
        section["status_sync"] = {"interval_seconds": 10.0}
        return {"webcon": section}

    async def _work(self) -> None:
        """Move one open element one step further every ``clerk_interval`` seconds."""
        while True:
            await asyncio.sleep(self.clerk_interval)
            for el in sorted(self.sim.elements.values(), key=lambda e: e.modified):
                if el.finished:
                    continue
                nxt = next((p for p in el.workflow.paths if p.from_step == el.step.id), None)
                if nxt is not None:
                    self.sim.move(el.id, nxt.guid)
                    break

    def counters(self) -> dict[str, int]:
        finished = sum(1 for e in self.sim.elements.values() if e.finished)
        return {
            "elements": len(self.sim.elements),
            "finished": finished,
            "api calls": sum(v for k, v in self.sim.requests.items() if k != "token"),
        }

    def url(self) -> str | None:
        return self.sim.url if self.sim.port else None

    async def stop(self) -> None:
        if self._clerk is not None:
            self._clerk.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clerk
        await self.sim.stop()
