"""Bad input it must survive, end to end: each hostile message is recorded as an error with a
clear reason, the poll goes on, the good invoices around them are registered once."""

from __future__ import annotations

from collections.abc import Callable

import hostile
from hub_invoices.simulator import SUPPLIERS, EFacturaSimulator
from invoices_helpers import source_of, start_source

from hub.runtime import Hub


async def test_hostile_messages_are_errors_and_the_poll_goes_on(
    invoices_hub: Callable[..., Hub], anaf: EFacturaSimulator
) -> None:
    good_before = anaf.add_invoice(SUPPLIERS[1], number="OK 1")
    cases = {
        "malformed": anaf.add_invoice(xml=hostile.MALFORMED),
        "bomb": anaf.add_invoice(xml=hostile.XML_BOMB),
        "xxe": anaf.add_invoice(xml=hostile.XXE),
        "not_ubl": anaf.add_invoice(xml=hostile.NOT_UBL),
        "namespace": anaf.add_invoice(xml=hostile.wrong_namespace()),
        "precision": anaf.add_invoice(xml=hostile.wrong_precision()),
        "cui": anaf.add_invoice(xml=hostile.invalid_cui(), detalii_cif="31182124"),
        "detalii": anaf.add_invoice(SUPPLIERS[2], detalii_cif=SUPPLIERS[4].cui),
        "no_entries": anaf.add_invoice(zip_bytes=hostile.zip_without_entries()),
        "not_zip": anaf.add_invoice(zip_bytes=b"PK\x03\x04 definitely not a zip"),
    }
    cases["zip_bomb"] = anaf.add_invoice()
    cases["zip_bomb"].zip_override = hostile.zip_bomb(cases["zip_bomb"].id)
    good_after = anaf.add_invoice(SUPPLIERS[3], number="OK 2")
    hub = invoices_hub()
    await start_source(hub)
    assert await hub.source_runner.poll_once("efactura", source_of(hub)) is None
    await hub.source_runner.poll_once("efactura", source_of(hub))

    store = source_of(hub).store
    expected = {
        "malformed": "malformed XML",
        "bomb": "DOCTYPE or ENTITY",
        "xxe": "DOCTYPE or ENTITY",
        "not_ubl": "not a UBL invoice",
        "namespace": "wrong namespace",
        "precision": "more than 2 decimals",
        "cui": "supplier CUI is not a valid CUI",
        "detalii": "differs from cif_emitent",
        "no_entries": "ZIP has no",
        "not_zip": "not a valid ZIP",
        "zip_bomb": "ZIP bomb",
    }
    for name, msg in cases.items():
        row = await hub.runner.read(store.get_message, msg.id)
        assert row is not None, name
        assert row["state"] == "error", (name, row["state"], row["error"])
        assert expected[name] in row["error"], (name, row["error"])
        assert row["zip_sha256"], name  # archived before parsing, even when hostile
        assert "passwd" not in row["error"] and "root:" not in row["error"]
    docs = await hub.runner.read(hub.ledger.find_documents, kind="factura", limit=50)
    assert sorted(d.external_id for d in docs) == sorted([good_before.id, good_after.id])
    # A third poll downloads nothing and registers nothing again.
    downloads = anaf.requests["download"]
    await hub.source_runner.poll_once("efactura", source_of(hub))
    assert anaf.requests["download"] == downloads
    assert await hub.runner.read(hub.ledger.count_documents) == 2
    errors = await hub.runner.read(store.list_messages, "error", 50)
    assert len(errors) == len(cases)
    status = await source_of(hub).status()
    assert status["errors_today"] == len(cases)
