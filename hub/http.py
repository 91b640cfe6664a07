"""One place that builds HTTP clients for connectors.

Connectors speak httpx (the design card's choice). What moves the bytes is chosen by measurement
(``docs/performance.md``): httpx's own connection pool costs ~2.6 ms CPU per request at 64
connections on these machines, aiohttp's ~0.15 ms, so the default transport is
``httpx-aiohttp``'s, with httpx's API on top. A connector may choose ``httpx`` per section
(``HUB_<SECTION>__HTTP_TRANSPORT=httpx``), and tests inject their own transport (respx's
mock, or the default one pointing at a simulator on 127.0.0.1).
"""

from __future__ import annotations

from typing import Any, Literal

import httpx
from httpx_aiohttp import AiohttpTransport

__all__ = ["TransportKind", "make_client", "make_transport", "send_through", "timeout_extension"]

TransportKind = Literal["aiohttp", "httpx"]


def make_transport(
    kind: TransportKind = "aiohttp", *, max_connections: int = 64
) -> httpx.AsyncBaseTransport:
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    if kind == "aiohttp":
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
