"""Fixtures for the courts plugin's tests: the repository's shared ones (an isolated
environment, a fresh ledger, ``make_hub``) and a portal simulator on 127.0.0.1 per test."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[3]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from hub_courts.simulator import PortalSimulator, Store  # noqa: E402

from tests.conftest import (  # noqa: E402  (the repository root must be importable first)
    _isolated_env,
    _pg_database,
    database_url,
    make_hub,
    registry,
)

__all__ = ["_isolated_env", "_pg_database", "database_url", "make_hub", "registry"]


@pytest.fixture
async def portal() -> AsyncIterator[PortalSimulator]:
    """A simulated portal with no cases yet, on a free port, stopped after the test."""
    sim = PortalSimulator(Store(seed=7))
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()
