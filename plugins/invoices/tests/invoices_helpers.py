"""Helpers of the invoices plugin's tests (imported by name: a conftest is not a module to
import from)."""

from __future__ import annotations

from hub_invoices.source import EFacturaSource

from hub.runtime import Hub


def source_of(hub: Hub) -> EFacturaSource:
    src = hub.sources["efactura"]
    assert isinstance(src, EFacturaSource)
    return src


async def start_source(hub: Hub) -> EFacturaSource:
    """Start only the e-Factura source (what ``hub.start()`` does for it). The polls in these
    tests go through ``hub.source_runner.poll_once``; the dispatcher is not needed."""
    src = source_of(hub)
    await src.start()
    return src
