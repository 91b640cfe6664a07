"""Bearer tokens and scopes: 401/403 over real HTTP, and the verified-token cache (with a fake
clock, so the TTL is tested without waiting for it)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from hub.api.auth import TOKEN_CACHE_SECONDS, Authenticator, Principal
from tests.fixtures import MakeHub
from tests.servers import ApiHarness, running_api
from tests.test_api import document


@pytest.fixture
async def api(make_hub: MakeHub) -> AsyncIterator[ApiHarness]:
    async with running_api(make_hub()) as harness:
        yield harness


async def test_missing_or_invalid_token_is_401_with_challenge(api: ApiHarness) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer hub_not-a-real-token"},
        {"Authorization": f"Basic {api.tokens['admin']}"},
        {"Authorization": "Bearer"},
    ):
        for r in (
            await api.client.get("/api/v1/deliveries", headers=headers),
            await api.client.post("/api/v1/documents", json=document(), headers=headers),
        ):
            assert r.status_code == 401, headers
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert r.json()["error"]["code"] == "unauthorized"


SCOPE_MATRIX = [
    # role, method, path, allowed
    ("intake", "POST", "/api/v1/documents", True),
    ("admin", "POST", "/api/v1/documents", True),
    ("reader", "POST", "/api/v1/documents", False),
    ("operator", "POST", "/api/v1/documents", False),
    ("intake", "GET", "/api/v1/deliveries", False),
    ("reader", "GET", "/api/v1/deliveries", True),
    ("operator", "GET", "/api/v1/deliveries", True),
    ("metrics", "GET", "/api/v1/deliveries", False),
    ("admin", "GET", "/api/v1/connectors", True),
    ("metrics", "GET", "/metrics", True),
    ("intake", "GET", "/metrics", False),
    ("reader", "POST", "/api/v1/deliveries/replay", False),
    ("operator", "POST", "/api/v1/deliveries/replay", True),
    ("admin", "POST", "/api/v1/deliveries/cancel", True),
]


async def test_scopes(api: ApiHarness) -> None:
    for role, method, path, allowed in SCOPE_MATRIX:
        if path == "/api/v1/documents":
            r = await api.post_document(document(), role=role)
        elif method == "POST":
            r = await api.client.post(path, json={"all": True}, headers=api.auth(role))
        else:
            r = await api.client.get(path, headers=api.auth(role))
        assert (r.status_code < 300) is allowed, (role, path, r.status_code, r.text)
        if not allowed:
            assert r.status_code == 403
            assert r.json()["error"]["code"] == "forbidden"


async def test_revoked_token_stops_working_when_its_cache_entry_expires(api: ApiHarness) -> None:
    auth: Authenticator = api.app.state.authenticator
    now = [1000.0]
    auth.clock = lambda: now[0]
    token = api.hub.ledger.create_token("short-lived", ["read"])
    headers = {"Authorization": f"Bearer {token}"}
    assert (await api.client.get("/api/v1/deliveries", headers=headers)).status_code == 200

    api.hub.ledger.revoke_token("short-lived")
    now[0] += TOKEN_CACHE_SECONDS / 2  # within the TTL: the documented grace
    assert (await api.client.get("/api/v1/deliveries", headers=headers)).status_code == 200
    now[0] += TOKEN_CACHE_SECONDS
    assert (await api.client.get("/api/v1/deliveries", headers=headers)).status_code == 401


# --- the cache, without HTTP ----------------------------------------------------------------------


class FakeLedger:
    def __init__(self) -> None:
        self.tokens = {"good": ("ops", frozenset({"operator"}))}
        self.calls = 0

    async def verify(self, token: str) -> tuple[str, frozenset[str]] | None:
        self.calls += 1
        return self.tokens.get(token)


async def test_cache_spares_the_ledger_within_the_ttl() -> None:
    ledger = FakeLedger()
    now = [0.0]
    auth = Authenticator(ledger.verify, ttl=5.0, clock=lambda: now[0])

    assert await auth.authenticate("good") == Principal("ops", frozenset({"operator"}))
    assert await auth.authenticate("good") is not None
    assert await auth.authenticate("bad") is None
    assert await auth.authenticate("bad") is None
    assert ledger.calls == 2

    now[0] = 5.1
    del ledger.tokens["good"]
    assert await auth.authenticate("good") is None
    assert ledger.calls == 3


async def test_cache_is_bounded_and_keys_are_not_the_tokens() -> None:
    ledger = FakeLedger()
    auth = Authenticator(ledger.verify, max_entries=10, clock=lambda: 0.0)
    for i in range(25):
        await auth.authenticate(f"guess-{i}")
    assert len(auth._cache) <= 10
    await auth.authenticate("good")
    assert all(isinstance(k, bytes) and len(k) == 32 for k in auth._cache)
    assert b"good" not in auth._cache


def test_scopes_grant_what_the_brief_says() -> None:
    def p(*scopes: str) -> Principal:
        return Principal("t", frozenset(scopes))

    assert p("operator").has("read")
    assert not p("read").has("operator")
    assert p("read").has("metrics")
    assert not p("metrics").has("read")
    assert p("admin").has("pii") and p("admin").has("intake")
    assert not p("read").has("pii")
    assert not p("intake").has("read")
    assert p("x").actor == "token:t"
    with pytest.raises(ValueError, match="unknown scope"):
        Authenticator(FakeLedger().verify).require("root")
