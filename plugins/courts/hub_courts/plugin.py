"""Entry point of the ``hub-courts`` plugin (entry-point group ``hub``, name ``courts``).

Contributes the ``courts`` source (the portal feed) and the ``courts-notice-board`` source
(removal reminders), the ``handover`` connector (paper acts handed over against signature), the
API under ``/api/v1/courts`` and ``/api/v1/notice-board``, ``hub courts …`` commands,
``hub report centralizator``, the notice board page of the dashboard (``/pages/avizier``), the
classification of paper acts, and the portal simulator ``hub demo`` runs. Nothing is built at
import time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hub.hookspecs import hookimpl

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter

    from hub.models import DocumentIn
    from hub.settings import HubSettings


@hookimpl
def hub_register_sources(register: Callable[[type[Any]], None]) -> None:
    from hub_courts.noticeboard import NoticeBoardSource
    from hub_courts.source import CourtsSource

    register(CourtsSource)
    register(NoticeBoardSource)


@hookimpl
def hub_register_connectors(register: Callable[[type[Any]], None]) -> None:
    from hub_courts.handover import HandoverConnector

    register(HandoverConnector)


@hookimpl
def hub_register_routes(router: APIRouter, settings: HubSettings) -> None:
    from hub_courts.routes import register_routes

    register_routes(router)


@hookimpl
def hub_register_dashboard_pages(register: Callable[[Any], None]) -> None:
    from hub_courts.dashboard import NOTICE_BOARD_PAGE

    register(NOTICE_BOARD_PAGE)


@hookimpl
def hub_register_commands(cli: typer.Typer) -> None:
    from hub_courts.cli import register_commands

    register_commands(cli)


@hookimpl
def hub_register_reports(report: typer.Typer) -> None:
    from hub_courts.cli import register_reports

    register_reports(report)


@hookimpl
def hub_classify(document: DocumentIn) -> str | None:
    from hub_courts.paper import classify

    return classify(document)


@hookimpl
def hub_register_demo_simulators(register: Callable[[type[Any]], None]) -> None:
    from hub_courts.demo import CourtsDemoSimulator

    register(CourtsDemoSimulator)
