"""A real webhook receiver on 127.0.0.1 for end-to-end tests: verifies Standard Webhooks
signatures, records every webhook-id it accepted, can answer slowly or with failures."""

from __future__ import annotations

import asyncio
import collections
import socket
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from hub.builtin.signing import SignatureError, new_secret, verify


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class WebhookSink:
    secret: str = field(default_factory=new_secret)
    latency: float = 0.0
    received: collections.Counter[str] = field(default_factory=collections.Counter)
    bodies: dict[str, Any] = field(default_factory=dict)
    bad_signatures: int = 0
    fail_first: int = 0  # answer 503 to the first N attempts of each id
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            verify(self.secret, dict(request.headers), body)
        except SignatureError:
            self.bad_signatures += 1
            return web.Response(status=401)
        msg_id = request.headers["webhook-id"]
        if self.latency:
            await asyncio.sleep(self.latency)
        self.received[msg_id] += 1
        if self.received[msg_id] <= self.fail_first:
            return web.Response(status=503, headers={"Retry-After": "0"})
        self.bodies[msg_id] = orjson.loads(body)
        return web.Response(status=204)

    async def start(self) -> WebhookSink:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self.port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
