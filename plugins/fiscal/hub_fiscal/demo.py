"""``hub demo``: the simulated Fiscal Directorate, and an SMTP sink for the ``email`` path.

The Directorate simulator verifies signatures and acknowledges with its own numbers; now and
then it is slow (a ``latency`` of two seconds for a while), so the demo shows retries and
latency without losing anything. The SMTP sink (:class:`hub.testing.smtp.SmtpSink`) stands in
for the institution's mail server: ``HUB_SMTP__*`` point at it, so e-mail deliveries and the
follow-up's reminders land there.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from hub.demo.simulators import DemoContext, DemoSimulator
from hub.testing.smtp import SmtpSink
from hub_fiscal.simulator import DirectorateSimulator

__all__ = ["EmailDemoSimulator", "FiscalDemoSimulator"]


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


class EmailDemoSimulator(DemoSimulator):
    name = "smtp"
    connectors = ("email",)
    description = "SMTP server keeping every e-mail to units (items, digests, reminders)"

    def __init__(self) -> None:
        self.sink = SmtpSink()
        self._started = False

    async def start(self, ctx: DemoContext) -> dict[str, Any]:
        await self.sink.start()
        self._started = True
        # Units the demo's rules e-mail get an address, so no units file is needed.
        recipients = {
            t.upper(): f"{t.lower()}@demo.primariatm.ro" for t in ctx.targets.get("email", [])
        }
        return {
            "smtp": {"host": self.sink.host, "port": self.sink.port, "security": "none"},
            "email": {"recipients": recipients},
        }

    def counters(self) -> dict[str, int]:
        return {"e-mails": len(self.sink.received)}

    def url(self) -> str | None:
        return f"smtp://{self.sink.host}:{self.sink.port}" if self._started else None

    async def stop(self) -> None:
        await self.sink.stop()
