"""Shared fixtures (registered for every test by the root `conftest.py`): an isolated
environment, a fresh ledger per test, and a hub factory.

The ledger is SQLite in a temporary folder unless ``HUB_TEST_DATABASE=postgresql``; then each
pytest-xdist worker gets its own PostgreSQL database on 127.0.0.1:5432 (created once, emptied
before each test). CI runs the whole suite both ways.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from hub.db.engine import make_engines
from hub.db.migrate import upgrade
from hub.plugins import PluginHost, create_plugin_host
from hub.routing import RoutingRules
from hub.runtime import Hub
from hub.settings import load_settings

TEST_DATABASE = os.environ.get("HUB_TEST_DATABASE", "sqlite")
PG_ADMIN_URL = os.environ.get(
    "HUB_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)

# --- network: loopback only --------------------------------------------------------------------

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _loopback_only(addr: Any) -> None:
    if isinstance(addr, tuple) and addr:
        host = str(addr[0])
        if not (host.startswith("127.") or host in ("::1", "localhost", "0.0.0.0")):
            raise OSError(f"tests may only connect to loopback, not {host}")


def _guarded_connect(self: socket.socket, addr: Any) -> None:
    _loopback_only(addr)
    return _real_connect(self, addr)


def _guarded_connect_ex(self: socket.socket, addr: Any) -> int:
    _loopback_only(addr)
    return _real_connect_ex(self, addr)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]


# --- environment -------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No HUB_* from the developer's shell, no hub.toml from the working directory."""
    for key in list(os.environ):
        if key.startswith("HUB_") and not key.startswith("HUB_TEST_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HUB_CONFIG_FILE", str(tmp_path / "absent-hub.toml"))


# --- ledger ------------------------------------------------------------------------------------


def _pg_worker_url(worker: str) -> str:
    import psycopg

    name = f"hub_test_{worker}_{os.getpid()}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return (
        PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        + "/"
        + name
    )


@pytest.fixture(scope="session")
def _pg_database(worker_id: str) -> Iterator[str | None]:
    if TEST_DATABASE != "postgresql":
        yield None
        return
    url = _pg_worker_url(worker_id)
    engine, _ = make_engines(url)
    upgrade(engine)
    engine.dispose()
    yield url
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


@pytest.fixture
def database_url(_pg_database: str | None, tmp_path: Path) -> str:
    """A migrated, empty ledger for this test."""
    if _pg_database is None:
        url = f"sqlite:///{tmp_path / 'ledger' / 'hub.db'}"
        engine, reader = make_engines(url)
        upgrade(engine)
        engine.dispose()
        reader.dispose()
        return url
    from sqlalchemy import inspect, text

    engine, _ = make_engines(_pg_database)
    with engine.begin() as conn:
        # Every table, the plugins' own included (hub.migrations entry points).
        tables = [t for t in inspect(conn).get_table_names() if t != "alembic_version"]
        names = ", ".join(f'"{t}"' for t in tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return _pg_database


# --- the hub -----------------------------------------------------------------------------------

MakeHub = Callable[..., Hub]


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
async def make_hub(database_url: str, tmp_path: Path) -> AsyncIterator[MakeHub]:
    """Build hubs on this test's ledger; they are closed after the test.

    Args (keyword): ``rules`` (RoutingRules or a dict), ``plugins`` (extra plugin objects),
    ``entry_points`` (load installed plugins, default True), ``transports`` (connector name →
    httpx transport), ``overrides`` (settings), ``registry``.
    """
    hubs: list[Hub] = []

    def factory(
        *,
        rules: RoutingRules | dict[str, Any] | None = None,
        plugins: tuple[object, ...] = (),
        entry_points: bool = True,
        transports: dict[str, Any] | None = None,
        overrides: dict[str, Any] | None = None,
        registry: CollectorRegistry | None = None,
        host: PluginHost | None = None,
    ) -> Hub:
        host = host or create_plugin_host(entry_points=entry_points, extra=plugins)
        settings = load_settings(
            host.settings_sections(),
            database_url=database_url,
            data_dir=tmp_path / "data",
            **(overrides or {}),
        )
        if rules is None:
            rules = {"fallback": {"destinations": [{"connector": "noop"}]}}
        if isinstance(rules, dict):
            rules = RoutingRules.model_validate(rules)
        hub = Hub(
            settings,
            host,
            rules=rules,
            transports=transports,
            registry=registry or CollectorRegistry(),
        )
        hubs.append(hub)
        return hub

    yield factory
    for hub in hubs:
        await hub.aclose()


def unique_id() -> str:
    return uuid.uuid4().hex[:12]
