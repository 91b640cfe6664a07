"""End to end: a real Hub polling the simulated ANAF over HTTP on 127.0.0.1 — list, download,
archive, parse, register (intake → ledger → routing), duplicates, errors, quotas, restarts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub_invoices.simulator import SUPPLIERS, EFacturaSimulator
from hub_invoices.tables import archive
from invoices_helpers import source_of, start_source
from sqlalchemy import func, select

from hub.runtime import Hub


async def poll(hub: Hub) -> float | None:
    """One poll through the hub's own source runner (documents + cursor in one transaction)."""
    src = source_of(hub)
    return await hub.source_runner.poll_once("efactura", src)


async def messages(hub: Hub, state: str | None = None) -> list[dict[str, Any]]:
    src = source_of(hub)
    rows: list[dict[str, Any]] = await hub.runner.read(src.store.list_messages, state, 5000)
    return rows


async def test_invoices_become_registered_documents(
    invoices_hub: Callable[..., Hub], anaf: EFacturaSimulator
) -> None:
    anaf.add_invoice(SUPPLIERS[1], number="DBC 100", contract_ref="CTR-DT-12/2026")
    anaf.add_invoice(SUPPLIERS[3], number="PC 7", order_ref="CMD-4410", credit_note=True)
    anaf.add_error_message()
    hub = invoices_hub(
        routes=[
            {"contract_prefix": "CTR-DT", "department": "DT"},
            {"supplier_cui": SUPPLIERS[3].cui, "department": "DE"},
        ]
    )
    await start_source(hub)
    assert await poll(hub) is None
    docs = await hub.runner.read(hub.ledger.find_documents, kind="factura", limit=10)
    assert len(docs) == 2
    by_number = {d.metadata["efactura"]["number"]: d for d in docs}
    inv = by_number["DBC 100"]
    assert inv.channel.value == "efactura" and inv.source == "efactura"
    assert inv.sender is not None and inv.sender.type == "pj"
    assert inv.sender.cui == SUPPLIERS[1].cui and inv.sender.name == SUPPLIERS[1].name
    assert inv.department == "DT"
    assert inv.subject.startswith("Factură DBC 100 din ")
    assert [a.content_type for a in inv.attachments] == ["application/zip", "application/xml"]
    meta = inv.metadata["efactura"]
    assert (
        meta["payee_iban"] == SUPPLIERS[1].iban and meta["contract_reference"] == "CTR-DT-12/2026"
    )
    assert meta["buyer_cui"] == anaf.cif and meta["currency"] == "RON"
    credit = by_number["PC 7"]
    assert credit.subject.startswith("Notă de credit PC 7") and credit.department == "DE"
    assert credit.metadata["efactura"]["type_code"] == "381"
    # The error message is recorded and visible, not registered.
    errors = await messages(hub, "anaf_error")
    assert len(errors) == 1 and "BR-RO-010" in errors[0]["error"]
    # Next poll confirms the registrations; nothing is downloaded again.
    downloads = anaf.requests["download"]
    await poll(hub)
    assert {r["state"] for r in await messages(hub, "registered")} == {"registered"}
    assert len(await messages(hub, "registered")) == 2
    assert anaf.requests["download"] == downloads
    assert len(await hub.runner.read(hub.ledger.find_documents, kind="factura", limit=10)) == 2
    with hub.writer.connect() as conn:
        assert conn.execute(select(func.count()).select_from(archive)).scalar() == 3


async def test_duplicate_invoice_is_flagged_not_registered_twice(
    invoices_hub: Callable[..., Hub], anaf: EFacturaSimulator
) -> None:
    first = anaf.add_invoice(SUPPLIERS[0], number="TUT 555", seed=1)
    second = anaf.add_invoice(SUPPLIERS[0], number="TUT 555", seed=2)  # sent again
    other = anaf.add_invoice(SUPPLIERS[2], number="TUT 555", seed=3)  # same number, other supplier
    hub = invoices_hub()
    await start_source(hub)
    await poll(hub)
    await poll(hub)
    docs = await hub.runner.read(hub.ledger.find_documents, kind="factura", limit=10)
    assert sorted(d.external_id for d in docs) == sorted([first.id, other.id])
    dup = await hub.runner.read(source_of(hub).store.get_message, second.id)
    assert dup is not None and dup["state"] == "duplicate" and dup["duplicate_of"] == first.id
    assert "duplicate of message" in dup["error"]


async def test_source_survives_a_restart_without_downloading_again(
    invoices_hub: Callable[..., Hub], anaf: EFacturaSimulator
) -> None:
    anaf.generate(30, seed=3)
    settings = anaf.settings()
    hub = invoices_hub(**settings)
    await start_source(hub)
    await poll(hub)
    first_downloads = anaf.requests["download"]
    assert first_downloads == 30
    await hub.aclose()
    # The seeded refresh token was used up by the first hub: the restarted one must use the
    # stored (encrypted) pair — and the daily counters it persisted.
    anaf.revoke_access_tokens()
    again = invoices_hub(**settings)
    await start_source(again)
    await poll(again)
    await poll(again)
    assert anaf.requests["download"] == first_downloads
    states = {r["state"] for r in await messages(again)}
    assert states <= {"registered", "anaf_error"}
    status = await source_of(again).status()
    assert status["quota_used_today"]["paged"] == anaf.list_calls_today("paged")
    assert status["backlog"] == 0
    n_docs = await again.runner.read(again.ledger.count_documents)
    assert n_docs == len(await messages(again, "registered"))


async def test_every_page_is_read(
    invoices_hub: Callable[..., Hub], anaf: EFacturaSimulator
) -> None:
    anaf.page_size = 20  # ANAF's is 500: the same walk, cheaper
    anaf.generate(103, seed=5, errors=0.0, credit_notes=0.0)
    hub = invoices_hub()
    await start_source(hub)
    await poll(hub)
    assert anaf.requests["paged"] == 7  # filter P: 103 messages, 20 a page; filter E: none
    assert len(await messages(hub, "ready")) == 103
    assert anaf.requests["download"] == 103
    await poll(hub)
    assert await hub.runner.read(hub.ledger.count_documents) == len(
        await messages(hub, "registered")
    )
