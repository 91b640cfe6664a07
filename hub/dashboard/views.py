"""What the pages show, gathered from the ledger (the API's own queries) and the dispatcher.

Kept apart from the routes so that the numbers can be tested without HTML, and so that the
routes stay a thin layer of forms and templates.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from hub.api.present import document_view
from hub.models import Document
from hub.runtime import Hub

__all__ = [
    "CHART_BUCKET_SECONDS",
    "ConnectorRow",
    "Overview",
    "SourceRow",
    "build_overview",
    "document_page",
    "source_rows",
    "status_details",
]

#: The chart covers 24 hours in 48 half-hour columns.
CHART_HOURS = 24
CHART_BUCKET_SECONDS = 1800
#: "Deliveries per minute" is measured over the last five minutes.
RATE_WINDOW_SECONDS = 300
#: "Failures" counts failed attempts over the last hour.
FAILURE_WINDOW_SECONDS = 3600

_OPEN = ("pending", "waiting", "retry_scheduled", "in_flight")
_GUID = re.compile(
    r"errorGuid[\"':= ]+([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{12})"
)


@dataclass(slots=True)
class ConnectorRow:
    name: str
    description: str
    enabled: bool
    circuit: str
    last_success_at: float | None
    backlog: int
    per_minute: float
    failures: int
    retries: int
    dead: int
    oldest_age: float
    #: Per chart bucket: (delivered, failed).
    series: list[tuple[int, int]] = field(default_factory=list)


@dataclass(slots=True)
class SourceRow:
    name: str
    installed: bool
    last_poll_at: float | None
    last_success_at: float | None
    lag: float | None
    last_error: str | None
    documents_total: int
    paused: bool
    paused_until: float | None
    #: What the source publishes about itself (its cursor's ``status``), as (label, text).
    details: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class Overview:
    now: float
    chart_start: float
    connectors: list[ConnectorRow]
    sources: list[SourceRow]

    @property
    def totals(self) -> dict[str, float]:
        return {
            "backlog": sum(c.backlog for c in self.connectors),
            "per_minute": sum(c.per_minute for c in self.connectors),
            "failures": sum(c.failures for c in self.connectors),
            "dead": sum(c.dead for c in self.connectors),
            "open_circuits": sum(1 for c in self.connectors if c.circuit == "open"),
        }


async def build_overview(hub: Hub, now: float | None = None) -> Overview:
    now = time.time() if now is None else now
    # Half-hour columns on the clock's half hours; the last one holds "now".
    start = (now // CHART_BUCKET_SECONDS + 1) * CHART_BUCKET_SECONDS - CHART_HOURS * 3600
    buckets = CHART_HOURS * 3600 // CHART_BUCKET_SECONDS
    ledger, runner = hub.ledger, hub.runner
    stats = await runner.read(ledger.connector_stats)
    counts = await runner.read(ledger.attempt_counts, start, CHART_BUCKET_SECONDS)
    # The rates use windows of their own, exact to the second (one bucket each).
    recent = await runner.read(
        ledger.attempt_counts, now - RATE_WINDOW_SECONDS, RATE_WINDOW_SECONDS
    )
    last_hour = await runner.read(
        ledger.attempt_counts, now - FAILURE_WINDOW_SECONDS, FAILURE_WINDOW_SECONDS
    )
    circuits = hub.dispatcher.circuit_states()
    last = hub.dispatcher.last_success()
    series: dict[str, list[list[int]]] = {}
    for connector, bucket, ok, n in counts:
        col = series.setdefault(connector, [[0, 0] for _ in range(buckets)])
        if 0 <= bucket < buckets:
            col[bucket][0 if ok else 1] += n
    rate = {c: 0 for c, *_ in recent}
    for connector, _bucket, ok, n in recent:
        rate[connector] += n if ok else 0
    failures = {c: 0 for c, *_ in last_hour}
    for connector, _bucket, ok, n in last_hour:
        failures[connector] += 0 if ok else n
    rows = []
    for name in sorted(set(hub.connectors) | set(stats)):
        conn = hub.connectors.get(name)
        st = stats.get(name, {})
        rows.append(
            ConnectorRow(
                name=name,
                description=conn.description if conn else "(neinstalat)",
                enabled=bool(conn and conn.settings.enabled),
                circuit=circuits.get(name, "disabled"),
                last_success_at=last.get(name),
                backlog=sum(int(st.get(s, 0)) for s in _OPEN),
                per_minute=rate.get(name, 0) / (RATE_WINDOW_SECONDS / 60),
                failures=failures.get(name, 0),
                retries=int(st.get("retry_scheduled", 0)),
                dead=int(st.get("dead", 0)),
                oldest_age=float(st.get("oldest_open_age", 0.0)),
                series=[(d, f) for d, f in series.get(name, [[0, 0]] * buckets)],
            )
        )
    return Overview(
        now=now, chart_start=start, connectors=rows, sources=await source_rows(hub, now)
    )


async def source_rows(hub: Hub, now: float | None = None) -> list[SourceRow]:
    now = time.time() if now is None else now
    states = {s["source"]: s for s in await hub.runner.read(hub.ledger.source_states)}
    out = []
    for name in sorted(set(states) | set(hub.sources)):
        st = states.get(name, {})
        last_ok = st.get("last_success_at")
        out.append(
            SourceRow(
                name=name,
                installed=name in hub.sources,
                last_poll_at=st.get("last_poll_at"),
                last_success_at=last_ok,
                lag=max(0.0, now - float(last_ok)) if last_ok is not None else None,
                last_error=st.get("last_error"),
                documents_total=int(st.get("documents_total") or 0),
                paused=bool(st.get("paused")),
                paused_until=st.get("paused_until"),
                details=status_details(st.get("cursor")),
            )
        )
    return out


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "da" if value else "nu"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def status_details(cursor: Any, limit: int = 30) -> list[tuple[str, str]]:
    """The ``status`` a source publishes in its cursor (e-Factura: quota used today, backlog,
    …), as (label, text) pairs: keys with ``_`` shown as spaces, nested dicts flattened to
    ``key value, …``. Empty values and ``last_success_at`` (a column of its own) are left out;
    the template escapes both sides."""
    status = cursor.get("status") if isinstance(cursor, dict) else None
    if not isinstance(status, dict):
        return []
    out = []
    for key, value in list(status.items())[:limit]:
        if value is None or value == "" or key == "last_success_at":
            continue
        if isinstance(value, dict):
            text = ", ".join(f"{str(k).replace('_', ' ')} {_plain(v)}" for k, v in value.items())
        elif isinstance(value, list | tuple):
            text = ", ".join(_plain(v) for v in value)
        else:
            text = _plain(value)
        out.append((str(key).replace("_", " "), text[:500]))
    return out


def error_guid(attempt: dict[str, Any]) -> str | None:
    """WEBCON's errorGuid of a failed attempt: the connector stores it as the attempt's
    ``remote_ref``; older records only quote it in the message."""
    if attempt.get("outcome") == "delivered":
        return None
    if attempt.get("remote_ref"):
        return str(attempt["remote_ref"])
    found = _GUID.search(attempt.get("message") or "")
    return found.group(1) if found else None


def document_page(
    doc: Document,
    deliveries: list[dict[str, Any]],
    timeline: dict[str, list[dict[str, Any]]],
    *,
    unmasked: bool,
) -> dict[str, Any]:
    """The document (sender and body masked unless ``unmasked``) and one time-ordered list of
    what happened to it: events (who did what) and attempts (status, latency, error)."""
    view = document_view(doc, full_sender=unmasked)
    if not unmasked and view.get("body"):
        view["body"] = "•••"
    connector_of = {d["id"]: d["connector"] for d in deliveries}
    entries: list[dict[str, Any]] = []
    for ev in timeline["events"]:
        entries.append(
            {
                "at": ev["at"],
                "kind": "event",
                "delivery_id": ev["delivery_id"],
                "connector": connector_of.get(ev["delivery_id"]),
                "action": ev["action"],
                "actor": ev["actor"],
                "from_state": ev["from_state"],
                "to_state": ev["to_state"],
                "reason": ev["reason"],
            }
        )
    for at in timeline["attempts"]:
        entries.append(
            {
                "at": at["started_at"],
                "kind": "attempt",
                "delivery_id": at["delivery_id"],
                "connector": connector_of.get(at["delivery_id"]),
                "number": at["number"],
                "outcome": at["outcome"],
                "status_code": at["status_code"],
                "duration_ms": at["duration_ms"],
                "error_type": at["error_type"],
                "error_guid": error_guid(at),
                "message": at["message"],
                "worker": at["worker"],
            }
        )
    entries.sort(key=lambda e: (e["at"], 0 if e["kind"] == "attempt" else 1))
    return {"doc": view, "deliveries": deliveries, "entries": entries}
