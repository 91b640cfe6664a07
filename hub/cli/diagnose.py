"""``hub doctor`` and ``hub plugins``: what is wrong, and what is installed.

``doctor`` checks one thing per line, in the order the hub itself needs them at start-up, and
keeps going after a failure where the next check does not depend on it. It never prints a
secret or a database password.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import text

from hub.cli._common import cli_errors, console, describe_database, ledger_engine
from hub.connectors import Connector, HealthCheck
from hub.db.migrate import check_schema
from hub.errors import ConfigurationError
from hub.plugins import PluginHost, create_plugin_host
from hub.routing import load_rules
from hub.runtime import narrow_settings
from hub.settings import HubSettings, load_settings

__all__ = ["doctor_command", "plugins_command"]


@dataclass
class Report:
    checks: list[HealthCheck]

    def add(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append(HealthCheck(name=name, ok=ok, detail=" ".join(detail.split())))
        return ok


def _connector(cls: type[Connector], section: Any) -> Connector:
    return cls(narrow_settings(cls.settings_model, section))


async def _connector_checks(report: Report, host: PluginHost, settings: HubSettings) -> None:
    for name, cls in sorted(host.connector_classes().items()):
        try:
            conn = _connector(cls, settings.section(cls.section()))
        except ConfigurationError as exc:
            report.add(f"connector {name}", False, str(exc))
            continue
        conn.hub_settings = settings  # as the hub sets it (smtp, units file, public URL)
        try:
            await conn.start()
            checks = await conn.health()
        except Exception as exc:
            report.add(f"connector {name}", False, f"health check raised {type(exc).__name__}")
            continue
        finally:
            try:
                await conn.aclose()
            except Exception as exc:
                report.add(f"connector {name}", False, f"closing raised {type(exc).__name__}")
        if not checks:
            report.add(f"connector {name}", True, "no checks declared")
        for c in checks:
            report.add(f"connector {name}: {c.name}", c.ok, c.detail)


async def _doctor() -> Report:
    report = Report([])
    try:
        host = create_plugin_host()
    except ConfigurationError as exc:
        report.add("plugins", False, str(exc))
        return report
    for st in host.statuses:
        if st.status == "failed":
            report.add(f"plugin {st.name}", False, f"{st.distribution} {st.version}: {st.error}")
    try:
        settings = load_settings(host.settings_sections())
    except ConfigurationError as exc:
        report.add("settings", False, str(exc))
        return report
    loaded = [s.name for s in host.statuses if s.status == "loaded"]
    report.add("settings", True, f"plugins loaded: {', '.join(loaded) or 'none'}")

    ledger_ok = False
    with ledger_engine(settings) as engine:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            ledger_ok = report.add("ledger reachable", True, describe_database(settings))
        except Exception as exc:
            report.add(
                "ledger reachable",
                False,
                f"{describe_database(settings)}: {type(exc).__name__} (check HUB_DATABASE_URL)",
            )
        if ledger_ok:
            try:
                check_schema(engine)
                report.add("ledger schema", True, "current")
            except ConfigurationError as exc:
                report.add("ledger schema", False, str(exc))
            except Exception as exc:
                report.add("ledger schema", False, type(exc).__name__)

    try:
        rules = load_rules(settings.routing_file)
        rules.check_connectors(host.connector_classes())
        detail = f"{settings.routing_file}: {len(rules.rule)} rule(s) and a fallback"
        report.add("routing rules", True, detail)
    except ConfigurationError as exc:
        report.add("routing rules", False, str(exc))

    await _connector_checks(report, host, settings)
    try:
        for c in host.health_checks(settings):
            report.add(c.name, c.ok, c.detail)
    except Exception as exc:
        report.add("plugin health checks", False, f"raised {type(exc).__name__}")
    return report


@cli_errors
def doctor_command() -> None:
    """Check settings, ledger, schema, routing, connectors and plugins; exit 1 on a failure."""
    report = asyncio.run(_doctor())
    out = console()
    for c in report.checks:
        mark = "[green]✓[/]" if c.ok else "[red]✗[/]"
        detail = f" [dim]—[/] {escape(c.detail)}" if c.detail else ""
        out.print(f"{mark} {escape(c.name)}{detail}", soft_wrap=True)
    failed = sum(not c.ok for c in report.checks)
    if failed:
        out.print(f"[red]{failed} check(s) failed[/]")
        raise typer.Exit(1)
    out.print("[green]all checks passed[/]")


@cli_errors
def plugins_command() -> None:
    """Installed plugins: where they come from, whether they loaded, what they contribute."""
    host = create_plugin_host()
    host.connector_classes()
    host.source_classes()
    table = Table(title="Plugins")
    for col in ("name", "distribution", "version", "status", "connectors", "sources", "error"):
        table.add_column(col)
    colour = {"loaded": "green", "failed": "red", "disabled": "yellow"}
    for st in sorted(host.statuses, key=lambda s: s.name):
        table.add_row(
            st.name,
            st.distribution,
            st.version,
            f"[{colour.get(st.status, 'white')}]{st.status}[/]",
            ", ".join(sorted(st.connectors)) or "-",
            ", ".join(sorted(st.sources)) or "-",
            escape(st.error),
        )
    console().print(table)
