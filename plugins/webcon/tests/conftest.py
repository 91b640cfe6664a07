"""Fixtures for the WEBCON plugin's tests: a simulator on 127.0.0.1 per test.
The shared ones (isolated environment, a fresh ledger, ``make_hub``) come from the
repository's root ``conftest.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hub_webcon.simulator import WebconSimulator


@pytest.fixture
async def webcon_sim() -> AsyncIterator[WebconSimulator]:
    """A WEBCON simulator with the registry catalog, on a free port, stopped after the test."""
    sim = WebconSimulator()
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()
