"""Every hook the hub calls, grouped by lifecycle area.

Implement them in a module or class decorated with :data:`hub.hookimpl` and expose it under the
entry-point group ``hub``::

    [project.entry-points.hub]
    mything = "hub_mything.plugin"

Contribution hooks receive a ``register`` callback; the host validates what is registered and
rejects duplicate names with an error naming both plugins. Defaults that anyone may override
are ``trylast=True`` implementations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter

    from hub.connectors import Connector, HealthCheck
    from hub.dashboard_pages import DashboardPage
    from hub.demo.simulators import DemoSimulator
    from hub.errors import DeliveryError
    from hub.models import DocumentIn, Job, Receipt
    from hub.routing import Destination
    from hub.settings import HubSettings
    from hub.sources import Source

PROJECT = "hub"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- contributions -------------------------------------------------------------------------


@hookspec
def hub_register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """Called once at start-up to collect connector classes.

    Args:
        register: call it with each connector *class* (not an instance); the host instantiates
            it with its validated settings section.
    """


@hookspec
def hub_register_sources(register: Callable[[type[Source]], None]) -> None:
    """Called once at start-up to collect source classes (pollers such as a mailbox or a feed).

    Args:
        register: call it with each source class.
    """


@hookspec
def hub_register_demo_simulators(register: Callable[[type[DemoSimulator]], None]) -> None:
    """Called by ``hub demo`` to collect simulators of remote systems, served on 127.0.0.1.

    A plugin whose connectors or sources reach a remote system takes part in the demo only if it
    registers a simulator (see :mod:`hub.demo.simulators`), or if all it brings is connectors
    that some simulator names in its ``connectors``; otherwise the demo leaves it out.

    Args:
        register: call it with each simulator class (a ``DemoSimulator`` subclass).
    """


@hookspec
def hub_register_commands(cli: typer.Typer) -> None:
    """Called when the ``hub`` CLI is built: add commands or sub-apps to ``cli``."""


@hookspec
def hub_register_reports(report: typer.Typer) -> None:
    """Called when the ``hub`` CLI is built: add report commands to the ``hub report`` group
    (``hub report postal --month 2026-11`` is the postal plugin's ``postal`` command)."""


@hookspec
def hub_register_routes(router: APIRouter, settings: HubSettings) -> None:
    """Called when the HTTP app is built: add endpoints under ``/api/v1`` to ``router``."""


@hookspec
def hub_register_dashboard_pages(register: Callable[[DashboardPage], None]) -> None:
    """Called when the dashboard is built to collect pages plugins add to it.

    Args:
        register: call it with each :class:`hub.dashboard_pages.DashboardPage` (slug, Romanian
            title, required scope, async ``load(hub, principal)`` returning a
            ``DashboardTable`` of plain strings, which the core renders escaped). The page is
            served at ``/pages/<slug>`` and listed in the navigation for people whose role
            grants the scope. A duplicate slug is an error naming both plugins.
    """


# --- intake ----------------------------------------------------------------------------------


@hookspec(firstresult=True)
def hub_classify(document: DocumentIn) -> str | None:
    """Called at intake for a document that arrived without a ``kind``.

    Return the kind (lower_snake_case) or None to let the next plugin decide; stops at the first
    non-None result. When nobody decides, the kind is ``altele``.
    """


@hookspec
def hub_route(document: DocumentIn, kind: str) -> list[Destination] | None:
    """Called at intake after the routing rules were evaluated.

    Return extra destinations for this document (or None). All results are combined with the
    rules' destinations; a connector is delivered to at most once per document.
    """


# --- delivery lifecycle ---------------------------------------------------------------------


@hookspec
def hub_before_delivery(job: Job) -> None:
    """Called just before a connector's ``deliver``. Must be fast and must not raise."""


@hookspec
def hub_after_delivery(job: Job, receipt: Receipt) -> None:
    """Called after a successful delivery, before its outcome is recorded."""


@hookspec
def hub_on_delivery_error(job: Job, error: DeliveryError) -> None:
    """Called after a failed attempt (transient, permanent or ambiguous)."""


# --- operations ------------------------------------------------------------------------------


@hookspec
def hub_health_checks(settings: HubSettings) -> list[HealthCheck] | None:
    """Called by ``hub doctor`` and ``/readyz``: return checks beyond the connectors' own."""


@hookspec
def hub_startup(settings: HubSettings) -> None:
    """Called once when ``hub run`` or ``hub demo`` starts, after the ledger is open."""


HOOK_NAMES: tuple[str, ...] = tuple(
    name for name, value in dict(globals()).items() if name.startswith("hub_") and callable(value)
)

__all__ = ["HOOK_NAMES", "hookimpl", "hookspec"]
