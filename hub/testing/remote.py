"""A respx router wrapped as an httpx transport, for connectors built with ``transport=``.

Injecting the transport (rather than patching httpx globally) mocks whatever client the
connector would build in production, aiohttp-backed or not. A request that matches no declared
route is remembered even when the connector swallows the error respx raises for it, so the kit
can say "your connector sent a request nobody declared" instead of a confusing retry.
"""

from __future__ import annotations

import httpx
import respx

__all__ = ["MockRemote"]


class MockRemote:
    """``router`` is where routes are declared; ``transport`` is what the connector gets."""

    def __init__(self) -> None:
        self.router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
        self.unmocked: list[str] = []
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        try:
            return self.router.handler(request)
        except respx.models.AllMockedAssertionError:
            self.unmocked.append(f"{request.method} {request.url.copy_with(query=None)}")
            raise

    def fail_everything(self, exc: type[Exception] = httpx.ConnectError) -> None:
        """Every request fails as if the remote were unreachable."""
        self.router.route().mock(side_effect=exc)

    def assert_all_called(self) -> None:
        """Every declared route was used, and nothing undeclared was requested."""
        assert not self.unmocked, (
            f"the connector sent requests that no route declares: {self.unmocked}"
        )
        uncalled = [repr(r) for r in self.router.routes if not r.called]
        assert not uncalled, f"declared routes were never called: {uncalled}"
