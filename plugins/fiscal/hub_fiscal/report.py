"""``hub report fiscal --date YYYY-MM-DD``: the daily summary as CSV on stdout."""

from __future__ import annotations

from datetime import date, datetime

import typer

__all__ = ["register_report"]


def register_report(report: typer.Typer) -> None:
    @report.command("fiscal")
    def fiscal_report(
        day: str = typer.Option(
            None, "--date", help="Local day YYYY-MM-DD (default: today, Europe/Bucharest)"
        ),
    ) -> None:
        """Acts acknowledged by the Fiscal Directorate on a day: count and total per issuer
        (CSV)."""
        from hub.cli._common import cli_errors, fail, open_hub
        from hub_fiscal.summary import LOCAL_TZ, daily_summary, summary_csv

        @cli_errors
        def run() -> None:
            try:
                when = date.fromisoformat(day) if day else datetime.now(LOCAL_TZ).date()
            except ValueError:
                fail("--date: use YYYY-MM-DD")
            with open_hub() as hub:
                rows = daily_summary(hub.ledger, when)
            typer.echo(summary_csv(when, rows), nl=False)

        run()
