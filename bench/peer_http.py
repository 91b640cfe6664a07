"""What both peer queues (``peer_pgqueuer.py``, ``peer_outbox.py``) POST with: the client on
either transport the benchmark compares, and the Standard Webhooks signature the hub's webhook
computes too, so that a peer's delivery does the same work as the hub's."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from workload import WEBHOOK_SECRET

_KEY = base64.b64decode(WEBHOOK_SECRET.removeprefix("whsec_"))

Post = Callable[[bytes, dict[str, str]], Awaitable[int]]


def signature(wid: str, ts: int, body: bytes) -> str:
    """Standard Webhooks' ``v1,<base64 HMAC-SHA256>`` over ``{id}.{timestamp}.{body}``."""
    mac = hmac.new(_KEY, f"{wid}.{ts}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def poster(client: str, url: str, concurrency: int, agent: str) -> tuple[Post, Any]:
    """``(post, close)``: ``post(body, headers)`` returns the status, through raw aiohttp or
    httpx on httpx-aiohttp's transport (``client``), at most ``concurrency`` connections."""
    headers = {"content-type": "application/json", "user-agent": agent}
    if client == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency), headers=headers
        )

        async def post_aiohttp(body: bytes, extra: dict[str, str]) -> int:
            async with session.post(url, data=body, headers=extra) as r:
                await r.read()
                return r.status

        return post_aiohttp, session.close
    import httpx
    from httpx_aiohttp import AiohttpTransport

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    http = httpx.AsyncClient(
        transport=AiohttpTransport(limits=limits, trust_env=False),
        headers=headers,
        trust_env=False,
        timeout=30.0,
    )

    async def post_httpx(body: bytes, extra: dict[str, str]) -> int:
        return (await http.post(url, content=body, headers=extra)).status_code

    return post_httpx, http.aclose
