"""``hub db``: create or migrate the ledger's schema, and say where it stands."""

from __future__ import annotations

import typer

from hub.cli._common import cli_errors, console, describe_database, ledger_engine
from hub.db.migrate import current_revision, head_revision, missing_revisions, upgrade
from hub.plugins import create_plugin_host
from hub.settings import HubSettings, load_settings

__all__ = ["app"]

app = typer.Typer(
    help="The ledger's schema (Alembic migrations).",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


def _settings() -> HubSettings:
    return load_settings(create_plugin_host().settings_sections())


@app.command("upgrade")
@cli_errors
def upgrade_command() -> None:
    """Create the ledger, or migrate it to this version's schema. Safe to run again."""
    settings = _settings()
    with ledger_engine(settings) as engine:
        before = current_revision(engine)
        upgrade(engine)
        after = current_revision(engine)
    where = describe_database(settings)
    if before == after:
        console().print(f"[green]✓[/] ledger already at revision {after} ({where})")
    else:
        console().print(
            f"[green]✓[/] ledger upgraded from {before or 'an empty database'} to {after} ({where})"
        )


@app.command("current")
@cli_errors
def current_command() -> None:
    """Show the ledger's schema revision and the one this hub needs."""
    settings = _settings()
    with ledger_engine(settings) as engine:
        current = current_revision(engine)
        missing = missing_revisions(engine)
    head = head_revision()
    out = console()
    out.print(f"ledger:   {describe_database(settings)}")
    out.print(f"current:  {current or 'none (empty database)'}")
    out.print(f"required: {head}")
    if not missing:
        out.print("[green]✓[/] up to date")
    else:
        out.print("[yellow]![/] outdated: run `hub db upgrade`")
