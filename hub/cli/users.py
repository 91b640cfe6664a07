"""``hub user``: dashboard accounts. Passwords are read from a hidden prompt (or one line of
standard input with ``--password-stdin``), hashed with argon2id, and never printed."""

from __future__ import annotations

import sys

import typer
from rich.table import Table

from hub.cli._common import actor, cli_errors, console, fail, format_ts, open_hub

__all__ = ["app"]

app = typer.Typer(
    help="Dashboard users: create, list, disable, enable, passwd.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

_STDIN_HELP = "Read the password from one line of standard input (for scripts)"


def _read_password(from_stdin: bool) -> str:
    from hub.auth.passwords import PasswordPolicyError, check_policy

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        check_policy(password)
    except PasswordPolicyError as exc:
        fail(str(exc))
    return password


@app.command("create")
@cli_errors
def create_command(
    name: str = typer.Argument(..., help="User name (letters, digits, . _ @ -)"),
    role: str = typer.Option(..., "--role", help="viewer, operator, admin or unit"),
    unit: str | None = typer.Option(None, "--unit", help="The unit's code (role unit only)"),
    pii: bool = typer.Option(False, "--pii", help="May see personal data unmasked (audited)"),
    oidc_subject: str | None = typer.Option(
        None,
        "--oidc-subject",
        help="The identity provider's `sub` for this person (OpenID Connect sign-in); then no"
        " password is asked unless --password-stdin",
    ),
    password_stdin: bool = typer.Option(False, "--password-stdin", help=_STDIN_HELP),
) -> None:
    """Create a dashboard user with a password (or an OpenID Connect subject)."""
    from hub.auth.passwords import hash_password
    from hub.auth.users import UserError, UserStore

    hashed = None
    if oidc_subject is None or password_stdin:
        hashed = hash_password(_read_password(password_stdin))
    if oidc_subject is not None and not 0 < len(oidc_subject) <= 255:
        fail("--oidc-subject: 1 to 255 characters")
    with open_hub() as hub:
        store = UserStore(hub.writer, hub.reader)
        try:
            store.create(name, role, hashed, pii=pii, unit=unit, oidc_subject=oidc_subject)
        except UserError as exc:
            fail(str(exc))
        hub.ledger.record_event("user_created", actor(), f"user {name} role {role}")
    console().print(f"[green]✓[/] user [bold]{name}[/] created with role {role}")


@app.command("list")
@cli_errors
def list_command() -> None:
    """List users (never their password hashes)."""
    from hub.auth.users import UserStore

    with open_hub() as hub:
        rows = UserStore(hub.writer, hub.reader).list_users()
    table = Table(title="Dashboard users")
    for col in ("name", "role", "unit", "pii", "state", "last sign-in"):
        table.add_column(col)
    for r in rows:
        state = "[red]disabled[/]" if r["disabled"] else "[green]active[/]"
        if not r["disabled"] and r["locked_until"]:
            state = f"[yellow]locked until {format_ts(r['locked_until'])}[/]"
        table.add_row(
            r["name"],
            r["role"],
            r["unit"] or "",
            "yes" if r["pii"] else "",
            state,
            format_ts(r["last_login_at"]),
        )
    console().print(table)


def _set_disabled(name: str, disabled: bool) -> None:
    from hub.auth.users import UserError, UserStore

    with open_hub() as hub:
        try:
            UserStore(hub.writer, hub.reader).set_disabled(name, disabled)
        except UserError as exc:
            fail(str(exc))
        action = "user_disabled" if disabled else "user_enabled"
        hub.ledger.record_event(action, actor(), f"user {name}")


@app.command("disable")
@cli_errors
def disable_command(name: str = typer.Argument(..., help="User name")) -> None:
    """Disable a user: their sessions end at once."""
    _set_disabled(name, True)
    console().print(f"[green]✓[/] user [bold]{name}[/] disabled; their sessions are revoked")


@app.command("enable")
@cli_errors
def enable_command(name: str = typer.Argument(..., help="User name")) -> None:
    """Enable a user again (also lifts a lockout)."""
    _set_disabled(name, False)
    console().print(f"[green]✓[/] user [bold]{name}[/] enabled")


@app.command("passwd")
@cli_errors
def passwd_command(
    name: str = typer.Argument(..., help="User name"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help=_STDIN_HELP),
) -> None:
    """Set a new password: lifts a lockout and signs the user out everywhere."""
    from hub.auth.passwords import hash_password
    from hub.auth.users import UserError, UserStore

    password = _read_password(password_stdin)
    with open_hub() as hub:
        try:
            UserStore(hub.writer, hub.reader).set_password(name, hash_password(password))
        except UserError as exc:
            fail(str(exc))
        hub.ledger.record_event("user_password_set", actor(), f"user {name}")
    console().print(f"[green]✓[/] password of [bold]{name}[/] changed; their sessions are revoked")
