"""hub.http.TokenCache: one fetch for many concurrent requests, renewal after expiry or a 401."""

from __future__ import annotations

import asyncio

from hub.http import TokenCache


class Remote:
    def __init__(self) -> None:
        self.now = 0.0
        self.issued = 0

    async def fetch(self) -> tuple[str, float]:
        await asyncio.sleep(0.01)  # concurrent callers pile up behind the lock meanwhile
        self.issued += 1
        return f"t{self.issued}", 60.0


async def test_concurrent_requests_share_one_fetch_until_it_expires() -> None:
    remote = Remote()
    cache = TokenCache(remote.fetch, clock=lambda: remote.now)
    assert await asyncio.gather(*(cache.get() for _ in range(10))) == ["t1"] * 10
    remote.now = 59.0
    assert await cache.get() == "t1"
    remote.now = 60.0
    assert await cache.get() == "t2"
    assert cache.fetched == remote.issued == 2


async def test_a_refused_token_is_renewed_once_for_all_who_saw_it_refused() -> None:
    remote = Remote()
    cache = TokenCache(remote.fetch, clock=lambda: remote.now)
    refused = await cache.get()
    renewed = await asyncio.gather(*(cache.renew(refused) for _ in range(5)))
    assert renewed == ["t2"] * 5
    assert await cache.renew("t1") == "t2"  # a late 401 for the old token fetches nothing
    assert cache.current == "t2" and cache.fetched == 2
