"""Fixtures for the invoices plugin's tests: the repository's shared ones (an isolated
environment, a fresh ledger on SQLite or PostgreSQL, ``make_hub``) and a simulated ANAF on
127.0.0.1 per test."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

_ROOT = Path(__file__).resolve().parents[3]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from hub_invoices.simulator import EFacturaSimulator  # noqa: E402
from hub_invoices.source import EFacturaSource  # noqa: E402

from hub.runtime import Hub  # noqa: E402
from tests.conftest import (  # noqa: E402  (the repository root must be importable first)
    _isolated_env,
    _pg_database,
    database_url,
    make_hub,
    registry,
)

__all__ = ["_isolated_env", "_pg_database", "database_url", "make_hub", "registry"]

RULES = {"fallback": {"department": "REG", "destinations": [{"connector": "noop"}]}}


@pytest.fixture
async def anaf() -> AsyncIterator[EFacturaSimulator]:
    """A simulated ANAF for the Timișoara city hall's CUI, on a free port."""
    sim = EFacturaSimulator()
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


@pytest.fixture
def invoices_hub(make_hub: Callable[..., Hub], anaf: EFacturaSimulator) -> Callable[..., Hub]:
    """A hub whose ``invoices`` section points at the simulator (a refresh token seeded)."""

    def build(**section: Any) -> Hub:
        return make_hub(rules=RULES, overrides={"invoices": anaf.settings(**section)})

    return build


def source_of(hub: Hub) -> EFacturaSource:
    src = hub.sources["efactura"]
    assert isinstance(src, EFacturaSource)
    return src


async def start_source(hub: Hub) -> EFacturaSource:
    """Start only the e-Factura source (what ``hub.start()`` does for it). The polls in these
    tests go through ``hub.source_runner.poll_once``; the dispatcher is not needed."""
    src = source_of(hub)
    await src.start()
    return src
