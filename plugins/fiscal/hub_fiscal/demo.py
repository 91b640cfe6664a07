"""``hub demo``: the simulated Fiscal Directorate.

The Directorate simulator verifies signatures and acknowledges with its own numbers; now and
then it is slow (a ``latency`` of two seconds for a while), so the demo shows retries and
latency without losing anything. (The demo's SMTP server, for the ``email`` path and the
follow-up's reminders, is the core's: :mod:`hub.demo.smtp`.)
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from hub.demo.simulators import DemoContext, DemoSimulator
from hub_fiscal.simulator import DirectorateSimulator

__all__ = ["FiscalDemoSimulator"]


class FiscalDemoSimulator(DemoSimulator):
    name = "fiscal"
    connectors = ("fiscal",)
    description = "Direcția Fiscală: intake with signature check and its own numbers"

    #: Seconds between two spells of slowness.
    slow_every = 20.0

    def __init__(self) -> None:
        self.sim = DirectorateSimulator()
        self._moods: asyncio.Task[None] | None = None

    async def start(self, ctx: DemoContext) -> dict[str, Any]:
        await self.sim.start()
        self._moods = asyncio.create_task(self._slow_now_and_then(), name="fiscal-demo-moods")
        return {"fiscal": self.sim.settings(retry={"base_seconds": 1.0, "cap_seconds": 10.0})}

    async def _slow_now_and_then(self) -> None:
        while True:
            await asyncio.sleep(self.slow_every)
            self.sim.faults.latency = 2.0
            await asyncio.sleep(5.0)
            self.sim.faults.latency = 0.0

    def counters(self) -> dict[str, int]:
        return {
            "registered": self.sim.requests["registered"],
            "duplicates": self.sim.requests["duplicate"],
            "refused": self.sim.requests["rejected"] + self.sim.requests["invalid"],
        }

    def url(self) -> str | None:
        return self.sim.url if self.sim.port else None

    async def stop(self) -> None:
        if self._moods is not None:
            self._moods.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._moods
        await self.sim.stop()
