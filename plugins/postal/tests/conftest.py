"""Fixtures for the postal plugin's tests: the repository's shared ones (an isolated
environment, a fresh ledger, ``make_hub``) and a courier simulator on 127.0.0.1 per test."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from hub.runtime import Hub

_ROOT = Path(__file__).resolve().parents[3]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from hub_postal.simulator import CourierSimulator  # noqa: E402
from postal_helpers import postal_hub_factory  # noqa: E402

from tests.conftest import (  # noqa: E402  (the repository root must be importable first)
    _isolated_env,
    _pg_database,
    database_url,
    make_hub,
    registry,
)

__all__ = ["_isolated_env", "_pg_database", "database_url", "make_hub", "registry"]


@pytest.fixture
async def courier_sim() -> AsyncIterator[CourierSimulator]:
    """A courier simulator on a free port (manual steps), stopped after the test."""
    sim = CourierSimulator()
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


@pytest.fixture
def postal_hub(make_hub: Callable[..., Hub], courier_sim: CourierSimulator) -> Callable[..., Hub]:
    """``postal_hub(**postal_section)``: a hub whose ``postal`` section points at the simulator
    and whose documents are registered by a stand-in for WEBCON."""
    return postal_hub_factory(make_hub, courier_sim)


@pytest.fixture(autouse=True)
def _only_postal(_isolated_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Load only this plugin (and the built-in noop), so that a sibling plugin's state does not
    decide these tests."""
    monkeypatch.setenv("HUB_LOAD_PLUGINS", "postal,noop")
