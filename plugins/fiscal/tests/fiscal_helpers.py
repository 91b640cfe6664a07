"""Shared helpers of the fiscal plugin's end-to-end tests."""

from __future__ import annotations

import asyncio
from typing import Any

from hub.runtime import Hub
from hub.testing.factories import make_document_in, valid_cnp

FAST_RETRY = {"base_seconds": 0.01, "cap_seconds": 0.05, "max_attempts": 4}


def fine_metadata(**overrides: Any) -> dict[str, Any]:
    fiscal = {
        "issuer": "Poliția Locală Timișoara",
        "series": "PLT",
        "number": "0012345",
        "amount": "150.00",
        "legal_basis": "HCL 371/2007 art. 4 lit. b",
        "communicated_on": "2026-11-20",
    }
    fiscal.update(overrides)
    return {"fiscal": fiscal}


def fine_in(**overrides: Any) -> Any:
    """A fine brought to the counter by the person fined (the sender is the offender)."""
    data: dict[str, Any] = {
        "kind": "amenda",
        "channel": "ghiseu",
        "subject": "Proces-verbal de contravenție PLT 0012345",
        "metadata": fine_metadata(),
    }
    data.update(overrides)
    return make_document_in(**data)


def company_offender() -> dict[str, Any]:
    return {"type": "pj", "name": "Exemplu Test SRL", "cui": "RO18547290"}


def person_offender(serial: int = 777) -> dict[str, Any]:
    return {"type": "pf", "name": "Ana Test", "cnp": valid_cnp(serial)}


async def settled(hub: Hub, document_id: str, timeout: float = 15.0) -> dict[str, Any]:
    """Deliveries of the document by (connector, target) once none is still moving."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        rows = await hub.runner.read(hub.ledger.deliveries_of, document_id)
        if rows and all(r["state"] in ("delivered", "dead", "cancelled") for r in rows):
            return {(r["connector"], r["target"]): r for r in rows} | {
                r["connector"]: r for r in rows
            }
        if asyncio.get_running_loop().time() > deadline:
            states = [(r["connector"], r["state"], r["last_error"]) for r in rows]
            raise AssertionError(f"deliveries still open: {states}")
        await asyncio.sleep(0.02)


def own_plugins() -> dict[str, Any]:
    """``make_hub`` arguments that load the core's connectors and this plugin only, so these
    tests do not depend on other plugins being installed or importable."""
    import hub_fiscal.plugin

    import hub.builtin.email
    import hub.builtin.noop
    import hub.builtin.webhook

    return {
        "entry_points": False,
        "plugins": (hub.builtin.webhook, hub.builtin.noop, hub.builtin.email, hub_fiscal.plugin),
    }
