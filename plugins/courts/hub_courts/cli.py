"""``hub courts …`` commands and ``hub report centralizator``.

* ``hub courts hearings [--days N] [--json]`` — the next hearings (``hub status`` has no place
  for plugins, so the calendar lives here);
* ``hub courts handover --date D --department DJ --received-by NAME [--at T]`` — record a
  handover and close its deliveries;
* ``hub courts notice-board [--all]`` — what is posted and when it comes down;
* ``hub report centralizator --date D [--department DJ] [--format pdf|csv] [--output F]``.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from pathlib import Path

import typer
from rich.table import Table

from hub.cli._common import actor, cli_errors, console, fail, open_hub
from hub_courts import noticeboard, service
from hub_courts.centralizator import list_acts, to_csv, to_pdf
from hub_courts.names import court_label

__all__ = ["register_commands", "register_reports"]


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option}: {value!r} is not a date (YYYY-MM-DD)")


def hearings_command(
    days: int = typer.Option(None, "--days", min=1, help="Days ahead (default: the setting)"),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
) -> None:
    """The next court hearings of the municipality's cases."""
    with open_hub() as hub:
        rows = service.hearings(hub, days=days)
    if as_json:
        typer.echo(
            json.dumps(
                [r | {"at": r["at"].isoformat()} for r in rows], indent=2, ensure_ascii=False
            )
        )
        return
    out = console()
    if not rows:
        out.print("[dim]No hearings ahead.[/]")
        return
    table = Table(title=f"Next hearings ({len(rows)})")
    for col in ("when", "case", "court", "panel", "subject"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            f"{r['at']:%Y-%m-%d %H:%M}",
            r["number"],
            court_label(r["court"]),
            r["panel"],
            r["subject"],
        )
    out.print(table)


def handover_command(
    day: str = typer.Option(..., "--date", help="Day of the centralizator (YYYY-MM-DD)"),
    department: str = typer.Option(..., "--department", "-d", help="Receiving department"),
    received_by: str = typer.Option(..., "--received-by", help="Who signed for the acts"),
    at: str = typer.Option(None, "--at", help="When they were received (ISO; default now)"),
) -> None:
    """Record that a department received its acts of a day; closes their deliveries."""
    when = datetime.now(UTC)
    if at:
        try:
            when = datetime.fromisoformat(at)
        except ValueError:
            fail(f"--at: {at!r} is not an ISO date-time")
        if when.tzinfo is None:
            when = when.astimezone()
    if len(received_by.strip()) < 2:
        fail("--received-by: give the name of the person who received the acts")
    with open_hub() as hub:
        who = actor()
        done, ids = service.record(
            hub,
            _day(day, "--date"),
            department,
            received_by=received_by.strip(),
            received_at=when,
            actor=who,
        )
        closed = asyncio.run(service.close_handover(hub, done, ids, who))
    console().print(
        f"[green]✓[/] {done.documents} acts handed over to {department}"
        f" ({closed} deliveries closed)"
    )


def notice_board_command(
    include_removed: bool = typer.Option(False, "--all", help="Removed ones too"),
) -> None:
    """Acts on the notice board and when they come down."""
    with open_hub() as hub:
        items = noticeboard.list_postings(hub.ledger.reader, current=not include_removed)
    out = console()
    if not items:
        out.print("[dim]Nothing posted.[/]")
        return
    table = Table(title="Notice board")
    for col in ("id", "act", "case", "posted", "due down", "removed"):
        table.add_column(col)
    for p in items:
        table.add_row(
            str(p.id),
            p.act,
            p.case_number,
            p.posted_on.isoformat(),
            p.removal_due.isoformat(),
            p.removed_on.isoformat() if p.removed_on else "",
        )
    out.print(table)


def centralizator_report(
    day: str = typer.Option(..., "--date", help="Registration day (YYYY-MM-DD)"),
    department: str = typer.Option(None, "--department", "-d", help="Only this department"),
    fmt: str = typer.Option("pdf", "--format", "-f", help="pdf or csv"),
    output: Path = typer.Option(
        None, "--output", "-o", help="File to write (default: ./centralizator-…)"
    ),
) -> None:
    """The daily handover list (centralizator) of acts, per receiving department."""
    if fmt not in ("pdf", "csv"):
        fail("--format: pdf or csv")
    when = _day(day, "--date")
    with open_hub() as hub:
        s = service.courts_settings(hub)
        acts = list_acts(
            hub.ledger.reader,
            when,
            kinds=s.centralizator_kinds,
            tz=s.timezone,
            department=department,
        )
    data = to_pdf(acts, when, department, now=datetime.now(UTC)) if fmt == "pdf" else to_csv(acts)
    target = output or Path(
        f"centralizator-{when:%Y-%m-%d}{'-' + department if department else ''}.{fmt}"
    )
    target.write_bytes(data)
    console().print(f"[green]✓[/] {len(acts)} acts → {target}")


def register_commands(cli: typer.Typer) -> None:
    app = typer.Typer(
        help="Court and bailiff feeds: hearings, handovers, notice board.", no_args_is_help=True
    )
    app.command("hearings")(cli_errors(hearings_command))
    app.command("handover")(cli_errors(handover_command))
    app.command("notice-board")(cli_errors(notice_board_command))
    cli.add_typer(app, name="courts")


def register_reports(report: typer.Typer) -> None:
    report.command("centralizator")(cli_errors(centralizator_report))
