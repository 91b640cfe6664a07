"""``hub demo``: the hub on this machine with simulated remote systems and sample documents."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from hub.cli._common import cli_errors, console


@cli_errors
def demo_command(
    directory: Path | None = typer.Option(
        None, "--dir", help="Keep the demo's SQLite ledger here (default: a temporary folder)"
    ),
    seconds: float | None = typer.Option(
        None, "--for", min=1, help="Stop by itself after this many seconds (default: Ctrl-C)"
    ),
    port: int = typer.Option(8080, "--port", min=0, max=65535, help="API port (0 = any free)"),
) -> None:
    """Run the whole hub locally, with simulators and sample documents.

    A SQLite ledger in a temporary folder, the remote systems simulated on 127.0.0.1, the API and
    the workers running, ~20 sample documents sent through the HTTP API, and a live table of their
    deliveries. Exits 0 when every sample document was delivered, 1 otherwise.
    """
    from hub.demo.runner import DemoOptions, run_demo

    out = console()
    outcome = asyncio.run(
        run_demo(DemoOptions(directory=directory, duration=seconds, port=port), out)
    )
    if outcome.ok:
        out.print(
            f"[green]✓[/] all {outcome.documents} sample documents delivered "
            f"({outcome.delivered}/{outcome.documents})"
        )
        return
    out.print(
        f"[red]✗[/] {outcome.delivered}/{outcome.documents} sample documents delivered; "
        "see `hub status` / `hub dead` with HUB_DATABASE_URL pointing at the demo's ledger"
    )
    raise typer.Exit(1)
