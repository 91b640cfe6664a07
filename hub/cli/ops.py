"""Operator commands on the ledger: ``status``, ``dead``, ``replay``, ``cancel``.

Replay and cancel select with :class:`~hub.db.ledger.DeliveryFilter`, confirm with the count, and
apply in chunks of :data:`CHUNK` (one transaction each) so a large replay neither holds the
SQLite writer for long nor loses its progress on an interruption. Every change is an event row
with the actor ``cli:<os user>``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hub.cli._common import (
    actor,
    cli_errors,
    console,
    fail,
    format_age,
    format_ts,
    jsonable,
    now,
    open_hub,
    parse_when,
)
from hub.db.ledger import DeliveryFilter
from hub.models import DeliveryState

__all__ = ["CHUNK", "register"]

CHUNK = 500
_PAST = {"replay": "replayed", "cancel": "cancelled"}

#: Columns of ``hub status``: (heading, key in connector_stats()).
STATUS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("pending", DeliveryState.PENDING.value),
    ("waiting", DeliveryState.WAITING.value),
    ("in flight", DeliveryState.IN_FLIGHT.value),
    ("delivered", DeliveryState.DELIVERED.value),
    ("retrying", DeliveryState.RETRY_SCHEDULED.value),
    ("dead", DeliveryState.DEAD.value),
    ("cancelled", DeliveryState.CANCELLED.value),
)


def status_command(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
) -> None:
    """Deliveries per connector and state, the oldest open delivery, and the sources."""
    with open_hub() as hub:
        stats = hub.ledger.connector_stats()
        sources = hub.ledger.source_states()
        known = sorted(hub.connectors)
        source_names = sorted(hub.sources)
    empty = {key: 0 for _, key in STATUS_COLUMNS} | {"oldest_open_age": 0.0}
    for name in known:
        stats.setdefault(name, dict(empty))
    by_source = {s["source"]: s for s in sources}
    for name in source_names:
        by_source.setdefault(name, {"source": name})
    if as_json:
        payload = {
            "connectors": {name: stats[name] for name in sorted(stats)},
            "sources": [jsonable(by_source[name]) for name in sorted(by_source)],
        }
        typer.echo(json.dumps(payload, indent=2, sort_keys=True))
        return
    out = console()
    table = Table(title="Deliveries by connector")
    table.add_column("connector")
    for heading, _ in STATUS_COLUMNS:
        table.add_column(heading, justify="right")
    table.add_column("oldest open", justify="right")
    for name in sorted(stats):
        st = stats[name]
        cells = []
        for _, key in STATUS_COLUMNS:
            value = int(st.get(key, 0))
            style = "red" if key == "dead" and value else ""
            cells.append(f"[{style}]{value}[/]" if style else str(value))
        label = name if name in known else f"{name} [dim](not loaded)[/]"
        table.add_row(label, *cells, format_age(st.get("oldest_open_age")))
    out.print(table)
    if not by_source:
        out.print("[dim]No sources.[/]")
        return
    src = Table(title="Sources")
    for col in ("source", "last poll", "last success", "documents", "state", "last error"):
        src.add_column(col, justify="right" if col == "documents" else "left")
    t = now()
    for name in sorted(by_source):
        s = by_source[name]
        paused_until = s.get("paused_until")
        if s.get("paused") or (paused_until and paused_until > t):
            state = "[yellow]paused[/]"
            if paused_until:
                state += f" until {format_ts(paused_until)}"
        elif s.get("last_error"):
            state = "[red]failing[/]"
        elif s.get("last_poll_at") is None:
            state = "[dim]not polled yet[/]"
        else:
            state = "[green]ok[/]"
        src.add_row(
            name,
            format_ts(s.get("last_poll_at")),
            format_ts(s.get("last_success_at")),
            str(s.get("documents_total") or 0),
            state,
            s.get("last_error") or "",
        )
    out.print(src)
    for name in sorted(by_source):
        details = source_details(by_source[name].get("cursor"))
        if details:
            out.print(f"[bold]{escape(name)}[/]: {escape(details)}", soft_wrap=True)


def source_details(cursor: Any) -> str:
    """One line from what a source publishes about itself (its cursor's ``status``)."""
    status = cursor.get("status") if isinstance(cursor, dict) else None
    if not isinstance(status, dict):
        return ""
    parts = []
    for key, value in status.items():
        if value is None or key == "last_success_at":
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        parts.append(f"{key.replace('_', ' ')}: {value}")
    return "; ".join(parts)


def dead_command(
    connector: str | None = typer.Option(None, "--connector", "-c", help="Only this connector"),
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="Show at most this many"),
) -> None:
    """List dead letters (newest last) with the reason each delivery gave up."""
    with open_hub() as hub:
        rows = hub.ledger.list_deliveries(
            state=DeliveryState.DEAD.value, connector=connector, limit=limit
        )
    out = console()
    if not rows:
        out.print("[green]✓[/] no dead letters" + (f" for {connector}" if connector else ""))
        return
    table = Table(title=f"Dead letters ({len(rows)} shown)")
    for col in ("id", "connector", "target", "document", "attempts", "since", "reason"):
        table.add_column(col, justify="right" if col in ("id", "attempts") else "left")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["connector"],
            r["target"] or "",
            r["document_id"],
            str(r["attempts"]),
            format_ts(r["updated_at"]),
            r["last_error"] or "",
        )
    out.print(table)
    out.print("Replay with [bold]hub replay ID…[/] or [bold]hub replay --connector NAME[/].")


def _apply(
    verb: str,
    ids: Sequence[int],
    action: Callable[[Sequence[int], str, str | None], int],
    reason: str | None,
) -> int:
    who = actor()
    changed = 0
    out = console()
    with Progress(
        TextColumn(f"{verb.capitalize()}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
        transient=True,
        disable=not out.is_terminal,
    ) as progress:
        task = progress.add_task(verb, total=len(ids))
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i : i + CHUNK]
            changed += action(chunk, who, reason)
            progress.advance(task, len(chunk))
    return changed


def _operate(
    *,
    verb: str,
    ids: list[int] | None,
    flt: DeliveryFilter,
    yes: bool,
    reason: str | None,
    pick: Callable[[Any], Callable[[Sequence[int], str, str | None], int]],
) -> None:
    with open_hub() as hub:
        selected = hub.ledger.select_delivery_ids(flt)
        out = console()
        if ids:
            missing = sorted(set(ids) - set(selected))
            if missing:
                shown = ", ".join(str(i) for i in missing[:20])
                out.print(
                    f"[yellow]![/] {len(missing)} id(s) skipped (unknown or not in a state that"
                    f" can be {_PAST[verb]}): {shown}{' …' if len(missing) > 20 else ''}"
                )
        if not selected:
            out.print(f"Nothing to {verb}.")
            return
        states = "/".join(flt.states)
        if not yes:
            typer.confirm(f"{verb.capitalize()} {len(selected)} {states} deliveries?", abort=True)
        changed = _apply(verb, selected, pick(hub.ledger), reason)
    out.print(f"[green]✓[/] {changed} deliveries {_PAST[verb]} (actor {actor()})")


_IDS = typer.Argument(None, help="Delivery ids (as `hub dead` shows them)", show_default=False)
_CONNECTOR = typer.Option(None, "--connector", "-c", help="Only deliveries of this connector")
_SINCE = typer.Option(
    None, "--since", help="Last changed at or after this ISO date/time (local time without a zone)"
)
_UNTIL = typer.Option(None, "--until", help="Last changed before this ISO date/time")
_YES = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation")
_REASON = typer.Option(None, "--reason", help="Why, for the audit trail (no personal data)")


def replay_command(
    ids: list[int] | None = _IDS,
    connector: str | None = _CONNECTOR,
    since: str | None = _SINCE,
    until: str | None = _UNTIL,
    yes: bool = _YES,
    reason: str | None = _REASON,
) -> None:
    """Send dead letters again: back to pending with a fresh attempt budget.

    Without ids, every dead letter that matches the filters is replayed. Ids may also name
    cancelled deliveries.
    """
    states = [DeliveryState.DEAD.value]
    if ids:
        states.append(DeliveryState.CANCELLED.value)
    flt = DeliveryFilter(
        ids=ids or None,
        connector=connector,
        states=tuple(states),
        since=parse_when(since, "--since"),
        until=parse_when(until, "--until"),
    )
    _operate(
        verb="replay", ids=ids, flt=flt, yes=yes, reason=reason, pick=lambda ledger: ledger.replay
    )


def cancel_command(
    ids: list[int] | None = _IDS,
    connector: str | None = _CONNECTOR,
    since: str | None = _SINCE,
    until: str | None = _UNTIL,
    yes: bool = _YES,
    reason: str | None = _REASON,
) -> None:
    """Give up on deliveries that are not delivered yet (pending, waiting, retrying or dead).

    Needs ids or at least one filter, so a bare `hub cancel` cannot cancel everything.
    """
    if not (ids or connector or since or until):
        fail("give delivery ids or a filter (--connector, --since, --until)")
    flt = DeliveryFilter(
        ids=ids or None,
        connector=connector,
        states=(
            DeliveryState.PENDING.value,
            DeliveryState.WAITING.value,
            DeliveryState.RETRY_SCHEDULED.value,
            DeliveryState.DEAD.value,
        ),
        since=parse_when(since, "--since"),
        until=parse_when(until, "--until"),
    )
    _operate(
        verb="cancel", ids=ids, flt=flt, yes=yes, reason=reason, pick=lambda ledger: ledger.cancel
    )


def register(app: typer.Typer) -> None:
    app.command("status")(cli_errors(status_command))
    app.command("dead")(cli_errors(dead_command))
    app.command("replay")(cli_errors(replay_command))
    app.command("cancel")(cli_errors(cancel_command))
