"""The departments' webhook endpoints, for the demo: one local server, one path per target.

Every request must carry a valid Standard Webhooks signature made with that target's own secret
(checked with :func:`hub.builtin.signing.verify`); anything else is refused with 401 and counted.
A repeated ``webhook-id`` is acknowledged and counted once, as a real receiver deduplicates.
To show retries, the first attempt of about one message in ``fail_every`` is answered with
``503`` and ``Retry-After: 1``.
"""

from __future__ import annotations

import collections
import hashlib
import socket
from typing import Any, ClassVar

from aiohttp import web

from hub.builtin.signing import SignatureError, new_secret, verify
from hub.demo.simulators import DemoContext, DemoSimulator

__all__ = ["WebhookSink"]


class WebhookSink(DemoSimulator):
    name = "departments"
    connectors: ClassVar[tuple[str, ...]] = ("webhook",)
    description = "webhook endpoints of the departments (signatures verified)"

    def __init__(self, *, fail_every: int = 4, host: str = "127.0.0.1") -> None:
        self.fail_every = fail_every
        self.host = host
        self.secrets: dict[str, str] = {}
        #: target → webhook-ids accepted (each once)
        self.received: dict[str, set[str]] = collections.defaultdict(set)
        self.duplicates = 0
        self.rejected = 0
        self.refused_once = 0
        self._failed: set[str] = set()
        self._runner: web.AppRunner | None = None
        self._port = 0

    def url(self) -> str | None:
        return f"http://{self.host}:{self._port}/hooks" if self._port else None

    def endpoint(self, target: str) -> str:
        return f"http://{self.host}:{self._port}/hooks/{target}"

    async def start(self, ctx: DemoContext) -> dict[str, Any]:
        targets = sorted({t.upper() for t in ctx.targets.get("webhook", [])})
        self.secrets = {t: new_secret() for t in targets}
        app = web.Application()
        app.router.add_post("/hooks/{target}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self._port = int(sock.getsockname()[1])
        await web.SockSite(self._runner, sock).start()
        return {
            "webhook": {
                "endpoints": {
                    t: {"url": self.endpoint(t), "secret": secret}
                    for t, secret in self.secrets.items()
                },
                # Demo pace: retries within seconds, not the production minutes.
                "retry": {"base_seconds": 1.0, "cap_seconds": 4.0},
            }
        }

    async def _handle(self, request: web.Request) -> web.Response:
        target = request.match_info["target"].upper()
        secret = self.secrets.get(target)
        body = await request.read()
        if secret is None:
            self.rejected += 1
            return web.Response(status=404, text="unknown target")
        try:
            verify(secret, dict(request.headers), body)
        except SignatureError:
            self.rejected += 1
            return web.Response(status=401, text="bad signature")
        msg_id = request.headers["webhook-id"]
        if self._should_fail(msg_id):
            self._failed.add(msg_id)
            self.refused_once += 1
            return web.Response(status=503, headers={"Retry-After": "1"})
        if msg_id in self.received[target]:
            self.duplicates += 1
        else:
            self.received[target].add(msg_id)
        return web.Response(status=204)

    def _should_fail(self, msg_id: str) -> bool:
        if self.fail_every <= 0 or msg_id in self._failed:
            return False
        return int(hashlib.sha256(msg_id.encode()).hexdigest(), 16) % self.fail_every == 0

    def counters(self) -> dict[str, int]:
        out = {t: len(self.received.get(t, ())) for t in sorted(self.secrets)}
        out["answered 503 once (retried)"] = self.refused_once
        if self.duplicates:
            out["duplicates"] = self.duplicates
        if self.rejected:
            out["rejected (bad signature)"] = self.rejected
        return out

    def total_received(self) -> int:
        return sum(len(v) for v in self.received.values())

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
