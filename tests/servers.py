"""Real HTTP servers for end-to-end tests: an ASGI app under uvicorn on 127.0.0.1, on a port the
kernel picks (the socket is bound before the server starts, so parallel test workers never race
for a port), stopped and closed when the ``async with`` block ends.

    async with serve_asgi(app) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as client: ...

:func:`running_api` does the same for the hub's own API and hands back an :class:`ApiHarness`
with a client and one token per scope.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from hub.api.app import create_app
from hub.runtime import Hub
from hub.serve import bind

__all__ = ["ApiHarness", "running_api", "running_workers", "serve_asgi", "until"]

START_TIMEOUT = 10.0


class _TestServer(uvicorn.Server):
    """uvicorn without its signal handlers: the test runner owns SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serve_asgi(app: Any, host: str = "127.0.0.1") -> AsyncIterator[str]:
    sock = bind(host, 0)  # as `hub run` binds: TCP_NODELAY on every connection
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, lifespan="off", log_config=None, log_level="warning", access_log=False, ws="none"
    )
    server = _TestServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
                raise RuntimeError("uvicorn stopped before it started")
            if time.monotonic() > deadline:
                raise TimeoutError("uvicorn did not start")
            await asyncio.sleep(0.005)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
        sock.close()


async def until(
    check: Callable[[], Awaitable[bool]], timeout: float = 15.0, what: str = "condition"
) -> None:
    """Poll ``check`` until it holds; fail after ``timeout`` seconds naming ``what``."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


SCOPE_SETS: dict[str, tuple[str, ...]] = {
    "intake": ("intake",),
    "reader": ("read",),
    "operator": ("operator",),
    "metrics": ("metrics",),
    "pii": ("read", "pii"),
    "admin": ("admin",),
}


@dataclass
class ApiHarness:
    """The hub's API served for real, a client on it, and one token per role in SCOPE_SETS."""

    hub: Hub
    app: FastAPI
    base_url: str
    client: httpx.AsyncClient
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    async def post_document(
        self, doc: dict[str, Any], *, role: str = "intake", key: str | None = None
    ) -> httpx.Response:
        headers = self.auth(role)
        if key is not None:
            headers["Idempotency-Key"] = key
        return await self.client.post("/api/v1/documents", json=doc, headers=headers)

    async def get(self, path: str, *, role: str = "reader", **params: Any) -> httpx.Response:
        return await self.client.get(path, headers=self.auth(role), params=params or None)


@contextlib.asynccontextmanager
async def running_api(hub: Hub) -> AsyncIterator[ApiHarness]:
    app = create_app(hub)
    tokens = {role: hub.ledger.create_token(role, scopes) for role, scopes in SCOPE_SETS.items()}
    async with (
        serve_asgi(app) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as client,
    ):
        yield ApiHarness(hub, app, base_url, client, tokens)


@contextlib.asynccontextmanager
async def running_workers(hub: Hub) -> AsyncIterator[None]:
    """``hub.run_workers()`` in the background, stopped gracefully at the end."""
    task = asyncio.create_task(hub.run_workers())
    try:
        yield
    finally:
        hub.stop()
        await asyncio.wait_for(task, 30)
