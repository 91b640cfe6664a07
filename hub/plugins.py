"""The plugin host: loads plugins from the ``hub`` entry-point group, one by one, safely.

A plugin that fails to import or to register is logged with its distribution and version,
shown as failed in ``hub plugins``, and skipped — the hub starts without it. ``HUB_LOAD_PLUGINS``
(comma-separated names: only these) and ``HUB_DISABLE_PLUGINS`` (these not) choose which load.
After loading, ``check_pending()`` makes an implementation of a hook that does not exist fail
loudly. Core code calls hooks only through the typed methods below.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import pluggy

from hub import hookspecs
from hub.connectors import Connector, HealthCheck
from hub.errors import ConfigurationError
from hub.log import get_logger
from hub.sources import Source

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter

    from hub.dashboard_pages import DashboardPage
    from hub.demo.simulators import DemoSimulator
    from hub.errors import DeliveryError
    from hub.models import DocumentIn, Job, Receipt
    from hub.routing import Destination
    from hub.settings import HubSettings

__all__ = ["PluginHost", "PluginStatus", "create_plugin_host"]

log = get_logger("hub.plugins")
ENTRY_POINT_GROUP = "hub"

T = TypeVar("T")


@dataclass
class PluginStatus:
    name: str
    distribution: str
    version: str
    status: Literal["loaded", "failed", "disabled"]
    error: str = ""
    connectors: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


def _names(env: str) -> set[str] | None:
    raw = os.environ.get(env)
    if raw is None or not raw.strip():
        return None
    return {n.strip() for n in raw.split(",") if n.strip()}


class PluginHost:
    """Typed facade over pluggy's PluginManager."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.statuses: list[PluginStatus] = []
        self._connectors: dict[str, tuple[type[Connector], str]] | None = None
        self._sources: dict[str, tuple[type[Source], str]] | None = None

    # --- loading ------------------------------------------------------------------------------

    def register(self, plugin: ModuleType | object, name: str | None = None) -> None:
        """Register a plugin object directly (tests, embedding)."""
        self.pm.register(plugin, name=name)
        self._connectors = self._sources = None

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        only, disabled = _names("HUB_LOAD_PLUGINS"), _names("HUB_DISABLE_PLUGINS") or set()
        for ep in sorted(importlib.metadata.entry_points(group=group), key=lambda e: e.name):
            dist = ep.dist.name if ep.dist else "?"
            version = ep.dist.version if ep.dist else "?"
            if (only is not None and ep.name not in only) or ep.name in disabled:
                self.statuses.append(PluginStatus(ep.name, dist, version, "disabled"))
                continue
            if self.pm.has_plugin(ep.name):
                continue
            try:
                plugin = ep.load()
                self.pm.register(plugin, name=ep.name)
            except Exception as exc:  # a broken plugin must not take the hub down
                self.statuses.append(
                    PluginStatus(ep.name, dist, version, "failed", f"{type(exc).__name__}: {exc}")
                )
                log.error(
                    "hub.plugin.load_failed",
                    plugin=ep.name,
                    distribution=dist,
                    version=version,
                    error_type=type(exc).__name__,
                )
                continue
            self.statuses.append(PluginStatus(ep.name, dist, version, "loaded"))
            log.debug("hub.plugin.loaded", plugin=ep.name, distribution=dist, version=version)
        self._connectors = self._sources = None

    def check_pending(self) -> None:
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise ConfigurationError(f"plugin implements an unknown hook: {exc}") from None

    # --- contributions ------------------------------------------------------------------------

    def _collect(self, hook: Any, base: type[T], what: str) -> dict[str, tuple[type[T], str]]:
        found: dict[str, tuple[type[T], str]] = {}

        for impl in hook.get_hookimpls():
            owner: str = self.pm.get_name(impl.plugin) or repr(impl.plugin)

            def register(cls: type[T], _owner: str = owner) -> None:
                if not (isinstance(cls, type) and issubclass(cls, base)):
                    raise ConfigurationError(
                        f"plugin {_owner!r} registered {cls!r}, "
                        f"which is not a {base.__name__} class"
                    )
                name = getattr(cls, "name", None)
                if not isinstance(name, str) or not name:
                    raise ConfigurationError(
                        f"plugin {_owner!r}: {cls.__name__} has no `name` attribute"
                    )
                if name in found and found[name][0] is not cls:
                    raise ConfigurationError(
                        f"{what} {name!r} is registered twice: by plugin {found[name][1]!r} "
                        f"and by plugin {_owner!r}"
                    )
                found[name] = (cls, _owner)

            try:
                impl.function(register)
            except ConfigurationError:
                raise
            except Exception as exc:
                self._mark_failed(owner, f"{type(exc).__name__}: {exc}")
        return found

    def _mark_failed(self, plugin: str, error: str) -> None:
        log.error("hub.plugin.register_failed", plugin=plugin, error=error)
        st = self._status(plugin)  # a plugin registered directly has no status yet
        st.status, st.error = "failed", error

    def connector_classes(self) -> dict[str, type[Connector]]:
        if self._connectors is None:
            self._connectors = self._collect(
                self.pm.hook.hub_register_connectors, Connector, "connector"
            )
            for name, (_, owner) in self._connectors.items():
                self._status(owner).connectors.append(name)
        return {n: c for n, (c, _) in self._connectors.items()}

    def source_classes(self) -> dict[str, type[Source]]:
        if self._sources is None:
            self._sources = self._collect(self.pm.hook.hub_register_sources, Source, "source")
            for name, (_, owner) in self._sources.items():
                self._status(owner).sources.append(name)
        return {n: c for n, (c, _) in self._sources.items()}

    def demo_simulators(self) -> dict[str, tuple[type[DemoSimulator], str]]:
        """Simulator name → (class, plugin that registered it), for ``hub demo``."""
        from hub.demo.simulators import DemoSimulator

        found = self._collect(
            self.pm.hook.hub_register_demo_simulators, DemoSimulator, "demo simulator"
        )
        return dict(found)

    def dashboard_pages(self) -> list[DashboardPage]:
        """The pages plugins add to the dashboard, checked, by title."""
        from hub.api.auth import SCOPES
        from hub.dashboard_pages import SLUG, DashboardPage

        found: dict[str, tuple[DashboardPage, str]] = {}
        for impl in self.pm.hook.hub_register_dashboard_pages.get_hookimpls():
            owner: str = self.pm.get_name(impl.plugin) or repr(impl.plugin)

            def register(page: DashboardPage, _owner: str = owner) -> None:
                if not isinstance(page, DashboardPage):
                    raise ConfigurationError(
                        f"plugin {_owner!r} registered {page!r}, which is not a DashboardPage"
                    )
                if not SLUG.match(page.slug):
                    raise ConfigurationError(
                        f"plugin {_owner!r}: dashboard page slug {page.slug!r} is not "
                        "lowercase letters, digits and hyphens"
                    )
                if page.scope not in SCOPES:
                    raise ConfigurationError(
                        f"plugin {_owner!r}: dashboard page {page.slug!r} needs unknown scope "
                        f"{page.scope!r}"
                    )
                if not page.title.strip() or not callable(page.load):
                    raise ConfigurationError(
                        f"plugin {_owner!r}: dashboard page {page.slug!r} needs a title and a "
                        "load function"
                    )
                if page.slug in found and found[page.slug][0] != page:
                    raise ConfigurationError(
                        f"dashboard page {page.slug!r} is registered twice: by plugin "
                        f"{found[page.slug][1]!r} and by plugin {_owner!r}"
                    )
                found[page.slug] = (page, _owner)

            try:
                impl.function(register)
            except ConfigurationError:
                raise
            except Exception as exc:
                self._mark_failed(owner, f"{type(exc).__name__}: {exc}")
        return sorted((p for p, _ in found.values()), key=lambda p: (p.title, p.slug))

    def _status(self, plugin: str) -> PluginStatus:
        for st in self.statuses:
            if st.name == plugin:
                return st
        st = PluginStatus(plugin, "(registered directly)", "", "loaded")
        self.statuses.append(st)
        return st

    def settings_sections(self) -> dict[str, type[Any]]:
        """Section name → settings model, from every connector and source."""
        sections: dict[str, type[Any]] = {}
        classes: Iterable[type[Connector] | type[Source]] = [
            *self.connector_classes().values(),
            *self.source_classes().values(),
        ]
        for cls in classes:
            section, model = cls.section(), cls.settings_model
            if section in sections and sections[section] is not model:
                known = sections[section]
                # A plugin's source and connector may share a section with one model.
                if not (issubclass(model, known) or issubclass(known, model)):
                    raise ConfigurationError(
                        f"settings section {section!r} is claimed with two different models "
                        f"({known.__name__}, {model.__name__})"
                    )
                if issubclass(model, known):
                    sections[section] = model
                continue
            sections[section] = model
        return sections

    # --- typed hook calls ---------------------------------------------------------------------

    def classify(self, document: DocumentIn) -> str | None:
        result: str | None = self.pm.hook.hub_classify(document=document)
        return result

    def route(self, document: DocumentIn, kind: str) -> list[Destination]:
        out: list[Destination] = []
        for extra in self.pm.hook.hub_route(document=document, kind=kind):
            out.extend(extra or [])
        return out

    def before_delivery(self, job: Job) -> None:
        self.pm.hook.hub_before_delivery(job=job)

    def after_delivery(self, job: Job, receipt: Receipt) -> None:
        self.pm.hook.hub_after_delivery(job=job, receipt=receipt)

    def on_delivery_error(self, job: Job, error: DeliveryError) -> None:
        self.pm.hook.hub_on_delivery_error(job=job, error=error)

    def has_delivery_hooks(self) -> bool:
        hook = self.pm.hook
        return bool(
            hook.hub_before_delivery.get_hookimpls()
            or hook.hub_after_delivery.get_hookimpls()
            or hook.hub_on_delivery_error.get_hookimpls()
        )

    def register_commands(self, cli: typer.Typer) -> None:
        self.pm.hook.hub_register_commands(cli=cli)

    def register_reports(self, report: typer.Typer) -> None:
        self.pm.hook.hub_register_reports(report=report)

    def register_routes(self, router: APIRouter, settings: HubSettings) -> None:
        self.pm.hook.hub_register_routes(router=router, settings=settings)

    def health_checks(self, settings: HubSettings) -> list[HealthCheck]:
        out: list[HealthCheck] = []
        for checks in self.pm.hook.hub_health_checks(settings=settings):
            out.extend(checks or [])
        return out

    def startup(self, settings: HubSettings) -> None:
        self.pm.hook.hub_startup(settings=settings)


def create_plugin_host(*, entry_points: bool = True, extra: Iterable[object] = ()) -> PluginHost:
    """A fresh host: entry points loaded one by one, ``extra`` plugin objects registered, and
    ``check_pending()`` run. No import-time side effects anywhere."""
    host = PluginHost()
    if entry_points:
        host.load_entry_points()
    for plugin in extra:
        host.register(plugin)
    host.check_pending()
    return host
