"""Fixtures for the invoices plugin's tests: a simulated ANAF on 127.0.0.1 per test.
The shared ones (isolated environment, a fresh ledger, ``make_hub``) come from the
repository's root ``conftest.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from hub_invoices.simulator import EFacturaSimulator

from hub.runtime import Hub

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
