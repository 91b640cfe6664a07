"""Entry point of the ``hub-fiscal`` plugin (entry-point group ``hub``, name ``fiscal``).

Contributes the ``fiscal`` connector (Fiscal Directorate intake), the ``units-followup`` source
(one reminder per item not acknowledged in time), ``GET /api/v1/fiscal/summary`` and
``GET /api/v1/units/overdue``, ``hub report fiscal``, and the demo's Directorate simulator and
SMTP sink. Delivery to departments itself is the core's: the ``webhook`` and ``email``
connectors, and ``/api/v1/items``. Nothing is built at import time.
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
def hub_register_connectors(register: Callable[[type[Any]], None]) -> None:
    from hub_fiscal.connector import FiscalConnector

    register(FiscalConnector)


@hookimpl
def hub_register_sources(register: Callable[[type[Any]], None]) -> None:
    from hub_fiscal.followup import FollowupSource

    register(FollowupSource)


@hookimpl
def hub_register_routes(router: APIRouter, settings: HubSettings) -> None:
    from hub_fiscal.routes import register_routes

    register_routes(router)


@hookimpl
def hub_register_reports(report: typer.Typer) -> None:
    from hub_fiscal.report import register_report

    register_report(report)


@hookimpl
def hub_register_demo_simulators(register: Callable[[type[Any]], None]) -> None:
    from hub_fiscal.demo import FiscalDemoSimulator

    register(FiscalDemoSimulator)
