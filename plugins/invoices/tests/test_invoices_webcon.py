"""The whole way: ``hub run``'s workers poll the simulated ANAF, and each invoice is registered
in the simulated WEBCON through the normal deliveries (routing rule on kind ``factura``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from hub_invoices.simulator import SUPPLIERS, EFacturaSimulator
from hub_webcon.simulator import WebconSimulator

from hub.runtime import Hub

RULES = {
    "default_after": "webcon",
    "rule": [
        {
            "name": "invoices",
            "kinds": ["factura"],
            "department": "DE",
            "destinations": [{"connector": "webcon"}, {"connector": "noop"}],
        }
    ],
    "fallback": {"destinations": [{"connector": "noop"}]},
}


async def test_invoices_are_registered_in_webcon(
    make_hub: Callable[..., Hub], anaf: EFacturaSimulator
) -> None:
    a = anaf.add_invoice(SUPPLIERS[0], contract_ref="CTR-DT-9/2026")
    b = anaf.add_invoice(SUPPLIERS[1])
    anaf.add_error_message()
    async with WebconSimulator() as webcon:
        hub = make_hub(
            rules=RULES,
            overrides={
                "invoices": anaf.settings(
                    interval_seconds=0.2,
                    routes=[{"contract_prefix": "CTR-DT", "department": "DT"}],
                ),
                "webcon": webcon.settings(search_index_lag_seconds=0),
            },
        )
        workers = asyncio.create_task(hub.run_workers())
        try:
            deadline = asyncio.get_running_loop().time() + 30
            while True:
                docs = await hub.runner.read(hub.ledger.find_documents, kind="factura", limit=10)
                if len(docs) == 2 and all(d.registration_number for d in docs):
                    break
                assert asyncio.get_running_loop().time() < deadline, [
                    (d.external_id, d.registration_number) for d in docs
                ]
                await asyncio.sleep(0.05)
        finally:
            hub.stop()
            await workers
    by_id = {d.external_id: d for d in docs}
    assert set(by_id) == {a.id, b.id}
    assert by_id[a.id].department == "DT" and by_id[b.id].department == "DE"
    assert len(webcon.elements) == 2
    for d in docs:
        rows = {r["connector"]: r for r in await hub.runner.read(hub.ledger.deliveries_of, d.id)}
        assert rows["webcon"]["state"] == "delivered"
    # Each element carries the invoice's two attachments (the ZIP and the XML).
    assert all(len(el.attachments) == 2 for el in webcon.elements.values())
