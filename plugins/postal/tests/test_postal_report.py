"""Contract follow-up: volumes and costs per service and department, the ceiling warning, and
``hub report postal``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pytest
from hub_postal.dispatches import postal_settings
from hub_postal.report import build_report, parse_month
from hub_postal.store import LOCAL_TZ, PostalStore
from postal_helpers import addressee, api_client, registered_document
from typer.testing import CliRunner

from hub.runtime import Hub
from hub.testing.hubrun import dispatching

CONTRACT = {
    "number": "123/2026",
    "start": "2026-11-01",
    "end": "2026-12-31",
    "ceiling_ron": "500",
}


async def request(hub: Hub, services: list[tuple[str, str]]) -> None:
    doc_id = await registered_document(hub)
    async with api_client(hub, "intake") as api:
        for service, department in services:
            answer = await api.post(
                "/api/v1/dispatches",
                json={
                    "document_id": doc_id,
                    "addressee": addressee(),
                    "service": service,
                    "department": department,
                },
            )
            assert answer.status_code == 201, answer.text


def nov(day: int) -> float:
    return datetime(2026, 11, day, 12, tzinfo=LOCAL_TZ).timestamp()


async def test_month_report_and_ceiling_warning(postal_hub: Callable[..., Hub]) -> None:
    hub = postal_hub(contract=CONTRACT)
    real_clock = hub.ledger.clock
    async with dispatching(hub):
        hub.ledger.clock = lambda: nov(3)
        await request(
            hub,
            [
                ("registered_ar", "URB"),
                ("registered_ar", "URB"),
                ("simple_letter", "DAS"),
                ("registered_letter", "DAS"),
            ],
        )
        hub.ledger.clock = lambda: datetime(2026, 10, 20, tzinfo=LOCAL_TZ).timestamp()
        await request(hub, [("registered_ar", "URB")])  # October: not in November's report
        hub.ledger.clock = real_clock
        store = PostalStore(hub.ledger, hub.runner)
        report = await build_report(
            postal_settings(hub), store, parse_month("2026-11"), today=date(2026, 11, 10)
        )
    by_service = {s.key: (s.items, str(s.cost), str(s.tariff)) for s in report.services}
    assert by_service == {
        "registered_ar": (2, "22.00", "11.00"),
        "registered_letter": (1, "8.50", "8.50"),
        "simple_letter": (1, "3.50", "3.50"),
    }
    assert {d.key: (d.items, str(d.cost)) for d in report.departments} == {
        "DAS": (2, "12.00"),
        "URB": (2, "22.00"),
    }
    assert report.total_items == 4 and str(report.total_cost) == "34.00"
    c = report.contract
    assert c is not None
    # 34 lei in 10 days → 3.40 lei/day x 61 days = 207.40 lei: under the 500 lei ceiling.
    assert str(c.spent) == "34.00" and str(c.projected) == "207.40" and c.warning is None


async def test_warning_when_the_rate_would_exceed_the_ceiling(
    postal_hub: Callable[..., Hub],
) -> None:
    hub = postal_hub(contract={**CONTRACT, "ceiling_ron": "100"})
    async with dispatching(hub):
        hub.ledger.clock = lambda: nov(2)
        await request(hub, [("courier_pod", "JUR")] * 3)  # 3 x 18 = 54 lei by 5 November
        store = PostalStore(hub.ledger, hub.runner)
        report = await build_report(
            postal_settings(hub), store, date(2026, 11, 1), today=date(2026, 11, 5)
        )
    c = report.contract
    assert c is not None and c.warning is not None
    # 54 lei / 5 days = 10.80 lei/day: 100 lei are used up on day 9 (9 November).
    assert c.exhausted_on == date(2026, 11, 9)
    assert "09.11.2026" in c.warning and "plafonul" in c.warning


async def test_report_command(
    postal_hub: Callable[..., Hub],
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub = postal_hub()
    async with dispatching(hub):
        await request(hub, [("registered_letter", "URB")])
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "cli"))
    rules = tmp_path / "routing.toml"
    rules.write_text('[fallback]\ndestinations = [{ connector = "noop" }]\n', encoding="utf-8")
    monkeypatch.setenv("HUB_ROUTING_FILE", str(rules))
    monkeypatch.setenv("HUB_POSTAL__CONTRACT__NUMBER", "77/2026")
    from hub.cli.main import build_app

    month = datetime.now(LOCAL_TZ).strftime("%Y-%m")
    runner = CliRunner()
    result = await asyncio.to_thread(
        runner.invoke, build_app(), ["report", "postal", "--month", month, "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output[result.output.index("{") :])
    assert data["services"] == [
        {"key": "registered_letter", "items": 1, "cost_ron": "8.50", "tariff_ron": "8.50"}
    ]
    table = await asyncio.to_thread(
        runner.invoke, build_app(), ["report", "postal", "--month", month]
    )
    assert "Scrisoare recomandată" in table.output and "URB" in table.output
    bad = await asyncio.to_thread(
        runner.invoke, build_app(), ["report", "postal", "--month", "11/2026"]
    )
    assert bad.exit_code == 1 and "YYYY-MM" in bad.output
