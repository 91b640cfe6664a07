"""``hub postal …`` (manifests, returned confirmation cards) and ``hub report postal``.

* ``hub postal manifest [--day D] [--network posta_romana|posta_militara] --out DIR`` closes the
  day (the queued post items go on its manifests) and writes each manifest as PDF and CSV;
* ``hub postal confirm DISPATCH|S10 --date D --signer NAME --card FILE [--outcome …]`` records a
  returned confirmation-of-receipt card, like ``POST /api/v1/dispatches/{id}/confirmation``;
* ``hub report postal --month YYYY-MM [--json]``: volumes, costs and the contract's ceiling.
"""

from __future__ import annotations

import asyncio
import base64
import json
import mimetypes
from datetime import date, datetime
from pathlib import Path

import typer
from rich.table import Table

from hub.cli._common import actor, cli_errors, console, fail
from hub.errors import InputError
from hub.runtime import Hub
from hub_postal.dispatches import ConfirmationIn, PostalService, postal_settings
from hub_postal.manifest import manifest_csv, manifest_pdf
from hub_postal.report import build_report, parse_month
from hub_postal.settings import SERVICE_LABELS, Network
from hub_postal.store import PostalStore, local_day

__all__ = ["postal_app", "register_report"]

postal_app = typer.Typer(help="Outgoing correspondence: manifests and confirmation cards.")


@postal_app.command("manifest")
@cli_errors
def manifest_command(
    out: Path = typer.Option(..., "--out", help="Folder for the PDF and CSV files"),
    day: str | None = typer.Option(None, "--day", help="Day to close (YYYY-MM-DD; today)"),
    network: Network = typer.Option(Network.POSTA_ROMANA, "--network", help="Postal network"),
) -> None:
    """Close a day: put the queued post items on its manifests and write them as PDF and CSV."""
    if network == Network.COURIER:
        fail("courier shipments have AWBs, not a manifest: use posta_romana or posta_militara")
    try:
        when = date.fromisoformat(day) if day else None
    except ValueError:
        fail("--day is written YYYY-MM-DD")

    async def run() -> list[Path]:
        hub = Hub.create()
        try:
            service = PostalService(hub)
            the_day = when or local_day(hub.ledger.clock())
            await service.store.close_day(the_day, network.value, actor())
            written: list[Path] = []
            out.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - a CLI, nothing else runs
            for m in await service.store.manifests(the_day, network.value):
                found = await service.store.manifest(int(m["id"]))
                assert found is not None
                head, items = found
                stem = f"borderou-{the_day}-{network.value}-{head['service']}-{head['sequence']}"
                pdf = out / f"{stem}.pdf"
                pdf.write_bytes(manifest_pdf(service.settings, head, items))
                csv_path = out / f"{stem}.csv"
                csv_path.write_bytes(manifest_csv(head, items).encode("utf-8-sig"))
                written += [pdf, csv_path]
            return written
        finally:
            await hub.aclose()

    written = asyncio.run(run())
    con = console()
    for path in written:
        con.print(str(path))
    con.print(f"{len(written) // 2} manifest(s)")


@postal_app.command("confirm")
@cli_errors
def confirm_command(
    dispatch: str = typer.Argument(..., help="Dispatch id or its S10 number"),
    received: str = typer.Option(..., "--date", help="Date on the card (YYYY-MM-DD[THH:MM])"),
    signer: str | None = typer.Option(None, "--signer", help="Who signed the card"),
    card: Path | None = typer.Option(None, "--card", help="The scanned card (PDF/PNG/JPEG)"),
    outcome: str = typer.Option("delivered", "--outcome", help="delivered, refused, returned"),
) -> None:
    """Record a returned confirmation-of-receipt card (the proof becomes a hub document)."""
    try:
        when = datetime.fromisoformat(received)
    except ValueError:
        fail("--date is written YYYY-MM-DD or YYYY-MM-DDTHH:MM")
    payload: dict[str, object] = {"outcome": outcome, "received_at": when, "signer": signer}
    if card is not None:
        try:
            content = card.read_bytes()
        except OSError as exc:
            fail(f"cannot read the card ({exc.strerror or type(exc).__name__})")
        ctype = mimetypes.guess_type(card.name)[0] or "application/octet-stream"
        payload["card"] = {
            "filename": card.name,
            "content_type": ctype,
            "content_base64": base64.b64encode(content).decode(),
        }
    try:
        body = ConfirmationIn.model_validate(payload)
    except ValueError as exc:
        errors = getattr(exc, "errors", None)
        msgs = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors()] if errors else []
        fail("; ".join(msgs) or "invalid card")

    async def run() -> dict[str, object]:
        hub = Hub.create()
        try:
            return await PostalService(hub).confirm(dispatch, body, actor=actor())
        finally:
            await hub.aclose()

    try:
        row = asyncio.run(run())
    except InputError as exc:
        fail(exc.message)
    outcome_info = row.get("outcome") or {}
    assert isinstance(outcome_info, dict)
    console().print(
        f"dispatch {row['id']}: {row['state']}, proof document "
        f"{outcome_info.get('proof_document_id')}"
    )


def register_report(report: typer.Typer) -> None:
    @report.command("postal")
    @cli_errors
    def postal_report(
        month: str = typer.Option(..., "--month", help="Month, YYYY-MM"),
        as_json: bool = typer.Option(False, "--json", help="JSON instead of tables"),
    ) -> None:
        """Postal contract follow-up: volumes and costs per service and department."""
        try:
            first = parse_month(month)
        except ValueError as exc:
            fail(str(exc))

        async def run() -> object:
            hub = Hub.create()
            try:
                store = PostalStore(hub.ledger, hub.runner)
                return await build_report(postal_settings(hub), store, first)
            finally:
                await hub.aclose()

        rep = asyncio.run(run())
        from hub_postal.report import MonthReport

        assert isinstance(rep, MonthReport)
        con = console()
        if as_json:
            con.print_json(json.dumps(rep.as_dict(), ensure_ascii=False))
            return
        t = Table(title=f"Corespondență expediată — {first:%m.%Y}")
        for col in ("Serviciu", "Tarif (lei)", "Trimiteri", "Cost (lei)"):
            t.add_column(col, justify="left" if col == "Serviciu" else "right")
        for s in rep.services:
            t.add_row(
                SERVICE_LABELS.get(s.key, s.key), str(s.tariff or "—"), str(s.items), str(s.cost)
            )
        t.add_row("Total", "", str(rep.total_items), str(rep.total_cost))
        con.print(t)
        d = Table(title="Pe compartimente")
        for col in ("Compartiment", "Trimiteri", "Cost (lei)"):
            d.add_column(col, justify="left" if col == "Compartiment" else "right")
        for line in rep.departments:
            d.add_row(line.key, str(line.items), str(line.cost))
        con.print(d)
        c = rep.contract
        if c is None:
            con.print("Contract: plafon sau perioadă neconfigurate (HUB_POSTAL__CONTRACT__…)")
            return
        con.print(
            f"Contract {c.number or '—'} ({c.start:%d.%m.%Y} - {c.end:%d.%m.%Y}): plafon "
            f"{c.ceiling} lei, consumat {c.spent} lei în {c.days_elapsed} din {c.days_total} "
            f"zile, estimat la final {c.projected} lei."
        )
        if c.warning:
            con.print(f"[bold red]Atenție:[/] {c.warning}")
