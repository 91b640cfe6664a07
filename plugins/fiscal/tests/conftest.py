"""Fixtures for the fiscal plugin's tests: the repository's shared ones (an isolated
environment, a fresh ledger, ``make_hub``), the simulated Directorate, an SMTP sink, the
departments' webhook endpoints and a units file, all on 127.0.0.1 per test."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[3]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from hub_fiscal.simulator import DirectorateSimulator  # noqa: E402

from hub.demo.simulators import DemoContext  # noqa: E402
from hub.demo.sink import WebhookSink  # noqa: E402
from hub.testing.smtp import SmtpSink  # noqa: E402
from tests.conftest import (  # noqa: E402  (the repository root must be importable first)
    _isolated_env,
    _pg_database,
    database_url,
    make_hub,
    registry,
)

__all__ = ["_isolated_env", "_pg_database", "database_url", "make_hub", "registry"]

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
