"""``hub invoices …``: the one-time ANAF login, the source's status and its messages.

``hub invoices login`` is how a person holding the city hall's qualified certificate authorizes
the hub once a year: open the printed URL in a browser with the certificate, consent, copy the
``code`` from the page ANAF redirects to, and paste it here (hidden). The hub exchanges it for an
access/refresh pair and stores both encrypted. Tokens obtained elsewhere can be pasted instead
(``--paste-tokens``). Tokens are never printed.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import typer
from rich.table import Table

from hub.cli._common import cli_errors, console, fail, format_ts, jsonable, open_hub
from hub.runtime import Hub
from hub_invoices.oauth import ACCESS_TTL, REFRESH_TTL, TokenPair, authorization_url
from hub_invoices.source import SOURCE, EFacturaSource
from hub_invoices.tables import MESSAGE_STATES

__all__ = ["app"]

app = typer.Typer(
    help="RO e-Factura invoice robot: ANAF login, status, messages.", no_args_is_help=True
)


def _source(hub: Hub) -> EFacturaSource:
    src = hub.sources.get(SOURCE)
    if not isinstance(src, EFacturaSource):
        fail("the efactura source is not loaded (is hub-invoices installed and enabled?)", 2)
    missing = src.invoices.missing()
    if missing:
        fail("e-Factura is not configured: set " + ", ".join(missing), 2)
    return src


@app.command("login")
@cli_errors
def login(
    code: str | None = typer.Option(
        None, "--code", help="The code from ANAF's redirect (prompted, hidden, when left out)"
    ),
    paste_tokens: bool = typer.Option(
        False, "--paste-tokens", help="Paste an access and a refresh token instead (hidden)"
    ),
) -> None:
    """Authorize the hub at ANAF (once; again before the refresh token's 365 days run out)."""
    with open_hub() as hub:
        src = _source(hub)
        settings = src.invoices

        async def run() -> str:
            await src.start()
            assert src.tokens is not None
            if paste_tokens:
                access = typer.prompt("Access token", hide_input=True).strip()
                refresh = typer.prompt("Refresh token", hide_input=True).strip()
                if not access or not refresh:
                    fail("both tokens are needed", 1)
                now = time.time()
                await src.tokens.store_pair(
                    TokenPair(access, refresh, now + ACCESS_TTL, now + REFRESH_TTL)
                )
                return "pasted tokens stored (encrypted)"
            the_code = code
            if not the_code:
                out = console()
                out.print("1. On a computer with the qualified certificate, open:")
                out.print(f"   {authorization_url(settings)}", soft_wrap=True)
                out.print("2. Consent; ANAF redirects to the callback with ?code=…")
                the_code = typer.prompt("3. Paste the code", hide_input=True).strip()
            pair = await src.tokens.exchange(
                {
                    "grant_type": "authorization_code",
                    "code": the_code,
                    "redirect_uri": settings.redirect_uri,
                }
            )
            await src.tokens.store_pair(pair)
            return (
                "tokens stored (encrypted); access token valid until "
                f"{format_ts(pair.access_expires_at)}, refresh token until "
                f"{format_ts(pair.refresh_expires_at)}"
            )

        message = asyncio.run(run())
    console().print(f"[green]ok:[/] {message}")


@app.command("status")
@cli_errors
def status(as_json: bool = typer.Option(False, "--json", help="Machine-readable output")) -> None:
    """Last successful poll, lag, items today, quota used today, last error, backlog."""
    with open_hub() as hub:
        src = _source(hub)

        async def run() -> dict[str, Any]:
            await src.start()
            return await src.status()

        data = asyncio.run(run())
        states = {s["source"]: s for s in hub.ledger.source_states()}
    st = states.get(SOURCE, {})
    data["last_success_at"] = st.get("last_success_at")
    data["last_error"] = st.get("last_error") or data.get("last_error")
    data["paused_until"] = st.get("paused_until")
    if as_json:
        typer.echo(json.dumps(jsonable(data), indent=2, sort_keys=True))
        return
    table = Table(title="e-Factura (source efactura)", show_header=False)
    table.add_row("last successful poll", format_ts(data["last_success_at"]))
    table.add_row("paused until", format_ts(data["paused_until"]))
    table.add_row("lag (oldest open message)", f"{data['lag_seconds']:.0f}s")
    table.add_row("registered today", str(data["registered_today"]))
    table.add_row("errors today", str(data["errors_today"]))
    table.add_row("duplicates today", str(data["duplicates_today"]))
    table.add_row("backlog", str(data["backlog"]))
    q = data["quota_used_today"]
    table.add_row("paged list calls today", f"{q['paged']} / {q['paged_limit']}")
    table.add_row("simple list calls today", f"{q['simple']} / {q['simple_limit']}")
    table.add_row(
        "messages by state", ", ".join(f"{k} {v}" for k, v in sorted(data["messages"].items()))
    )
    table.add_row("last error", data["last_error"] or "-")
    console().print(table)


@app.command("messages")
@cli_errors
def messages_command(
    state: str | None = typer.Option(
        None, "--state", help="Only this state: " + ", ".join(MESSAGE_STATES)
    ),
    limit: int = typer.Option(50, "--limit", "-n", min=1, max=1000),
) -> None:
    """Messages received from e-Factura, newest first, with their state and error."""
    if state is not None and state not in MESSAGE_STATES:
        fail(f"unknown state {state!r} (one of {', '.join(MESSAGE_STATES)})", 2)
    with open_hub() as hub:
        src = _source(hub)

        async def run() -> list[dict[str, Any]]:
            await src.start()
            rows: list[dict[str, Any]] = await src._read(src.store.list_messages, state, limit)
            return rows

        rows = asyncio.run(run())
    table = Table(title="e-Factura messages")
    for col in ("id", "type", "state", "supplier CUI", "number", "issued", "error"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["id"],
            r["tip"],
            r["state"],
            r["supplier_cui"] or "",
            r["invoice_number"] or "",
            r["issue_date"] or "",
            (r["error"] or "")[:120],
        )
    console().print(table)
