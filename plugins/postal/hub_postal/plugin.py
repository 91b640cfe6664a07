"""Entry point of the ``hub-postal`` plugin (entry-point group ``hub``, name ``postal``).

Contributes the ``postal`` connector (courier shipments), the ``postal-tracking`` source,
``/api/v1/dispatches`` and ``/api/v1/postal/manifests``, ``hub postal …``, ``hub report
postal`` and the courier simulator ``hub demo`` runs. Nothing is built at import time.
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
    from hub_postal.connector import PostalConnector

    register(PostalConnector)


@hookimpl
def hub_register_sources(register: Callable[[type[Any]], None]) -> None:
    from hub_postal.tracking import PostalTrackingSource

    register(PostalTrackingSource)


@hookimpl
def hub_register_routes(router: APIRouter, settings: HubSettings) -> None:
    from hub_postal.api import register_routes

    register_routes(router)


@hookimpl
def hub_register_commands(cli: typer.Typer) -> None:
    from hub_postal.cli import postal_app

    cli.add_typer(postal_app, name="postal")


@hookimpl
def hub_register_reports(report: typer.Typer) -> None:
    from hub_postal.cli import register_report

    register_report(report)


@hookimpl
def hub_register_demo_simulators(register: Callable[[type[Any]], None]) -> None:
    from hub_postal.demo import PostalDemoSimulator

    register(PostalDemoSimulator)
