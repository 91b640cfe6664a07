"""``hub demo``: an SMTP server standing in for the institution's mail server.

``HUB_SMTP__*`` point at a :class:`hub.testing.smtp.SmtpSink`, so the core's e-mail paths —
receipts to petitioners (``receipt``), items to units (``email``), reminders and digests — land
there and are counted in the demo's table.
"""

from __future__ import annotations

from typing import Any

from hub.demo.simulators import DemoContext, DemoSimulator
from hub.testing.smtp import SmtpSink

__all__ = ["SmtpDemoSimulator"]


class SmtpDemoSimulator(DemoSimulator):
    name = "smtp"
    connectors = ("email", "receipt")
    description = "SMTP server keeping every e-mail: receipts to petitioners, items to units"

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
