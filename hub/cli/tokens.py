"""``hub token``: API tokens. The plaintext is shown once, at creation; the ledger keeps a hash."""

from __future__ import annotations

import re

import typer
from rich.table import Table
from sqlalchemy.exc import IntegrityError

from hub.cli._common import actor, cli_errors, console, fail, format_ts, open_hub

__all__ = ["app"]

app = typer.Typer(
    help="API tokens: create, list, revoke.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


@app.command("create")
@cli_errors
def create_command(
    name: str = typer.Option(..., "--name", help="Who or what uses the token (unique)"),
    scopes: list[str] = typer.Option(
        ...,
        "--scope",
        help="A scope the token grants (repeat for several): intake, read, operator, metrics,"
        " pii, admin or unit",
    ),
    unit: str | None = typer.Option(
        None, "--unit", help="With --scope unit: the unit code (units file) the token serves"
    ),
) -> None:
    """Create a token and print it once: store it now, it cannot be shown again."""
    if not _NAME.match(name):
        fail("--name: use letters, digits and . _ @ - (at most 64 characters)")
    from hub.api.auth import SCOPES  # fastapi is a heavy import for the other commands

    unknown = sorted(set(scopes) - SCOPES)
    if unknown:
        fail(f"--scope: unknown scope(s) {', '.join(unknown)} (known: {', '.join(sorted(SCOPES))})")
    if ("unit" in scopes) != (unit is not None):
        fail("--scope unit and --unit CODE go together (a unit token serves exactly one unit)")
    if unit is not None and set(scopes) != {"unit"}:
        fail("--scope unit cannot be combined with other scopes (it would widen what a unit sees)")
    with open_hub() as hub:
        if unit is not None:
            from hub.units import load_units

            if unit not in load_units(hub.settings.units_file):
                fail(f"--unit: no unit {unit!r} in the units file ({hub.settings.units_file})")
        try:
            token = hub.ledger.create_token(name, scopes, unit=unit)
        except IntegrityError:
            fail(f"a token named {name!r} already exists (revoked tokens keep their name)")
        bound = f" for unit {unit}" if unit else ""
        hub.ledger.record_event("token_created", actor(), f"token {name}{bound}")
    out = console()
    out.print(
        f"[green]✓[/] token [bold]{name}[/] created with scopes {', '.join(sorted(set(scopes)))}."
        " It is shown only this once:"
    )
    out.print(token, soft_wrap=True, markup=False)


@app.command("list")
@cli_errors
def list_command() -> None:
    """List tokens (names and scopes; never the tokens themselves)."""
    with open_hub() as hub:
        rows = hub.ledger.list_tokens()
    table = Table(title="API tokens")
    for col in ("name", "scopes", "created", "revoked"):
        table.add_column(col)
    for r in rows:
        revoked = r["revoked_at"] is not None
        table.add_row(
            r["name"],
            r["scopes"].replace(",", ", ") + (f" ({r['unit']})" if r.get("unit") else ""),
            format_ts(r["created_at"]),
            f"[red]{format_ts(r['revoked_at'])}[/]" if revoked else "[green]active[/]",
        )
    console().print(table)


@app.command("revoke")
@cli_errors
def revoke_command(name: str = typer.Argument(..., help="Name of the token to revoke")) -> None:
    """Revoke a token at once: requests carrying it are refused from now on."""
    with open_hub() as hub:
        if not hub.ledger.revoke_token(name):
            fail(f"no active token named {name!r}")
        hub.ledger.record_event("token_revoked", actor(), f"token {name}")
    console().print(f"[green]✓[/] token [bold]{name}[/] revoked")
