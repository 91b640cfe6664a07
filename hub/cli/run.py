"""``hub run``: the API and the workers in one process, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio

import typer

from hub.cli._common import cli_errors
from hub.log import configure_logging, get_logger
from hub.runtime import Hub

__all__ = ["run_command"]

log = get_logger("hub.cli")


async def _run(api: bool, workers: bool) -> None:
    from hub.serve import serve  # uvicorn: not for every CLI command

    hub = Hub.create()  # raises SchemaOutdatedError before anything starts
    try:
        configure_logging(hub.settings.log_format, hub.settings.log_level)
        await serve(hub, api=api, workers=workers)
    finally:
        await hub.aclose()


@cli_errors
def run_command(
    no_api: bool = typer.Option(False, "--no-api", help="Workers only: no HTTP API"),
    no_workers: bool = typer.Option(
        False, "--no-workers", help="HTTP API only: nothing is dispatched from this process"
    ),
) -> None:
    """Serve the HTTP API and dispatch deliveries (and poll sources) until stopped.

    SIGTERM or Ctrl-C stops taking new work, lets deliveries in flight finish, and exits 0.
    The ledger's schema must be current (`hub db upgrade`).
    """
    asyncio.run(_run(api=not no_api, workers=not no_workers))
