"""The HTTP API and the workers in one process, on one event loop.

``hub run`` and ``hub demo`` both come through here. One loop means one :class:`~hub.runtime.Hub`
(one writer thread on SQLite, one set of connector clients) serves intake and dispatch alike.

Shutdown is graceful on SIGTERM or SIGINT: the dispatcher stops claiming and lets deliveries in
flight finish (``HUB_DISPATCHER__SHUTDOWN_GRACE_SECONDS``), the API stops accepting connections
and finishes the requests it has, then :func:`serve` returns. A second signal cuts the wait short.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

import uvicorn

from hub.errors import ConfigurationError, HubError
from hub.log import get_logger

if TYPE_CHECKING:
    from hub.runtime import Hub

__all__ = ["HubServer", "bind", "serve"]

log = get_logger("hub.serve")

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class _Uvicorn(uvicorn.Server):
    """uvicorn without its own signal handling: :class:`HubServer` owns the signals, so that
    the workers drain too and the process exits 0 after a graceful stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """Open the listening socket ourselves: the port is known (and port 0 resolved) before the
    server starts, and a port in use is a clear configuration error, not a uvicorn exit."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, not the default 0: accepted connections inherit it, and asyncio turns
    # Nagle's algorithm off (TCP_NODELAY) only on sockets whose proto says TCP. Without it,
    # uvicorn's response body (written after its headers) waited for the client's delayed ACK:
    # ~40 ms on every response under load (docs/performance.md).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigurationError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}): "
            "set HUB_API_HOST / HUB_API_PORT"
        ) from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class HubServer:
    """API and workers of one hub, started and stopped together.

    ``ready`` is set once the API listens (or at once without the API); ``url`` is then the
    API's base URL. ``sock`` is a socket already bound with :func:`bind` (uvicorn closes it when
    it stops); without it the server binds ``host``/``port`` (settings by default).
    """

    def __init__(
        self,
        hub: Hub,
        *,
        api: bool = True,
        workers: bool = True,
        host: str | None = None,
        port: int | None = None,
        sock: socket.socket | None = None,
    ) -> None:
        if not (api or workers):
            raise ConfigurationError("nothing to run: both the API and the workers are disabled")
        self.hub = hub
        self.api = api
        self.workers = workers
        self.host = host if host is not None else hub.settings.api_host
        self.port = port if port is not None else hub.settings.api_port
        self.sock = sock
        self.ready = asyncio.Event()
        self.url: str | None = None
        self._stop = asyncio.Event()
        self._signals = 0
        self._uvicorn: _Uvicorn | None = None

    def request_stop(self) -> None:
        """Begin a graceful stop. Safe to call more than once."""
        self._stop.set()

    def _on_signal(self, signum: int) -> None:
        self._signals += 1
        log.info("hub.signal", signal=signal.Signals(signum).name, count=self._signals)
        if self._signals > 1 and self._uvicorn is not None:
            self._uvicorn.force_exit = True  # second signal: stop waiting for connections
        self.request_stop()

    async def run(self, *, stop_after: float | None = None, handle_signals: bool = True) -> None:
        """Serve until a signal, :meth:`request_stop` or ``stop_after`` seconds; then drain."""
        loop = asyncio.get_running_loop()
        hub = self.hub
        tasks: dict[str, asyncio.Task[None]] = {}
        installed: list[signal.Signals] = []
        timer = loop.call_later(stop_after, self.request_stop) if stop_after is not None else None
        own_sock: socket.socket | None = None
        try:
            if handle_signals:
                for sig in _SIGNALS:
                    with contextlib.suppress(NotImplementedError, RuntimeError):
                        loop.add_signal_handler(sig, self._on_signal, sig)
                        installed.append(sig)
            await hub.start()
            if self.api:
                sock = self.sock
                if sock is None:
                    sock = own_sock = bind(self.host, self.port)
                bound_host, bound_port = sock.getsockname()[:2]
                shown = f"[{bound_host}]" if ":" in bound_host else bound_host
                self.url = f"http://{shown}:{bound_port}"
                tasks["api"] = asyncio.create_task(self._serve_api(sock), name="hub-api")
            if self.workers:
                tasks["workers"] = asyncio.create_task(hub.run_workers(), name="hub-workers")
            await self._wait_started(tasks)
            log.info(
                "hub.started",
                api=self.url,
                workers=self.workers,
                worker_id=hub.worker_id,
                connectors=sorted(hub.connectors),
                sources=sorted(hub.sources),
                database="sqlite" if hub.sqlite else "postgresql",
            )
            stopper = asyncio.create_task(self._stop.wait(), name="hub-stop")
            done, _ = await asyncio.wait(
                [stopper, *tasks.values()], return_when=asyncio.FIRST_COMPLETED
            )
            stopper.cancel()
            early = [name for name, t in tasks.items() if t in done]
            log.info("hub.stopping", reason="requested" if not early else f"{early[0]} ended")
            await self._shutdown(tasks)
            for name in early:
                exc = tasks[name].exception()
                if exc is not None:
                    raise exc
                if not self._stop.is_set():
                    raise HubError(f"the {name} stopped unexpectedly (see the log)")
            log.info("hub.stopped")
        finally:
            if timer is not None:
                timer.cancel()
            for sig in installed:
                loop.remove_signal_handler(sig)
            for t in tasks.values():
                if not t.done():
                    t.cancel()
            if tasks:
                await asyncio.gather(*tasks.values(), return_exceptions=True)
            if own_sock is not None:
                own_sock.close()

    async def _serve_api(self, sock: socket.socket) -> None:
        from hub.api.app import create_app

        grace = self.hub.settings.dispatcher.shutdown_grace_seconds
        config = uvicorn.Config(
            create_app(self.hub),
            log_config=None,
            access_log=False,
            server_header=False,
            # X-Forwarded-For is believed only from these addresses (the reverse proxy), so
            # that per-client limits such as /status's see the citizen, not the proxy.
            proxy_headers=True,
            forwarded_allow_ips=self.hub.settings.forwarded_allow_ips,
            timeout_graceful_shutdown=max(1, round(grace)),
        )
        self._uvicorn = _Uvicorn(config)
        await self._uvicorn.serve(sockets=[sock])

    async def _wait_started(self, tasks: dict[str, asyncio.Task[None]]) -> None:
        if "api" in tasks:
            while self._uvicorn is None or not self._uvicorn.started:
                if self._stop.is_set() or any(t.done() for t in tasks.values()):
                    return  # run() sees the finished task and reports it
                await asyncio.sleep(0.01)
        self.ready.set()

    async def _shutdown(self, tasks: dict[str, asyncio.Task[None]]) -> None:
        self.hub.stop()
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        await asyncio.gather(*tasks.values(), return_exceptions=True)


async def serve(
    hub: Hub,
    *,
    api: bool = True,
    workers: bool = True,
    stop_after: float | None = None,
) -> None:
    """Run the API and the workers of ``hub`` until SIGTERM/SIGINT (or ``stop_after`` seconds),
    then drain gracefully. The caller owns ``hub`` and closes it."""
    await HubServer(hub, api=api, workers=workers).run(stop_after=stop_after)
