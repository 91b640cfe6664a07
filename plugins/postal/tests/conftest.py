"""Fixtures for the postal plugin's tests: a courier simulator on 127.0.0.1 per test.
The shared ones (isolated environment, a fresh ledger, ``make_hub``) come from the
repository's root ``conftest.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from hub_postal.simulator import CourierSimulator
from postal_helpers import postal_hub_factory

from hub.runtime import Hub


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
