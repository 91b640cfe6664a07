"""``hub courts …`` and ``hub report centralizator`` in-process against a real ledger."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import pytest
from courts_helpers import RULES, delivery_rows, registration_day, settled
from hub_courts.simulator import PortalSimulator
from hub_courts.source import CourtsSource
from pypdf import PdfReader
from typer.testing import CliRunner

from hub.models import Channel, DocumentIn
from hub.runtime import Hub
from hub.testing.hubrun import dispatching


async def test_hearings_report_and_handover_from_the_command_line(
    make_hub: Callable[..., Hub],
    portal: PortalSimulator,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = portal.store.add_case(
        "JudecatoriaLUGOJ", municipality="MUNICIPIUL TIMISOARA", hearings=2
    )
    hub = make_hub(rules=RULES, overrides={"courts": portal.settings(courts=["JudecatoriaLUGOJ"])})
    async with dispatching(hub):
        src = hub.sources["courts"]
        assert isinstance(src, CourtsSource)
        await hub.source_runner.poll_once("courts", src)
        paper = DocumentIn(
            source="ghiseu",
            external_id="citatie-1",
            channel=Channel.POSTA,
            subject="Citație pentru termenul din 12.01.2027",
            department="DJ",
            metadata={
                "act_type": "citatie",
                "issuer": "Judecătoria Lugoj",
                "case_number": case.number,
            },
        )
        doc_id = (await hub.intake.submit(hub.intake.prepare(paper))).document_id
        assert (await settled(hub, doc_id))["handover"]["state"] == "pending"

    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.setenv("HUB_COURTS__ENDPOINT_URL", portal.url)
    rules = tmp_path / "routing.toml"
    rules.write_text('[fallback]\ndestinations = [{ connector = "noop" }]\n', encoding="utf-8")
    monkeypatch.setenv("HUB_ROUTING_FILE", str(rules))
    from hub.cli.main import build_app

    runner, cli = CliRunner(), build_app()

    result = await asyncio.to_thread(runner.invoke, cli, ["courts", "hearings", "--json"])
    assert result.exit_code == 0, result.output
    # Log lines may share the captured output: read the JSON document where it starts.
    listed, _ = json.JSONDecoder().raw_decode(result.stdout[result.stdout.index("[\n") :])
    expected = sorted(h.at.isoformat() for h in case.hearings)
    assert [h["at"] for h in listed] == expected and listed[0]["number"] == case.number
    result = await asyncio.to_thread(runner.invoke, cli, ["courts", "hearings"])
    assert case.number in result.output and "Judecătoria Lugoj" in result.output

    # `hub status` prints the feed's status line: the next hearings.
    first = min(h.at for h in case.hearings)
    status = hub.ledger.get_cursor("courts")["status"]  # type: ignore[index]
    assert status["hearings_ahead"] == 2 and status["cases_known"] == 1
    assert status["next_hearings"].startswith(f"{first:%d.%m.%Y %H:%M} {case.number}")
    result = await asyncio.to_thread(runner.invoke, cli, ["status"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("courts:"))
    assert f"next hearings: {first:%d.%m.%Y %H:%M} {case.number} (Judecătoria Lugoj)" in line

    today = registration_day(hub, doc_id).isoformat()
    out = tmp_path / "c.pdf"
    result = await asyncio.to_thread(
        runner.invoke,
        cli,
        ["report", "centralizator", "--date", today, "--department", "DJ", "-o", str(out)],
    )
    assert result.exit_code == 0, result.output
    text = "\n".join(p.extract_text() for p in PdfReader(BytesIO(out.read_bytes())).pages)
    assert "Compartiment destinatar: DJ" in text and "Citație" in text and case.number in text
    csv_out = tmp_path / "c.csv"
    result = await asyncio.to_thread(
        runner.invoke,
        cli,
        ["report", "centralizator", "--date", today, "-f", "csv", "-o", str(csv_out)],
    )
    assert result.exit_code == 0 and "Judecătoria Lugoj" in csv_out.read_text(encoding="utf-8-sig")
    result = await asyncio.to_thread(
        runner.invoke, cli, ["report", "centralizator", "--date", "29.11.2026"]
    )
    assert result.exit_code != 0 and "YYYY-MM-DD" in result.output

    result = await asyncio.to_thread(
        runner.invoke,
        cli,
        [
            "courts",
            "handover",
            "--date",
            today,
            "--department",
            "DJ",
            "--received-by",
            "Radu Șerban",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "1 acts handed over to DJ (1 deliveries closed)" in result.output
    rows = {d["connector"]: d for d in delivery_rows(hub, doc_id)}
    assert rows["handover"]["state"] == "delivered"
    assert rows["handover"]["receipt"]["data"]["received_by"] == "Radu Șerban"
