"""The assembled hub: settings, plugins, ledger, connectors, intake and dispatcher, wired once.

``hub run``, ``hub demo``, the HTTP app and the tests all build a :class:`Hub` the same way::

    hub = Hub.create()                    # settings from env / hub.toml, plugins from entry points
    await hub.start()                     # connectors opened
    await hub.run_workers()               # dispatcher + sources until hub.stop()
    await hub.aclose()
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
import time
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry
from pydantic import ValidationError
from sqlalchemy import Engine

from hub.connectors import Connector, HealthCheck
from hub.db.engine import (
    is_sqlite,
    make_bookkeeping_engine,
    make_engines,
    make_inline_engine,
)
from hub.db.ledger import Ledger
from hub.db.migrate import check_schema, upgrade
from hub.db.runner import DbRunner
from hub.dispatcher import Dispatcher
from hub.documents import DocumentStore
from hub.intake import IntakeService
from hub.log import get_logger
from hub.metrics import CIRCUIT_VALUES, HubMetrics
from hub.plugins import PluginHost, create_plugin_host
from hub.routing import RoutingRules, RoutingTable
from hub.settings import HubSettings, load_settings, settings_error
from hub.sources import Source
from hub.sources_runner import SourceRunner
from hub.terms import load_terms, local_date

__all__ = ["Hub"]

log = get_logger("hub.runtime")


_frozen = False


def default_worker_id() -> str:
    """``host:pid``, the host name cut so that the whole fits the ledger's 64 characters (a
    Kubernetes pod's name alone may be 63)."""
    pid = f":{os.getpid()}"
    return socket.gethostname()[: 64 - len(pid)] + pid


def _freeze_startup_objects() -> None:
    """Once per process: what exists when the workers start (modules, plugins, settings, the
    app) lives as long as the process, so keep it out of the cyclic collector's full passes —
    ~5-15 % less CPU per delivery (docs/performance.md). Once only, so that a process that
    builds many hubs (the tests) does not pin each one's garbage."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.freeze()


def _tune_collector(threshold: int) -> None:
    """Collect the youngest generation every ``threshold`` allocations instead of Python's 700:
    a delivery allocates hundreds of short-lived objects, so the default runs a collection
    every few deliveries, for garbage that reference counting frees anyway (docs/performance.md).
    0 leaves the interpreter's setting."""
    if threshold:
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(threshold, older, oldest)


class Hub:
    def __init__(
        self,
        settings: HubSettings,
        host: PluginHost,
        *,
        registry: CollectorRegistry | None = None,
        transports: dict[str, httpx.AsyncBaseTransport] | None = None,
        rules: RoutingRules | None = None,
        migrate: bool = False,
    ) -> None:
        self.settings = settings
        self.host = host
        self.metrics = HubMetrics(registry)
        self.worker_id = settings.worker_id or default_worker_id()
        url = settings.effective_database_url()
        self.sqlite = is_sqlite(url)
        self.writer, self.reader = make_engines(url, sqlite_synchronous=settings.sqlite_synchronous)
        if migrate:
            upgrade(self.writer)
        check_schema(self.writer)
        self.bookkeeping = make_bookkeeping_engine(url)
        # SQLite: the dispatcher's claims and outcomes run on the event loop while the writer
        # thread is idle (hub.db.runner); PostgreSQL's are network round trips: the thread.
        self.inline: Engine | None = None
        if self.sqlite and settings.dispatcher.sqlite_inline_bookkeeping:
            self.inline = make_inline_engine(url)
        self.ledger = Ledger(
            self.writer, self.reader, bookkeeping=self.bookkeeping, inline=self.inline
        )
        self.runner = (
            DbRunner(inline=self.ledger.without_waiting, checkpoint=self.ledger.checkpoint)
            if self.inline is not None
            else DbRunner()
        )
        transports = transports or {}
        self.connectors: dict[str, Connector] = {}
        for name, cls in host.connector_classes().items():
            section = settings.section(cls.section())
            self.connectors[name] = cls(
                narrow_settings(cls.settings_model, section), transport=transports.get(name)
            )
        self.sources: dict[str, Source] = {}
        for name, src_cls in host.source_classes().items():
            section = settings.section(src_cls.section())
            self.sources[name] = src_cls(
                narrow_settings(src_cls.settings_model, section), transport=transports.get(name)
            )
        self.documents = DocumentStore(self.ledger, self.runner)
        self.terms = load_terms(settings.terms_file)
        for conn in self.connectors.values():
            conn.documents = self.documents
            conn.hub_settings = settings
        for src in self.sources.values():
            src.documents = self.documents
            src.hub_settings = settings
        self.routing = RoutingTable(
            None if rules is not None else settings.routing_file, self.connectors, rules=rules
        )
        self.dispatcher = Dispatcher(
            ledger=self.ledger,
            runner=self.runner,
            connectors=self.connectors,
            host=host,
            metrics=self.metrics,
            settings=settings.dispatcher,
            worker_id=self.worker_id,
        )
        self.intake = IntakeService(
            ledger=self.ledger,
            runner=self.runner,
            host=host,
            routing=self.routing,
            metrics=self.metrics,
            max_attachment_bytes=settings.max_attachment_bytes,
            allowed_media_types=settings.allowed_media_types,
            on_committed=self._committed,
            dispatcher=self.dispatcher,
            terms=self.terms,
        )
        self.source_runner = SourceRunner(
            sources=self.sources,
            intake=self.intake,
            ledger=self.ledger,
            runner=self.runner,
            metrics=self.metrics,
            database_url=url,
        )
        self._notifier: Any = None
        self._started = False

    @classmethod
    def create(
        cls,
        *,
        host: PluginHost | None = None,
        overrides: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Hub:
        """Settings from the environment and ``hub.toml``, plugins from entry points."""
        host = host or create_plugin_host()
        settings = load_settings(host.settings_sections(), **(overrides or {}))
        return cls(settings, host, **kwargs)

    def _committed(self, connectors: Collection[str] | None) -> None:
        """Deliveries of ``connectors`` (None: any) became due. None (imports, source polls):
        wake every lane here. Named ones were left behind by an intake commit that this
        process's dispatcher reserved for: its ``accept`` has counted them and woken their lanes
        already. On PostgreSQL, also wake the idle workers of other processes."""
        if connectors is None:
            self.dispatcher.wake()
        if self._notifier is not None:
            self._notifier.notify()

    async def start(self) -> None:
        if self._started:
            return
        for conn in self.connectors.values():
            await conn.start()
        for src in self.sources.values():
            await src.start()
        self.host.startup(self.settings)
        if not self.sqlite:
            from hub.db.notify import PgNotifier

            self._notifier = PgNotifier(
                self.settings.effective_database_url(),
                asyncio.get_running_loop(),
                self.dispatcher.wake,
            )
            self._notifier.start()
        self._started = True

    async def run_workers(self) -> None:
        """Dispatcher and sources, until :meth:`stop`."""
        await self.start()
        _freeze_startup_objects()
        _tune_collector(self.settings.gc_threshold)
        sources = asyncio.create_task(self.source_runner.run(), name="hub-sources")
        try:
            await self.dispatcher.run()
        finally:
            self.source_runner.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await sources

    def stop(self) -> None:
        self.dispatcher.stop()
        self.source_runner.stop()

    async def refresh_metrics(self) -> None:
        """Bring the ledger-derived gauges up to date (before a scrape or a status call)."""
        stats = await self.runner.read(self.ledger.connector_stats)
        self.metrics.refresh_from_stats(stats)
        states = await self.runner.read(self.ledger.source_states)
        self.metrics.refresh_sources(states, time.time())
        today = local_date(datetime.now(UTC))
        overdue = await self.runner.read(self.ledger.overdue_by_kind, today)
        for kind, count in overdue.items():
            self.metrics.documents_overdue.labels(kind).set(count)
        for name, state in self.dispatcher.circuit_states().items():
            self.metrics.circuit_state.labels(name).set(CIRCUIT_VALUES[state])

    async def health(self) -> list[HealthCheck]:
        checks: list[HealthCheck] = []
        try:
            await self.runner.read(self.ledger.count_documents)
            checks.append(HealthCheck(name="ledger", ok=True, detail=_describe_db(self.settings)))
        except Exception as exc:
            checks.append(HealthCheck(name="ledger", ok=False, detail=type(exc).__name__))
        for name, conn in self.connectors.items():
            try:
                for c in await conn.health():
                    checks.append(c.model_copy(update={"name": f"{name}: {c.name}"}))
            except Exception as exc:
                checks.append(
                    HealthCheck(
                        name=name, ok=False, detail=f"health check raised {type(exc).__name__}"
                    )
                )
        checks.extend(self.host.health_checks(self.settings))
        return checks

    async def aclose(self) -> None:
        await self.intake.aclose()
        if self._notifier is not None:
            self._notifier.stop()
        for conn in self.connectors.values():
            with contextlib.suppress(Exception):
                await conn.aclose()
        for src in self.sources.values():
            with contextlib.suppress(Exception):
                await src.aclose()
        self.runner.close()
        self.writer.dispose()
        self.bookkeeping.dispose()
        if self.inline is not None:
            self.inline.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()


def narrow_settings(model: type[Any], section: Any) -> Any:
    """A shared section may be a subclass model; hand each class the model it declared."""
    if isinstance(section, model):
        return section
    try:
        return model.model_validate(section.model_dump())
    except ValidationError as exc:
        raise settings_error(exc) from None


def _describe_db(settings: HubSettings) -> str:
    url = settings.effective_database_url()
    if is_sqlite(url):
        return f"SQLite at {Path(url.removeprefix('sqlite:///'))}"
    return "PostgreSQL"
