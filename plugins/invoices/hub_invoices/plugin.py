"""Entry point of the ``hub-invoices`` plugin (entry-point group ``hub``, name ``invoices``).

Contributes the ``efactura`` source (received invoices from RO e-Factura → documents of kind
``factura``), ``hub invoices login|status|messages``, ``GET /api/v1/invoices/{status,messages}``
and the simulated ANAF ``hub demo`` runs. Nothing is built at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hub.hookspecs import hookimpl

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter

    from hub.settings import HubSettings


@hookimpl
def hub_register_sources(register: Callable[[type[Any]], None]) -> None:
    from hub_invoices.source import EFacturaSource

    register(EFacturaSource)


@hookimpl
def hub_register_commands(cli: typer.Typer) -> None:
    from hub_invoices.cli import app

    cli.add_typer(app, name="invoices")


@hookimpl
def hub_register_routes(router: APIRouter, settings: HubSettings) -> None:
    from hub_invoices.api import register_routes

    register_routes(router)


@hookimpl
def hub_register_demo_simulators(register: Callable[[type[Any]], None]) -> None:
    from hub_invoices.demo import InvoicesDemoSimulator

    register(InvoicesDemoSimulator)


@hookimpl
def hub_health_checks(settings: HubSettings) -> list[Any]:
    """``hub doctor``: whether e-Factura is configured (the source stays off until it is)."""
    from hub.connectors import HealthCheck
    from hub_invoices.settings import InvoicesSettings

    section = getattr(settings, "invoices", None)
    if not isinstance(section, InvoicesSettings):
        return []
    missing = section.missing()
    if missing:
        detail = "not configured, source efactura off (set " + ", ".join(missing) + ")"
        return [HealthCheck(name="e-Factura", ok=True, detail=detail)]
    return [HealthCheck(name="e-Factura", ok=True, detail=f"configured for CUI {section.cif}")]
