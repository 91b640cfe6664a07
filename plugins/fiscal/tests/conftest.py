"""Fixtures for the fiscal plugin's tests: the simulated Directorate, an SMTP sink, the
departments' webhook endpoints and a units file, all on 127.0.0.1 per test.
The shared ones (isolated environment, a fresh ledger, ``make_hub``) come from the
repository's root ``conftest.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hub_fiscal.simulator import DirectorateSimulator

from hub.demo.simulators import DemoContext
from hub.demo.sink import WebhookSink
from hub.testing.smtp import SmtpSink

UNITS_TOML = """
[[unit]]
code = "DJ"
name = "Direcția Juridică"
kind = "department"
rank_one = true
email = "juridic@primariatm.test"
webhook_target = "DJ"

[[unit]]
code = "DT"
name = "Direcția Tehnică"
webhook_target = "DT"

[[unit]]
code = "SPFL"
name = "Serviciul Public de Fond Locativ"
kind = "subordinate"
head_name = "Maria Șef-Test"
head_email = "sef.spfl@primariatm.test"
email = "spfl@primariatm.test"
"""


@pytest.fixture
async def directorate() -> AsyncIterator[DirectorateSimulator]:
    sim = DirectorateSimulator()
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpSink]:
    async with SmtpSink() as sink:
        yield sink


@pytest.fixture
async def departments(tmp_path: Path) -> AsyncIterator[WebhookSink]:
    """Signature-checking webhook endpoints for DJ and DT (never failing on purpose)."""
    sink = WebhookSink(fail_every=0)
    sink.section = await sink.start(  # type: ignore[attr-defined]
        DemoContext(data_dir=tmp_path, targets={"webhook": ["DJ", "DT"]})
    )
    try:
        yield sink
    finally:
        await sink.stop()


@pytest.fixture
def units_file(tmp_path: Path) -> Path:
    path = tmp_path / "units.toml"
    path.write_text(UNITS_TOML, encoding="utf-8")
    return path
