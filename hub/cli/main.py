"""The ``hub`` console script: builds the Typer app and runs it.

The app is built on demand (:func:`build_app`), never at import time: building loads plugins,
which may add commands (``hub_register_commands``). A broken plugin costs only its own commands.
"""

from __future__ import annotations

import os
from typing import Literal

import typer

from hub.cli import db, ops, tokens, users
from hub.cli._common import console
from hub.cli.demo import demo_command
from hub.cli.diagnose import doctor_command, plugins_command
from hub.cli.intake import intake_command
from hub.cli.run import run_command
from hub.log import configure_logging, get_logger
from hub.plugins import PluginHost, create_plugin_host

__all__ = ["build_app", "main"]

log = get_logger("hub.cli")


def build_app(host: PluginHost | None = None, *, plugin_commands: bool = True) -> typer.Typer:
    """The ``hub`` app with the core commands and, unless told not to, the plugins' commands."""
    app = typer.Typer(
        name="hub",
        help="Registry hub: documents in, deliveries out, with retries and an audit trail.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode="markdown",
    )
    app.command("run")(run_command)
    app.command("demo")(demo_command)
    app.command("intake")(intake_command)
    ops.register(app)
    app.command("doctor")(doctor_command)
    app.command("plugins")(plugins_command)
    app.add_typer(db.app, name="db")
    app.add_typer(tokens.app, name="token")
    app.add_typer(users.app, name="user")
    if plugin_commands:
        _add_plugin_commands(app, host)
    return app


def _add_plugin_commands(app: typer.Typer, host: PluginHost | None) -> None:
    report = typer.Typer(
        help="Reports: monthly, daily and contract follow-up (each plugin adds its own).",
        no_args_is_help=True,
    )
    try:
        host = host or create_plugin_host()
        host.register_commands(app)
        host.register_reports(report)
        if report.registered_commands or report.registered_groups:
            app.add_typer(report, name="report")
    except Exception as exc:  # a broken plugin must not take the CLI down
        log.error("hub.cli.plugin_commands_failed", error_type=type(exc).__name__)
        console(stderr=True).print(
            f"[yellow]warning:[/] plugin commands are unavailable ({type(exc).__name__});"
            " run `hub plugins` or `hub doctor`",
            soft_wrap=True,
        )


def _baseline_logging() -> None:
    """Before settings are read: quiet (warnings and up) unless HUB_LOG_LEVEL says otherwise.
    ``hub run`` reconfigures from its settings."""
    formats: dict[str, Literal["auto", "json", "console"]] = {
        "auto": "auto",
        "json": "json",
        "console": "console",
    }
    configure_logging(
        formats.get(os.environ.get("HUB_LOG_FORMAT", "auto"), "auto"),
        os.environ.get("HUB_LOG_LEVEL", "WARNING"),
    )


def main() -> None:
    _baseline_logging()
    build_app()()


if __name__ == "__main__":
    main()
