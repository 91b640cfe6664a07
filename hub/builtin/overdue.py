"""The monthly overdue report as a command and as a schedule.

``hub report overdue --month 2026-11 [--send]`` prints the counts per structure and, with
``--send``, e-mails the heads and the registry (:mod:`hub.reports.overdue`).

The ``overdue-report`` source sends it by itself: it wakes every ``interval_seconds`` (an hour)
and, on the first working day of a month from ``send_hour`` on, sends the previous month's
report once — its cursor remembers the last month sent, in the same transaction as every
other source's cursor, so a restart does not send it twice. Off until
``HUB_OVERDUE__ENABLED=true``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
import typer
from pydantic import Field

from hub.hookspecs import hookimpl
from hub.log import get_logger
from hub.mail import send_message
from hub.reports.overdue import OverdueReport, build_messages, compute_overdue
from hub.sources import PollResult, Source, SourceSettings
from hub.terms import LOCAL_TZ, local_date, next_working_day
from hub.units import load_units

if TYPE_CHECKING:
    from hub.settings import HubSettings

__all__ = ["OverdueSettings", "OverdueSource", "first_working_day", "previous_month"]

log = get_logger("hub.overdue")

#: The settings of the hub that started last in this process (``hub_startup``).
_hub_settings: HubSettings | None = None


class OverdueSettings(SourceSettings):
    enabled: bool = Field(default=False, description="Send the report every month by itself")
    interval_seconds: float = Field(default=3600.0, gt=0, description="How often to check")
    registry_email: str = Field(
        default="registratura@primariatm.ro", description="Where the registry's copy goes"
    )
    days_open: int = Field(default=30, ge=1, le=365, description="Days after which it counts")
    tacit_risk_days: int = Field(
        default=5, ge=0, le=60, description="Tacit-approval list: terms ending within these days"
    )
    send_hour: int = Field(default=8, ge=0, le=23, description="Local hour from which to send")


def first_working_day(year: int, month: int) -> date:
    return next_working_day(date(year, month, 1))


def previous_month(day: date) -> str:
    last = day.replace(day=1) - timedelta(days=1)
    return f"{last:%Y-%m}"


async def send_report(settings: HubSettings, report: OverdueReport, registry_email: str) -> int:
    """E-mail every message of the report; returns how many were sent."""
    messages = await asyncio.to_thread(build_messages, report, registry_email)
    for message in messages:
        await send_message(settings.smtp, message)
    log.info("hub.overdue.sent", month=report.month, messages=len(messages))
    return len(messages)


class OverdueSource(Source):
    name = "overdue-report"
    settings_section = "overdue"
    settings_model: ClassVar[type[SourceSettings]] = OverdueSettings
    description = "Sends the monthly overdue report on the first working day of each month"
    settings: OverdueSettings

    def __init__(
        self,
        settings: SourceSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Any = None,
    ) -> None:
        super().__init__(settings, transport=transport)
        self.clock = clock or (lambda: datetime.now(UTC))

    async def poll(self, cursor: dict[str, Any] | None) -> PollResult:
        cursor = dict(cursor or {})
        now = self.clock().astimezone(LOCAL_TZ)
        today = now.date()
        month = previous_month(today)
        due = today == first_working_day(today.year, today.month)
        if not due or now.hour < self.settings.send_hour or cursor.get("last_sent") == month:
            return PollResult(cursor=cursor or None)
        hub = _hub_settings
        if hub is None or self.documents is None:
            raise RuntimeError("the hub has not started yet")
        store = self.documents
        units = load_units(hub.units_file)
        from hub.terms import load_terms

        terms = load_terms(hub.terms_file)
        report = await store.runner.read(
            compute_overdue,
            store.ledger,
            units,
            terms,
            month,
            days_open=self.settings.days_open,
            tacit_risk_days=self.settings.tacit_risk_days,
            today=today,
        )
        sent = await send_report(hub, report, self.settings.registry_email)
        cursor.update(last_sent=month, sent_at=now.isoformat(), messages=sent)
        return PollResult(cursor=cursor)


@hookimpl
def hub_register_sources(register: Any) -> None:
    register(OverdueSource)


@hookimpl
def hub_startup(settings: HubSettings) -> None:
    global _hub_settings
    _hub_settings = settings


@hookimpl
def hub_register_reports(report: typer.Typer) -> None:
    report.command("overdue")(overdue_command)


def overdue_command(
    month: str = typer.Option(
        None, "--month", help="YYYY-MM; default: the previous month", show_default=False
    ),
    send: bool = typer.Option(False, "--send", help="E-mail the heads and the registry"),
) -> None:
    """Documents not finished within 30 days and past their legal term, per rank-I structure."""
    from hub.cli._common import cli_errors

    cli_errors(_overdue)(month, send)


def _overdue(month: str | None, send: bool) -> None:
    from rich.table import Table

    from hub.cli._common import console, fail, open_hub
    from hub.terms import load_terms

    month = month or previous_month(local_date(datetime.now(UTC)))
    with open_hub() as hub:
        section = hub.settings.section("overdue") if hasattr(hub.settings, "overdue") else None
        cfg = section if isinstance(section, OverdueSettings) else OverdueSettings()
        try:
            report = compute_overdue(
                hub.ledger,
                load_units(hub.settings.units_file),
                load_terms(hub.settings.terms_file),
                month,
                days_open=cfg.days_open,
                tacit_risk_days=cfg.tacit_risk_days,
            )
        except ValueError as exc:
            fail(str(exc), 2)
        out = console()
        table = Table(title=f"Overdue documents, {month} (as of {report.reference:%Y-%m-%d})")
        for col in ("structure", f"> {cfg.days_open} days", "past legal term"):
            table.add_column(col)
        for s in report.sections.values():
            table.add_row(f"{s.code} {s.name}", str(s.over), str(s.past))
        out.print(table)
        out.print(f"authorization requests at risk of tacit approval: {len(report.tacit)}")
        if send:
            sent = asyncio.run(send_report(hub.settings, report, cfg.registry_email))
            out.print(f"sent {sent} message(s)")
