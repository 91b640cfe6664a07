"""The hub's app served for real with dashboard users of every role, and httpx clients signed
in through the sign-in form (the way a browser does it: form token, cookie, redirect)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import cache

import httpx

from hub.auth.passwords import hash_password
from hub.auth.users import UserStore
from hub.runtime import Hub
from tests.servers import ApiHarness, running_api

__all__ = [
    "PASSWORD",
    "USERS",
    "DashboardHarness",
    "csrf_of",
    "running_dashboard",
    "sign_in",
]

PASSWORD = "parolă-sigură-2026"
#: name → (role, pii, unit)
USERS: dict[str, tuple[str, bool, str | None]] = {
    "viewer": ("viewer", False, None),
    "operator": ("operator", False, None),
    "admin": ("admin", False, None),
    "auditor": ("viewer", True, None),
    "unit_dj": ("unit", False, "DJ"),
}
#: Dashboard settings for tests: plain HTTP on 127.0.0.1.
OVERRIDES = {"dashboard": {"cookie_secure": False}}

_TOKEN = re.compile(r'name="(?:csrf_token|login_token)" value="([^"]+)"')


@cache
def _hash() -> str:
    return hash_password(PASSWORD)


def csrf_of(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "no form token on the page"
    return found.group(1)


async def sign_in(
    client: httpx.AsyncClient, name: str, password: str = PASSWORD, next_: str = "/"
) -> httpx.Response:
    page = await client.get("/login")
    assert page.status_code == 200, page.text
    return await client.post(
        "/login",
        data={
            "login_token": csrf_of(page.text),
            "username": name,
            "password": password,
            "next": next_,
        },
    )


@dataclass
class DashboardHarness:
    api: ApiHarness
    store: UserStore
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    @property
    def hub(self) -> Hub:
        return self.api.hub

    @property
    def base_url(self) -> str:
        return self.api.base_url

    def new_client(self) -> httpx.AsyncClient:
        client = httpx.AsyncClient(base_url=self.base_url, timeout=30, follow_redirects=False)
        self.clients[f"anon-{len(self.clients)}"] = client
        return client

    async def as_user(self, name: str) -> httpx.AsyncClient:
        """A client signed in as ``name`` (one of USERS), reused within the test."""
        if name not in self.clients:
            client = httpx.AsyncClient(base_url=self.base_url, timeout=30)
            r = await sign_in(client, name)
            assert r.status_code == 303, r.text
            self.clients[name] = client
        return self.clients[name]

    async def csrf(self, name: str) -> str:
        page = await (await self.as_user(name)).get("/documents")
        return csrf_of(page.text)


def add_users(hub: Hub) -> UserStore:
    store = UserStore(hub.writer, hub.reader)
    for name, (role, pii, unit) in USERS.items():
        store.create(name, role, _hash(), pii=pii, unit=unit)
    return store


@contextlib.asynccontextmanager
async def running_dashboard(hub: Hub) -> AsyncIterator[DashboardHarness]:
    store = add_users(hub)
    async with running_api(hub) as api:
        harness = DashboardHarness(api, store)
        try:
            yield harness
        finally:
            for client in harness.clients.values():
                await client.aclose()
