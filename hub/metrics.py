"""Prometheus metrics, registered into an injected registry (tests get a fresh one).

Labels are bounded: connector, outcome, state, source, kind. Never a document id or a person.
Gauges that describe the ledger (backlog, oldest open age, dead letters) are refreshed from the
ledger by :meth:`HubMetrics.refresh_from_stats` on each scrape and each status call.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["HubMetrics", "source_status_numbers"]

#: At most this many status numbers per source reach /metrics (labels stay bounded).
MAX_STATUS_KEYS = 32


def source_status_numbers(cursor: Any) -> dict[str, float]:
    """The numeric leaves of ``cursor["status"]`` (nested keys joined by ``_``), for the
    ``hub_source_status`` gauge. Keys are the source's code, never data."""
    status = cursor.get("status") if isinstance(cursor, dict) else None
    out: dict[str, float] = {}

    def walk(prefix: str, value: Any) -> None:
        if len(out) >= MAX_STATUS_KEYS:
            return
        if isinstance(value, int | float):  # bool included
            out[prefix] = float(value)
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}_{k}" if prefix else str(k), v)

    if isinstance(status, dict):
        walk("", status)
    return out


CIRCUIT_VALUES = {"closed": 0, "half_open": 1, "open": 2}


class HubMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.deliveries = Counter(
            "hub_deliveries_total",
            "Delivery attempts by connector and outcome "
            "(delivered, transient, permanent, ambiguous, dead, reconciled)",
            ["connector", "outcome"],
            registry=r,
        )
        self.attempt_seconds = Histogram(
            "hub_attempt_seconds",
            "Duration of one delivery attempt, by connector",
            ["connector"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self.documents = Counter(
            "hub_documents_total",
            "Documents accepted at intake, by channel and kind",
            ["channel", "kind"],
            registry=r,
        )
        self.backlog = Gauge(
            "hub_backlog",
            "Open deliveries (pending, waiting, retrying, in flight) by connector",
            ["connector"],
            registry=r,
        )
        self.deliveries_by_state = Gauge(
            "hub_deliveries_in_state",
            "Deliveries in the ledger by connector and state",
            ["connector", "state"],
            registry=r,
        )
        self.oldest_open_seconds = Gauge(
            "hub_oldest_pending_age_seconds",
            "Age of the oldest delivery not yet delivered, by connector",
            ["connector"],
            registry=r,
        )
        self.dead_letters = Gauge(
            "hub_dead_letters", "Dead-lettered deliveries by connector", ["connector"], registry=r
        )
        self.circuit_state = Gauge(
            "hub_circuit_state",
            "Circuit breaker state by connector (0 closed, 1 half-open, 2 open)",
            ["connector"],
            registry=r,
        )
        self.claimed_ahead = Gauge(
            "hub_claimed_ahead",
            "Deliveries claimed ahead of a free slot, waiting in this process for one, by"
            " connector (PostgreSQL; in flight in the ledger)",
            ["connector"],
            registry=r,
        )
        self.source_polls = Counter(
            "hub_source_polls_total",
            "Source polls by source and outcome",
            ["source", "outcome"],
            registry=r,
        )
        self.source_lag_seconds = Gauge(
            "hub_source_lag_seconds",
            "Seconds since a source's last successful poll",
            ["source"],
            registry=r,
        )
        self.source_status = Gauge(
            "hub_source_status",
            "Numbers a source publishes about itself (its cursor's `status`: backlog, quota "
            "used today, items today …), by source and key",
            ["source", "key"],
            registry=r,
        )
        # Issue #9: the "overdue documents" alert (deploy/prometheus-rules.yml).
        self.documents_overdue = Gauge(
            "hub_documents_overdue",
            "Open documents past their due date (legal term), by kind",
            ["kind"],
            registry=r,
        )
        self.alerts = Counter(
            "hub_alerts_total",
            "Alert events raised (circuit_open, dead_letter, outcome_refused)",
            ["connector", "kind"],
            registry=r,
        )

    def refresh_from_stats(self, stats: dict[str, dict[str, Any]]) -> None:
        for connector, st in stats.items():
            open_count = sum(
                st.get(s, 0) for s in ("pending", "waiting", "retry_scheduled", "in_flight")
            )
            self.backlog.labels(connector).set(open_count)
            self.dead_letters.labels(connector).set(st.get("dead", 0))
            self.oldest_open_seconds.labels(connector).set(st.get("oldest_open_age", 0.0))
            for state in (
                "waiting",
                "pending",
                "in_flight",
                "retry_scheduled",
                "delivered",
                "dead",
                "cancelled",
            ):
                self.deliveries_by_state.labels(connector, state).set(st.get(state, 0))

    def refresh_sources(self, states: list[dict[str, Any]], now: float) -> None:
        for st in states:
            last = st.get("last_success_at")
            if last is not None:
                self.source_lag_seconds.labels(st["source"]).set(max(0.0, now - float(last)))
            for key, value in source_status_numbers(st.get("cursor")).items():
                self.source_status.labels(st["source"], key).set(value)
