"""The monthly overdue report against a seeded ledger: its numbers per rank-I structure, the
order (oldest first), the tacit-approval list, the e-mails (HTML and CSV parsed) received by a
real SMTP server, the CLI, and the schedule on the first working day of the month."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, datetime, time
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs
from typer.testing import CliRunner

from hub.builtin.overdue import OverdueSource, first_working_day, previous_month, send_report
from hub.db.schema import documents
from hub.models import DocumentIn
from hub.reports.overdue import OTHER, compute_overdue, month_bounds
from hub.runtime import Hub
from hub.terms import LOCAL_TZ, TermEngine
from hub.testing.smtp import SmtpSink
from hub.units import load_units
from tests.fixtures import MakeHub

TODAY = date(2026, 11, 2)  # the first working day of November 2026 (1 Nov is a Sunday)
UNITS = """
[[unit]]
code = "DJ"
name = "Direcția Juridică"
rank_one = true
head_email = "sef.dj@primariatm.test"

[[unit]]
code = "DUT"
name = "Direcția Urbanism"
rank_one = true
head_email = "sef.dut@primariatm.test"

[[unit]]
code = "DSC"
name = "Serviciul Spații Comerciale"
"""


def at(day: date) -> datetime:
    return datetime.combine(day, time(10, 0), tzinfo=LOCAL_TZ)


# number, department, kind, registered, due, closed_at, extra values
SEED: list[tuple[str, str | None, str, date, date | None, date | None, dict[str, Any]]] = [
    ("RG1/2026", "DJ", "petitie", date(2026, 9, 1), date(2026, 10, 1), None, {}),
    ("RG2/2026", "DJ", "petitie", date(2026, 9, 25), date(2026, 10, 26), None, {}),
    ("RG3/2026", "DJ", "petitie", date(2026, 10, 20), date(2026, 11, 19), None, {}),
    ("RG4/2026", "DJ", "petitie", date(2026, 9, 2), date(2026, 10, 2), date(2026, 10, 15), {}),
    ("RG5/2026", "DJ", "petitie", date(2026, 9, 3), date(2026, 10, 5), date(2026, 11, 1), {}),
    ("RG6/2026", "DUT", "cerere_544", date(2026, 10, 5), date(2026, 10, 15), None, {}),
    ("RG7/2026", "DUT", "autorizatie", date(2026, 10, 5), date(2026, 11, 4), None, {}),
    ("RG8/2026", "DUT", "autorizatie", date(2026, 9, 10), date(2026, 10, 12), None, {}),
    ("RG9/2026", "DSC", "petitie", date(2026, 8, 1), date(2026, 8, 31), None, {}),
    ("RG10/2026", None, "petitie_anonima", date(2026, 8, 1), None, None, {}),
    (
        "RG11/2026",
        "DJ",
        "petitie",
        date(2026, 9, 1),
        date(2026, 10, 1),
        None,
        {
            "status": "released",
            "meta": {"release": {"released_at": "2026-10-10T09:00:00+00:00", "mode": "email"}},
        },
    ),
    ("RG12/2026", "DUT", "autorizatie", date(2026, 10, 21), date(2026, 11, 20), None, {}),
    ("RG13/2026", "DJ", "petitie", date(2026, 11, 1), date(2026, 12, 1), None, {}),
]


async def seed(hub: Hub) -> None:
    for number, dept, kind, registered, due, closed, extra in SEED:
        doc = DocumentIn(external_id=uuid.uuid4().hex, kind=kind, subject="Subiect confidențial")
        result = await hub.intake.submit(hub.intake.prepare(doc))
        values: dict[str, Any] = {
            "registration_number": number,
            "department": dept,
            "created_at": at(registered),
            "registered_at": at(registered),
            "due_date": due,
            "status": "registered",
            "closed_at": at(closed) if closed else None,
            **extra,
        }

        def write(doc_id: str = result.document_id, values: dict[str, Any] = values) -> None:
            from sqlalchemy import update

            with hub.ledger.writer.begin() as conn:
                conn.execute(update(documents).where(documents.c.id == doc_id).values(values))

        await hub.runner.write(write)


@pytest.fixture
def units_path(tmp_path: Path) -> Path:
    path = tmp_path / "units.toml"
    path.write_text(UNITS, encoding="utf-8")
    return path


@pytest.fixture
async def seeded(make_hub: MakeHub, units_path: Path) -> Hub:
    hub = make_hub(overrides={"units_file": units_path})
    await seed(hub)
    return hub


async def test_numbers_per_structure_oldest_first_and_tacit_list(seeded: Hub) -> None:
    report = await seeded.runner.read(
        compute_overdue,
        seeded.ledger,
        load_units(seeded.settings.units_file),
        TermEngine(),
        "2026-10",
        today=TODAY,
    )
    assert report.reference == date(2026, 10, 31)
    numbers = {code: [r.number for r in s.rows] for code, s in report.sections.items()}
    assert numbers == {
        "DJ": ["RG1/2026", "RG5/2026", "RG2/2026"],
        "DUT": ["RG8/2026", "RG6/2026"],
        OTHER: ["RG9/2026"],
    }
    dj, dut, other = (report.sections[c] for c in ("DJ", "DUT", OTHER))
    assert (dj.over, dj.past) == (3, 3)
    assert (dut.over, dut.past) == (1, 2)  # RG6 is 26 days old but past its 10-day term
    assert (other.over, other.past) == (1, 1)
    assert [r.days_open for r in dj.rows] == [60, 58, 36]
    assert [(t.number, t.days_left) for t in report.tacit] == [("RG8/2026", -19), ("RG7/2026", 4)]


async def test_emails_to_heads_and_registry_with_chart_and_csv(seeded: Hub) -> None:
    report = await seeded.runner.read(
        compute_overdue,
        seeded.ledger,
        load_units(seeded.settings.units_file),
        TermEngine(),
        "2026-10",
        today=TODAY,
    )
    async with SmtpSink() as smtp:
        settings = seeded.settings.model_copy(
            update={"smtp": seeded.settings.smtp.model_copy(update={"port": smtp.port})}
        )
        sent = await send_report(settings, report, "registratura@primariatm.test")
        messages = await smtp.wait_for(3)
    assert sent == 3
    by_to = {str(m["To"]): m for m in messages}
    assert set(by_to) == {
        "sef.dj@primariatm.test",
        "sef.dut@primariatm.test",
        "registratura@primariatm.test",
    }
    dj = by_to["sef.dj@primariatm.test"]
    assert "octombrie 2026" in dj["Subject"] and "Direcția Juridică" in dj["Subject"]
    html, rows = parts(dj)
    assert [r[0] for r in html.tables["documents"]] == ["RG1/2026", "RG5/2026", "RG2/2026"]
    assert html.summary == {"DJ": (3, 3), "DUT": (1, 2), OTHER: (1, 1)}
    assert html.bars == {"over": [3, 1, 1], "past": [3, 2, 1]}
    assert html.tables.get("tacit", []) == []  # DJ has no authorization requests
    assert rows[0][0] == "Nr. înregistrare" and rows[0][-1] == "Termen depășit"
    assert [r[0] for r in rows[1:]] == ["RG1/2026", "RG5/2026", "RG2/2026"]
    assert [r[6] for r in rows[1:]] == ["60", "58", "36"]
    assert rows[1][5] == "01.10.2026" and rows[1][7] == "da"

    dut_html, _ = parts(by_to["sef.dut@primariatm.test"])
    assert [r[0] for r in dut_html.tables["tacit"]] == ["RG8/2026", "RG7/2026"]

    registry_html, registry_rows = parts(by_to["registratura@primariatm.test"])
    assert [r[0] for r in registry_rows[1:]] == [
        "RG9/2026",
        "RG1/2026",
        "RG5/2026",
        "RG8/2026",
        "RG2/2026",
        "RG6/2026",
    ]
    assert len(registry_html.tables["documents"]) == 6
    for message in messages:
        assert message["Auto-Submitted"] == "auto-generated"
        assert "confidențial" not in message.as_string()


class _Html(HTMLParser):
    """Reads the report's tables (by class) and the chart's bars back out of the HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.summary: dict[str, tuple[int, int]] = {}
        self.bars: dict[str, list[int]] = {"over": [], "past": []}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._code: str | None = None
        self._cell: list[str] | None = None
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("class")
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self._row, self._code = [], a.get("data-code")
        elif tag == "td" and self._row is not None:
            self._cell = []
        elif tag == "rect" and a.get("class") in self.bars:
            self.bars[str(a["class"])].append(int(str(a["data-value"])))

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._table == "summary" and self._code:
                self.summary[self._code] = (int(self._row[1]), int(self._row[2]))
            elif self._table:
                self.tables.setdefault(self._table, []).append(self._row)
            self._row = None
        elif tag == "tbody":
            self._in_body = False


def parts(message: EmailMessage) -> tuple[_Html, list[list[str]]]:
    body = message.get_body(preferencelist=("html",))
    assert body is not None
    parser = _Html()
    parser.feed(body.get_content())
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "text/csv"
    raw = attachment.get_payload(decode=True)
    assert isinstance(raw, bytes) and raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    return parser, rows


def test_month_bounds_and_schedule_days() -> None:
    assert month_bounds("2026-10", TODAY) == (date(2026, 10, 1), date(2026, 10, 31))
    assert month_bounds("2026-11", TODAY) == (date(2026, 11, 1), TODAY)
    with pytest.raises(ValueError, match="YYYY-MM"):
        month_bounds("2026/10", TODAY)
    with pytest.raises(ValueError, match="not started"):
        month_bounds("2026-12", TODAY)
    assert first_working_day(2026, 11) == date(2026, 11, 2)
    assert first_working_day(2027, 1) == date(2027, 1, 4)  # 1 and 2 Jan, then a weekend
    assert first_working_day(2026, 6) == date(2026, 6, 2)  # 1 June: Rusalii, Children's Day
    assert first_working_day(2026, 12) == date(2026, 12, 2)  # 1 December
    assert previous_month(date(2027, 1, 4)) == "2026-12"


async def test_scheduled_once_on_the_first_working_day(make_hub: MakeHub, units_path: Path) -> None:
    async with SmtpSink() as smtp:
        hub = make_hub(
            overrides={"units_file": units_path, "smtp": {"host": "127.0.0.1", "port": smtp.port}}
        )
        await seed(hub)
        await hub.start()
        source = hub.sources["overdue-report"]
        assert isinstance(source, OverdueSource)
        now = [datetime(2026, 10, 30, 9, 0, tzinfo=LOCAL_TZ)]
        source.clock = lambda: now[0]
        assert (await source.poll(None)).cursor is None  # not the first working day
        now[0] = datetime(2026, 11, 2, 6, 0, tzinfo=LOCAL_TZ)
        assert (await source.poll(None)).cursor is None  # too early in the morning
        now[0] = datetime(2026, 11, 2, 9, 0, tzinfo=LOCAL_TZ)
        cursor = (await source.poll(None)).cursor
        assert cursor is not None and cursor["last_sent"] == "2026-10"
        assert cursor["messages"] == 3
        await smtp.wait_for(3)
        now[0] = datetime(2026, 11, 2, 15, 0, tzinfo=LOCAL_TZ)
        assert (await source.poll(cursor)).cursor == cursor  # sent already
        assert len(smtp.received) == 3


def test_cli_report_prints_counts(
    seeded_cli: tuple[Hub, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.cli.main import build_app

    _, env = seeded_cli
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with capture_logs():
        app = build_app()
    old = structlog.get_config()
    try:
        with capture_logs():
            result = CliRunner().invoke(app, ["report", "overdue", "--month", "2026-10"])
            bad = CliRunner().invoke(app, ["report", "overdue", "--month", "oct"])
    finally:
        structlog.configure(**old)
    assert result.exit_code == 0, result.output
    assert "DJ Direcția Juridică" in result.output
    lines = [line for line in result.output.splitlines() if "DJ Direcția" in line]
    assert "3" in lines[0]
    assert "tacit approval: 2" in result.output
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output


@pytest.fixture
async def seeded_cli(
    make_hub: MakeHub, units_path: Path, database_url: str, tmp_path: Path
) -> tuple[Hub, dict[str, str]]:
    hub = make_hub(overrides={"units_file": units_path})
    await seed(hub)
    return hub, {
        "HUB_DATABASE_URL": database_url,
        "HUB_UNITS_FILE": str(units_path),
        "HUB_DATA_DIR": str(tmp_path / "data"),
    }
