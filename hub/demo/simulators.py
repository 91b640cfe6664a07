"""What a plugin implements to take part in ``hub demo``.

The demo never reaches a real system. A plugin whose connector or source talks to one (WEBCON,
the courts' portal, ANAF) registers a *simulator* of it through the ``hub_register_demo_simulators``
hook; the demo starts it on 127.0.0.1, merges the settings it returns (base URLs, credentials)
into the hub's, and routes to the connectors it stands in for. A plugin with connectors or sources
but no simulator is left out of the demo; destinations naming a connector nobody simulates are
dropped from the demo's rules. So a plugin joins the demo by shipping a simulator, and the
demo's routing already names it::

    class WebconDemo(DemoSimulator):
        name = "webcon"
        connectors = ("webcon",)

        async def start(self, ctx: DemoContext) -> dict[str, Any]:
            self.server = await start_webcon_simulator(port=0)
            return {"webcon": {"base_url": self.server.url, "client_id": "demo", ...}}

        async def stop(self) -> None:
            await self.server.stop()

    @hookimpl
    def hub_register_demo_simulators(register):
        register(WebconDemo)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import httpx

    from hub.models import DocumentIn

__all__ = ["DemoContext", "DemoSimulator"]


@dataclass(frozen=True)
class DemoContext:
    """What the demo tells a simulator before starting it."""

    #: The demo's folder (ledger, logs); a simulator may keep its files here.
    data_dir: Path
    #: Connector → the routing targets the demo's rules send to it (e.g. webhook → DF, DJ, REG).
    targets: dict[str, list[str]] = field(default_factory=dict)


class DemoSimulator:
    """A stand-in for one remote system, served on 127.0.0.1 while ``hub demo`` runs.

    The demo instantiates the class without arguments, calls :meth:`start` before the hub is
    built, shows :meth:`counters` in its live table, calls :meth:`after_samples` once the sample
    documents are delivered, and :meth:`stop` at the end.
    """

    #: Unique name, shown in the demo's table.
    name: ClassVar[str]
    #: Connectors this simulator stands in for: the demo routes to them.
    connectors: ClassVar[tuple[str, ...]] = ()
    #: One line for the demo's banner.
    description: ClassVar[str] = ""

    async def start(self, ctx: DemoContext) -> dict[str, Any]:
        """Start serving on 127.0.0.1 (port 0). Return settings overrides: section → values."""
        return {}

    def counters(self) -> dict[str, int]:
        """What it received so far (label → count), for the live table."""
        return {}

    def url(self) -> str | None:
        """Where it listens, for the banner."""
        return None

    async def after_samples(self, api: httpx.AsyncClient, documents: dict[str, DocumentIn]) -> None:
        """Once every sample document is delivered (registered in WEBCON when it runs): do what
        the institution's staff would do next with the system this simulator stands for — e.g.
        send an answer by courier. ``api`` is a client of the hub's API with the demo's admin
        token; ``documents`` are the samples by their hub id. A failure is reported in the
        demo's output, not fatal."""

    async def stop(self) -> None:
        """Stop serving. Called once, also after a failed start."""
