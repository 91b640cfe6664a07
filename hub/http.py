"""One place that builds HTTP clients for connectors.

Connectors speak httpx (the design card's choice). What moves the bytes is chosen by measurement
(``docs/performance.md``): httpx's own connection pool costs ~2.6 ms CPU per request at 64
connections on these machines, aiohttp's ~0.15 ms, so the default transport is
``httpx-aiohttp``'s, with httpx's API on top. A connector may choose ``httpx`` per section
(``HUB_<SECTION>__HTTP_TRANSPORT=httpx``), and tests inject their own transport (respx's
mock, or the default one pointing at a simulator on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import httpx

__all__ = [
    "TokenCache",
    "TransportKind",
    "make_client",
    "make_transport",
    "send_through",
    "timeout_extension",
]

TransportKind = Literal["aiohttp", "httpx"]


def make_transport(
    kind: TransportKind = "aiohttp", *, max_connections: int = 64
) -> httpx.AsyncBaseTransport:
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    if kind == "aiohttp":
        # Imported here: aiohttp takes ~0.25 s to import, which CLI commands that never
        # deliver need not pay.
        from httpx_aiohttp import AiohttpTransport

        return AiohttpTransport(limits=limits, trust_env=False)
    return httpx.AsyncHTTPTransport(limits=limits, trust_env=False)


def make_client(
    *,
    timeout: float,
    transport: httpx.AsyncBaseTransport | None = None,
    kind: TransportKind = "aiohttp",
    max_connections: int = 64,
    base_url: str = "",
    headers: dict[str, str] | None = None,
) -> httpx.AsyncClient:
    """A tuned client: timeouts on every call, no env proxies, keep-alive sized to concurrency."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        transport=transport or make_transport(kind, max_connections=max_connections),
        headers=headers,
        trust_env=False,
        follow_redirects=False,
    )


def timeout_extension(timeout: float) -> dict[str, Any]:
    """The ``timeout`` request extension a transport reads, as :func:`make_client` sets it."""
    return {
        "timeout": {
            "connect": min(timeout, 10.0),
            "read": timeout,
            "write": timeout,
            "pool": timeout,
        }
    }


async def send_through(
    transport: httpx.AsyncBaseTransport, request: httpx.Request
) -> httpx.Response:
    """Send a fully built request straight through ``transport`` and read the answer.

    For the hot path of bulk delivery only (the webhook connector): ``AsyncClient.send`` adds
    merging, auth, redirect and cookie handling that a signed POST to a fixed URL does not
    need, at ~0.08 ms CPU per request — 40 % of httpx's cost on these machines
    (``docs/performance.md``). The request carries every header itself, and its timeout as
    :func:`timeout_extension`; the answer is read in full and closed.
    """
    response = await transport.handle_async_request(request)
    try:
        await response.aread()
    finally:
        await response.aclose()
    return response


class TokenCache:
    """A bearer token shared by one client's concurrent requests.

    ``fetch`` logs in and returns ``(token, seconds it may be used)`` — the remote's lifetime
    less whatever safety margin the client wants. The token is fetched on first use, again when
    it expires, and again after the remote refused it (:meth:`renew` with the refused token);
    never by two requests at once, and not again when another request already renewed it.
    """

    def __init__(
        self,
        fetch: Callable[[], Awaitable[tuple[str, float]]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        #: Tokens fetched so far (tests and health checks read it).
        self.fetched = 0

    @property
    def current(self) -> str | None:
        """The cached token, valid or not (None before the first fetch)."""
        return self._token

    def _valid(self) -> str | None:
        return self._token if self._token and self._clock() < self._expires_at else None

    async def get(self) -> str:
        """A valid token, fetched only when the cached one has expired."""
        token = self._valid()
        if token is not None:
            return token
        async with self._lock:
            return self._valid() or await self._refresh()

    async def renew(self, rejected: str | None) -> str:
        """After the remote refused ``rejected`` (401): a new token, unless another request
        already got one."""
        async with self._lock:
            if self._token is not None and self._token != rejected:
                return self._token
            return await self._refresh()

    async def _refresh(self) -> str:
        self._token = None
        token, valid_for = await self._fetch()
        self._token = token
        self._expires_at = self._clock() + valid_for
        self.fetched += 1
        return token
