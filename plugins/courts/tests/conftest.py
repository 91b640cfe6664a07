"""Fixtures for the courts plugin's tests: a portal simulator on 127.0.0.1 per test.
The shared ones (isolated environment, a fresh ledger, ``make_hub``) come from the
repository's root ``conftest.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hub_courts.simulator import PortalSimulator, Store


@pytest.fixture
async def portal() -> AsyncIterator[PortalSimulator]:
    """A simulated portal with no cases yet, on a free port, stopped after the test."""
    sim = PortalSimulator(Store(seed=7))
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()
