"""A base for simulators: an aiohttp application served on 127.0.0.1 for tests and the demo.

A subclass builds its :class:`aiohttp.web.Application` in ``__init__`` and stores it as
``self.app``; it then gets :attr:`~LoopbackServer.url`, :meth:`~LoopbackServer.start` (a free
port by default), :meth:`~LoopbackServer.stop` and ``async with``::

    class RegistrySimulator(LoopbackServer):
        def __init__(self) -> None:
            self.app = web.Application()
            self.app.router.add_get("/health", self._health)

    async with RegistrySimulator() as sim:
        settings = {"base_url": sim.url}

Needs only aiohttp (a dependency of the hub), not the ``testing`` extra.
"""

from __future__ import annotations

from typing import Self

from aiohttp import web

__all__ = ["LoopbackServer"]


class LoopbackServer:
    """Serves :attr:`app` on ``host:port`` between :meth:`start` and :meth:`stop`."""

    #: The application served; set by the subclass (usually in ``__init__``).
    app: web.Application
    #: The interface served on; :meth:`start` sets it.
    host: str = "127.0.0.1"
    #: The bound port once started (0 before).
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """``http://host:port``, without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> Self:
        """Serve on ``host:port``; port 0 (the default) picks a free one, read back into
        :attr:`port`."""
        runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=0.5
        )
        await runner.setup()
        self._runner = runner
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await self.stop()
            raise
        self.host = host
        self.port = int(runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        """Stop serving; does nothing when not started."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
