"""Entry point of the ``hub-webcon`` plugin (entry-point group ``hub``, name ``webcon``).

Contributes the ``webcon`` connector (registration), the ``webcon-status`` source (status
sync), ``POST /api/v1/documents/{id}/release``, and the WEBCON simulator ``hub demo`` runs.
Nothing is built at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hub.hookspecs import hookimpl

if TYPE_CHECKING:
    from fastapi import APIRouter

    from hub.settings import HubSettings


@hookimpl
def hub_register_connectors(register: Callable[[type[Any]], None]) -> None:
    from hub_webcon.connector import WebconConnector

    register(WebconConnector)


@hookimpl
def hub_register_sources(register: Callable[[type[Any]], None]) -> None:
    from hub_webcon.status_sync import WebconStatusSource

    register(WebconStatusSource)


@hookimpl
def hub_register_routes(router: APIRouter, settings: HubSettings) -> None:
    from hub_webcon.release import register_release_route

    register_release_route(router)


@hookimpl
def hub_register_demo_simulators(register: Callable[[type[Any]], None]) -> None:
    from hub_webcon.demo import WebconDemoSimulator

    register(WebconDemoSimulator)
