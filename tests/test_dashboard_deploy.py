"""Monitoring as code (deploy/): the Prometheus rules pass ``promtool check rules`` and their
unit tests (``promtool test rules``), and the Grafana dashboard is well-formed with every query
naming only metrics the hub exports (hub/metrics.py), so a renamed metric breaks CI, not a
night's monitoring."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from hub.metrics import HubMetrics

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
METRIC = re.compile(r"\b(hub_[a-z0-9_]+)\b")


def exported_names() -> set[str]:
    """Sample names /metrics can carry for every metric HubMetrics registers."""
    names: set[str] = set()
    for family in HubMetrics(CollectorRegistry()).registry.collect():
        if family.type == "counter":
            names |= {f"{family.name}_total", f"{family.name}_created"}
        elif family.type == "histogram":
            names |= {f"{family.name}_{s}" for s in ("bucket", "count", "sum", "created")}
        else:
            names.add(family.name)
    return names


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        # Debian's prometheus package ships promtool; CI runs as root (.ci/run installs it too).
        subprocess.run(["apt-get", "install", "-y", "-q", "prometheus"], check=True)
        found = shutil.which("promtool")
    assert found, "promtool is not installed (apt-get install prometheus)"
    return found


def test_promtool_checks_the_rules(promtool: str) -> None:
    r = subprocess.run(
        [promtool, "check", "rules", str(DEPLOY / "prometheus-rules.yml")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS: 7 rules found" in r.stdout


def test_promtool_unit_tests_of_the_rules(promtool: str) -> None:
    r = subprocess.run(
        [promtool, "test", "rules", "prometheus-rules.test.yml"],
        capture_output=True,
        text=True,
        cwd=DEPLOY,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_alerts_cover_the_issue_and_use_real_metrics() -> None:
    # promtool has validated the YAML; here each rule's one-line expr is read back with a
    # regular expression (no YAML library in the locked environment).
    text = (DEPLOY / "prometheus-rules.yml").read_text(encoding="utf-8")
    rules = re.findall(r"- alert: (\w+)\n\s+expr: (.+)\n", text)
    names = {name for name, _ in rules}
    assert len(rules) == 7
    assert {
        "HubConnectorCircuitOpen",
        "HubDeadLettersRising",
        "HubOldestPendingTooOld",
        "HubSourceLagging",
        "HubDocumentsOverdue",
        "HubOutcomeRefused",
    } <= names
    exported = exported_names()
    for name, expr in rules:
        used = set(METRIC.findall(expr))
        assert used and used <= exported, (name, used - exported)
    assert len(re.findall(r"severity: (critical|warning|info)\n", text)) == 7


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))  # collapsed rows
    return out


def test_grafana_dashboard_structure() -> None:
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text(encoding="utf-8"))
    assert isinstance(dashboard["title"], str) and dashboard["uid"]
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["schemaVersion"] >= 30
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    panels = _panels(dashboard)
    assert len(panels) >= 10
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    exported = exported_names()
    seen: set[str] = set()
    occupied: set[tuple[int, int]] = set()
    for panel in panels:
        assert panel["type"] in {"timeseries", "stat", "gauge", "table", "state-timeline"}
        assert panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24 and grid["h"] > 0
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & occupied, f"panel {panel['title']!r} overlaps another"
        occupied |= cells
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["refId"] and target["datasource"]["uid"] == "${DS_PROMETHEUS}"
            used = set(METRIC.findall(target["expr"]))
            assert used, f"{panel['title']!r}: the query names no hub metric"
            unknown = used - exported
            assert not unknown, f"{panel['title']!r} uses metrics hub/metrics.py lacks: {unknown}"
            seen |= used
    for variable in dashboard["templating"]["list"]:
        assert set(METRIC.findall(variable["definition"])) <= exported
    # The core operational metrics all have a panel.
    for name in (
        "hub_deliveries_total",
        "hub_backlog",
        "hub_dead_letters",
        "hub_circuit_state",
        "hub_oldest_pending_age_seconds",
        "hub_source_lag_seconds",
        "hub_documents_overdue",
    ):
        assert name in seen, name
