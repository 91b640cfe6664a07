"""The dispatcher on a real Hub: outcomes, retries, reconciliation, timeouts, Retry-After, the
circuit breaker, bounded concurrency, dependencies and graceful shutdown.

Test connectors are registered with a plugin object, exactly as a third-party plugin does; their
behaviour is a per-test script set on the instance the hub built.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from structlog.testing import capture_logs

from hub.connectors import Connector, ConnectorSettings
from hub.db.schema import documents
from hub.errors import AmbiguousError, PermanentError, TransientError
from hub.hookspecs import hookimpl
from hub.models import DocumentIn, Job, Receipt
from hub.runtime import Hub
from tests.fixtures import MakeHub

Script = Callable[[Job, int], Awaitable[Receipt]]


async def succeed(job: Job, n: int) -> Receipt:
    return Receipt(remote_id=f"remote-{job.delivery_id}")


class ScriptedConnector(Connector):
    """Counts calls and concurrency; what each call does is ``self.script(job, call_number)``."""

    name = "scripted"

    def __init__(self, settings: ConnectorSettings, *, transport: Any = None) -> None:
        super().__init__(settings, transport=transport)
        self.script: Script = succeed
        self.calls: list[Job] = []
        self.started_at: list[float] = []
        self.active = 0
        self.max_active = 0
        self.active_at_start: list[int] = []
        self.reconcile_result: Receipt | None = None
        self.reconciled: list[tuple[Job, AmbiguousError]] = []

    async def deliver(self, job: Job) -> Receipt:
        self.calls.append(job)
        self.started_at.append(time.monotonic())
        self.active += 1
        self.active_at_start.append(self.active)
        self.max_active = max(self.max_active, self.active)
        try:
            return await self.script(job, len(self.calls))
        finally:
            self.active -= 1

    async def reconcile(self, job: Job, error: AmbiguousError) -> Receipt | None:
        self.reconciled.append((job, error))
        return self.reconcile_result


def connector_class(name: str) -> type[ScriptedConnector]:
    return type(f"Scripted_{name}", (ScriptedConnector,), {"name": name})


class ConnectorsPlugin:
    def __init__(self, *classes: type[Connector]) -> None:
        self.classes = classes

    @hookimpl
    def hub_register_connectors(self, register: Callable[[type[Connector]], None]) -> None:
        for cls in self.classes:
            register(cls)


FAST_RETRY = {"base_seconds": 0.01, "cap_seconds": 0.02, "max_attempts": 5}


def build(
    make_hub: MakeHub,
    *names: str,
    sections: dict[str, dict[str, Any]] | None = None,
    rules: dict[str, Any] | None = None,
    plugins: tuple[object, ...] = (),
    dispatcher: dict[str, Any] | None = None,
) -> Hub:
    """A hub whose only connectors are scripted ones; the fallback routes to the first."""
    overrides: dict[str, Any] = {"dispatcher": {"idle_poll_seconds": 0.05} | (dispatcher or {})}
    for name in names:
        overrides[name] = {"retry": FAST_RETRY} | (sections or {}).get(name, {})
    if rules is None:
        rules = {"fallback": {"destinations": [{"connector": names[0]}]}}
    return make_hub(
        entry_points=False,
        plugins=(ConnectorsPlugin(*(connector_class(n) for n in names)), *plugins),
        overrides=overrides,
        rules=rules,
    )


def scripted(hub: Hub, name: str) -> ScriptedConnector:
    conn = hub.connectors[name]
    assert isinstance(conn, ScriptedConnector)
    return conn


async def submit(hub: Hub, count: int = 1, prefix: str = "doc", **fields: Any) -> list[str]:
    items = [
        hub.intake.prepare(DocumentIn(source="test", external_id=f"{prefix}-{i}", **fields))
        for i in range(count)
    ]
    return [r.document_id for r in await hub.intake.submit_many(items)]


@contextlib.asynccontextmanager
async def workers(hub: Hub) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(hub.run_workers())
    try:
        yield task
    finally:
        hub.stop()
        await asyncio.wait_for(task, 30)


async def until(predicate: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def delivery(hub: Hub, document_id: str, connector: str | None = None) -> dict[str, Any]:
    rows = hub.ledger.deliveries_of(document_id)
    if connector is not None:
        rows = [r for r in rows if r["connector"] == connector]
    assert len(rows) == 1
    return rows[0]


def state_is(hub: Hub, document_id: str, state: str, connector: str | None = None) -> bool:
    return delivery(hub, document_id, connector)["state"] == state


def actions(hub: Hub, document_id: str, delivery_id: int) -> list[str]:
    return [
        e["action"]
        for e in hub.ledger.timeline(document_id)["events"]
        if e["delivery_id"] == delivery_id
    ]


def sample(hub: Hub, metric: str, **labels: str) -> float:
    value = hub.metrics.registry.get_sample_value(metric, labels)
    return 0.0 if value is None else value


# --- outcomes ---------------------------------------------------------------------------------


async def test_transient_is_retried_then_delivered(make_hub: MakeHub) -> None:
    hub = build(make_hub, "flaky")
    conn = scripted(hub, "flaky")

    async def script(job: Job, n: int) -> Receipt:
        if n == 1:
            raise TransientError("remote answered HTTP 503", status_code=503)
        return Receipt(remote_id="R-1")

    conn.script = script
    [doc] = await submit(hub)
    async with workers(hub):
        await until(lambda: state_is(hub, doc, "delivered"), "delivered")
    d = delivery(hub, doc)
    assert d["attempts"] == 2
    assert d["receipt"] == {"remote_id": "R-1", "data": {}}
    assert actions(hub, doc, d["id"]) == ["claimed", "retry_scheduled", "claimed", "delivered"]
    attempts = hub.ledger.timeline(doc)["attempts"]
    assert [(a["number"], a["outcome"], a["status_code"]) for a in attempts] == [
        (1, "TransientError", 503),
        (2, "delivered", None),
    ]
    assert [j.attempt for j in conn.calls] == [1, 2]
    assert conn.calls[0].idempotency_key == conn.calls[1].idempotency_key == d["idempotency_key"]
    assert sample(hub, "hub_deliveries_total", connector="flaky", outcome="transient") == 1
    assert sample(hub, "hub_deliveries_total", connector="flaky", outcome="delivered") == 1


async def test_exhausted_attempts_dead_letter(make_hub: MakeHub) -> None:
    hub = build(make_hub, "down", sections={"down": {"retry": FAST_RETRY | {"max_attempts": 3}}})
    conn = scripted(hub, "down")

    async def script(job: Job, n: int) -> Receipt:
        raise TransientError("remote answered HTTP 502", status_code=502)

    conn.script = script
    [doc] = await submit(hub)
    with capture_logs() as logs:
        async with workers(hub):
            await until(lambda: state_is(hub, doc, "dead"), "dead letter")
    d = delivery(hub, doc)
    assert d["attempts"] == 3
    assert d["last_error"] == "attempts exhausted (3): remote answered HTTP 502"
    assert "attempts exhausted" in d["last_error"]
    assert len(conn.calls) == 3
    alerts = [e for e in logs if e["event"] == "hub.alert.dead_letter"]
    assert len(alerts) == 1 and alerts[0]["delivery_id"] == d["id"]
    assert sample(hub, "hub_deliveries_total", connector="down", outcome="dead") == 1
    assert sample(hub, "hub_alerts_total", connector="down", kind="dead_letter") == 1


async def test_a_document_that_no_longer_reads_is_dead_lettered_and_the_rest_delivered(
    make_hub: MakeHub,
) -> None:
    # Written before an upgrade changed the model under it: the lane must not stall on it.
    hub = build(make_hub, "stored")
    conn = scripted(hub, "stored")
    docs = await submit(hub, 3)
    with hub.ledger.writer.begin() as db:
        db.execute(documents.update().where(documents.c.id == docs[1]).values(channel="fax"))
    with capture_logs() as logs:
        async with workers(hub):
            await until(
                lambda: (
                    state_is(hub, docs[0], "delivered")
                    and state_is(hub, docs[2], "delivered")
                    and state_is(hub, docs[1], "dead")
                ),
                "the others delivered, that one dead-lettered",
            )
    assert sorted(j.document.id for j in conn.calls) == sorted([docs[0], docs[2]])
    bad = delivery(hub, docs[1])
    assert bad["last_error_type"] == "UnreadableDocument"
    alerts = [e for e in logs if e["event"] == "hub.alert.dead_letter"]
    assert [a["delivery_id"] for a in alerts] == [bad["id"]]
    assert sample(hub, "hub_deliveries_total", connector="stored", outcome="dead") == 1
    assert sample(hub, "hub_alerts_total", connector="stored", kind="dead_letter") == 1


async def test_permanent_error_dead_letters_at_once(make_hub: MakeHub) -> None:
    hub = build(make_hub, "strict")
    conn = scripted(hub, "strict")

    async def script(job: Job, n: int) -> Receipt:
        raise PermanentError("field 'subject' is required", status_code=422, remote_ref="g-1")

    conn.script = script
    [doc] = await submit(hub)
    async with workers(hub):
        await until(lambda: state_is(hub, doc, "dead"), "dead letter")
    d = delivery(hub, doc)
    assert d["attempts"] == 1
    assert d["last_error"] == "field 'subject' is required"
    assert d["last_error_type"] == "PermanentError"
    [attempt] = hub.ledger.timeline(doc)["attempts"]
    assert (attempt["outcome"], attempt["status_code"], attempt["remote_ref"]) == (
        "PermanentError",
        422,
        "g-1",
    )
    assert len(conn.calls) == 1
    assert sample(hub, "hub_deliveries_total", connector="strict", outcome="permanent") == 1


async def test_a_connectors_odd_error_fields_are_made_to_fit(make_hub: MakeHub) -> None:
    """A plugin's error may carry a status code as text, an over-long error type, a reference
    that is not a string: the attempt is recorded with them made to fit their columns — one odd
    value must not fail the record of its whole batch (on PostgreSQL a too-long value is
    refused), which would leave every outcome of the batch unrecorded."""
    hub = build(make_hub, "sloppy")
    conn = scripted(hub, "sloppy")
    ref = uuid.UUID("12345678-1234-5678-1234-567812345678")

    async def script(job: Job, n: int) -> Receipt:
        raise PermanentError(
            "refused",
            status_code="5xx",  # type: ignore[arg-type]
            error_type="E" * 100,
            remote_ref=ref,  # type: ignore[arg-type]
        )

    conn.script = script
    [doc] = await submit(hub)
    async with workers(hub):
        await until(lambda: state_is(hub, doc, "dead"), "dead letter")
    [attempt] = hub.ledger.timeline(doc)["attempts"]
    assert attempt["status_code"] is None  # not a status: left out, not stored as text
    assert attempt["outcome"] == "E" * 64
    assert attempt["remote_ref"] == str(ref)[:64]
    assert delivery(hub, doc)["last_error_type"] == "E" * 64


async def test_an_outcome_the_ledger_refuses_does_not_hold_back_the_others(
    make_hub: MakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value the ledger will never take (here: it refuses one delivery's receipt) fails its
    whole batch; retrying would stall every outcome behind it. The batch is recorded outcome by
    outcome, and the refused one without its connector's details, with the refusal as reason."""
    hub = build(make_hub, "picky")
    docs = await submit(hub, 4)
    poison = delivery(hub, docs[2])["id"]
    record = hub.ledger.record_outcomes

    def refusing(outcomes: Any) -> int:
        if any(o.delivery_id == poison and o.receipt for o in outcomes):
            raise DataError("INSERT …", {}, Exception("value too long"))
        return record(outcomes)

    monkeypatch.setattr(hub.ledger, "record_outcomes", refusing)
    with capture_logs() as logs:
        async with workers(hub):
            await until(lambda: all(state_is(hub, d, "delivered") for d in docs), "4 delivered")
    assert len(scripted(hub, "picky").calls) == 4  # none sent twice
    refused = delivery(hub, docs[2])
    assert "refused this attempt's details (DataError)" in (refused["last_error"] or "")
    assert refused["receipt"] is None
    first = delivery(hub, docs[0])
    assert first["receipt"]["remote_id"] == f"remote-{first['id']}"  # the others whole
    assert [e["event"] for e in logs].count("hub.dispatcher.record_refused") >= 1
    assert "hub.dispatcher.record_failed" not in [e["event"] for e in logs]
    [refusal] = [e for e in logs if e["event"] == "hub.dispatcher.outcome_refused"]
    assert refusal["remote_id"] == f"remote-{poison}"  # what only the remote side still knows
    assert sample(hub, "hub_alerts_total", connector="picky", kind="outcome_refused") == 1


async def test_the_ledger_unreachable_while_writing_one_by_one_is_waited_for(
    make_hub: MakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writing a refused batch outcome by outcome, the ledger may also be busy or unreachable
    for a moment: that write is retried like any other, and nothing is dropped."""
    hub = build(make_hub, "picky")
    docs = await submit(hub, 4)
    poison = delivery(hub, docs[2])["id"]
    record = hub.ledger.record_outcomes
    hiccups: list[Exception] = []  # armed by the first refusal: for the writes that follow it
    armed = False

    def flaky(outcomes: Any) -> int:
        nonlocal armed
        if len(outcomes) == 1 and hiccups:
            raise hiccups.pop()
        if any(o.delivery_id == poison and o.receipt for o in outcomes):
            if not armed:
                armed = True
                hiccups.append(OperationalError("BEGIN", {}, Exception("database is locked")))
            raise DataError("INSERT …", {}, Exception("value too long"))
        return record(outcomes)

    monkeypatch.setattr(hub.ledger, "record_outcomes", flaky)
    with capture_logs() as logs:
        async with workers(hub):
            await until(lambda: all(state_is(hub, d, "delivered") for d in docs), "4 delivered")
    assert not hiccups
    assert "hub.dispatcher.record_failed" in [e["event"] for e in logs]
    assert len(scripted(hub, "picky").calls) == 4


async def test_an_outcome_refused_even_bare_is_left_to_its_lease(
    make_hub: MakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An outcome the ledger refuses even without its connector's details is not recorded: the
    delivery keeps its lease (when it expires the delivery is attempted again, never lost),
    the others are recorded, and the error names the delivery."""
    hub = build(make_hub, "picky")
    docs = await submit(hub, 3)
    poison = delivery(hub, docs[1])["id"]
    record = hub.ledger.record_outcomes

    def refusing(outcomes: Any) -> int:
        if any(o.delivery_id == poison for o in outcomes):
            raise IntegrityError("INSERT …", {}, Exception("refused"))
        return record(outcomes)

    monkeypatch.setattr(hub.ledger, "record_outcomes", refusing)
    with capture_logs() as logs:
        async with workers(hub):
            await until(
                lambda: state_is(hub, docs[0], "delivered") and state_is(hub, docs[2], "delivered"),
                "the other two delivered",
            )
            await until(
                lambda: any(e["event"] == "hub.dispatcher.outcome_left_to_its_lease" for e in logs),
                "the refusal logged",
            )
    assert delivery(hub, docs[1])["state"] == "in_flight"
    [left] = [e for e in logs if e["event"] == "hub.dispatcher.outcome_left_to_its_lease"]
    assert left["delivery_id"] == poison


@pytest.mark.parametrize(
    ("given", "seconds"),
    [
        (30, 30.0),
        (1.5, 1.5),
        ("120", 120.0),
        ("soon", None),
        (-1, None),
        (True, None),
        (float("nan"), None),
    ],
)
def test_a_retry_after_is_taken_only_when_it_is_seconds(
    given: object, seconds: float | None
) -> None:
    from hub.dispatcher import _seconds

    assert _seconds(given) == seconds


async def test_a_retry_after_that_is_not_seconds_still_schedules_a_retry(make_hub: MakeHub) -> None:
    hub = build(make_hub, "vague")
    conn = scripted(hub, "vague")

    async def script(job: Job, n: int) -> Receipt:
        if n == 1:
            raise TransientError("busy", retry_after="tomorrow-ish")  # type: ignore[arg-type]
        return Receipt(remote_id="ok")

    conn.script = script
    [doc] = await submit(hub)
    async with workers(hub):
        await until(lambda: state_is(hub, doc, "delivered"), "delivered on the second try")
    assert len(conn.calls) == 2


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (503, 503),
        (429.0, 429),
        ("404", 404),
        (True, None),
        (10**20, None),
        ("5xx", None),
        (float("inf"), None),
        (200.5, None),
    ],
)
def test_a_status_code_is_stored_only_when_it_is_one(given: object, stored: int | None) -> None:
    from hub.dispatcher import _status_code

    assert _status_code(given) == stored


async def test_ambiguous_reconciled_is_delivered_without_a_second_send(make_hub: MakeHub) -> None:
    hub = build(make_hub, "webcon_like")
    conn = scripted(hub, "webcon_like")

    async def script(job: Job, n: int) -> Receipt:
        raise AmbiguousError("connection reset after the request was sent")

    conn.script = script
    conn.reconcile_result = Receipt(remote_id="existing-7", registration_number="RG-7")
    [doc] = await submit(hub)
    async with workers(hub):
        await until(lambda: state_is(hub, doc, "delivered"), "delivered")
    assert len(conn.calls) == 1
    [(job, error)] = conn.reconciled
    assert job.delivery_id == conn.calls[0].delivery_id
    assert error.message == "connection reset after the request was sent"
    d = delivery(hub, doc)
    assert d["receipt"]["remote_id"] == "existing-7"
    assert hub.ledger.get_document(doc).registration_number == "RG-7"  # type: ignore[union-attr]
    assert sample(hub, "hub_deliveries_total", connector="webcon_like", outcome="reconciled") == 1


async def test_ambiguous_not_found_is_retried_with_the_same_key(make_hub: MakeHub) -> None:
    hub = build(make_hub, "amb")
    conn = scripted(hub, "amb")

    async def script(job: Job, n: int) -> Receipt:
        if n == 1:
            raise AmbiguousError("read timeout")
        return Receipt(remote_id="created")

    conn.script = script
    conn.reconcile_result = None
    [doc] = await submit(hub)
    async with workers(hub):
        await until(lambda: state_is(hub, doc, "delivered"), "delivered")
    assert len(conn.calls) == 2
    assert len(conn.reconciled) == 1
    assert conn.calls[0].idempotency_key == conn.calls[1].idempotency_key
    assert [j.attempt for j in conn.calls] == [1, 2]
    [first, _] = hub.ledger.timeline(doc)["attempts"]
    assert first["outcome"] == "AmbiguousError"


async def test_timeout_is_ambiguous(make_hub: MakeHub) -> None:
    hub = build(make_hub, "slow", sections={"slow": {"timeout_seconds": 0.2}})
    conn = scripted(hub, "slow")

    async def script(job: Job, n: int) -> Receipt:
        if n == 1:
            await asyncio.sleep(60)
        return Receipt(remote_id="ok")

    conn.script = script
    [doc] = await submit(hub)
    async with workers(hub):
        await until(lambda: state_is(hub, doc, "delivered"), "delivered")
    [(_, error)] = conn.reconciled
    assert isinstance(error, AmbiguousError)
    assert error.message == "no answer within 0.2 s"
    first = hub.ledger.timeline(doc)["attempts"][0]
    assert first["outcome"] == "AmbiguousError"
    assert first["message"] == "no answer within 0.2 s"


async def test_retry_after_is_honoured(make_hub: MakeHub) -> None:
    hub = build(make_hub, "busy", sections={"busy": {"retry": {"base_seconds": 1}}})
    conn = scripted(hub, "busy")

    async def script(job: Job, n: int) -> Receipt:
        raise TransientError("remote answered HTTP 429", status_code=429, retry_after=3600)

    conn.script = script
    before = time.time()
    [doc] = await submit(hub)
    async with workers(hub):
        await until(lambda: state_is(hub, doc, "retry_scheduled"), "retry scheduled")
    d = delivery(hub, doc)
    assert d["next_attempt_at"] >= before + 3600
    assert len(conn.calls) == 1


async def test_unexpected_exception_is_transient_and_not_leaked(make_hub: MakeHub) -> None:
    hub = build(make_hub, "buggy")
    conn = scripted(hub, "buggy")
    detail = "password=hunter2 for ion.popescu-test@example.test"

    async def script(job: Job, n: int) -> Receipt:
        if n == 1:
            raise RuntimeError(detail)
        return Receipt(remote_id="ok")

    conn.script = script
    [doc] = await submit(hub)
    with capture_logs() as logs:
        async with workers(hub):
            await until(lambda: state_is(hub, doc, "delivered"), "delivered")
    timeline = hub.ledger.timeline(doc)
    first = timeline["attempts"][0]
    assert first["outcome"] == "TransientError"
    assert first["message"] == "unexpected RuntimeError in connector"
    everything = repr(timeline) + repr(logs) + repr(hub.ledger.deliveries_of(doc))
    assert "hunter2" not in everything
    assert "popescu" not in everything


async def test_disabled_connector_is_not_dispatched(make_hub: MakeHub) -> None:
    hub = build(make_hub, "off", sections={"off": {"enabled": False}})
    [doc] = await submit(hub)
    async with workers(hub):
        assert "off" not in hub.dispatcher.lanes
    assert scripted(hub, "off").calls == []
    assert state_is(hub, doc, "pending")


# --- circuit breaker --------------------------------------------------------------------------


async def test_circuit_opens_once_probes_and_closes(make_hub: MakeHub) -> None:
    reset = 0.5
    hub = build(
        make_hub,
        "fragile",
        sections={
            "fragile": {
                "concurrency": 4,
                "circuit_failure_threshold": 3,
                "circuit_reset_seconds": reset,
                "retry": FAST_RETRY | {"max_attempts": 20},
            }
        },
    )
    conn = scripted(hub, "fragile")

    async def script(job: Job, n: int) -> Receipt:
        if n <= 4:
            raise TransientError("remote answered HTTP 503", status_code=503)
        await asyncio.sleep(0.02)
        return Receipt(remote_id=f"ok-{n}")

    conn.script = script
    docs = await submit(hub, 4)
    with capture_logs() as logs:
        async with workers(hub):
            await until(
                lambda: all(state_is(hub, d, "delivered") for d in docs), "all four delivered"
            )
            await until(
                lambda: (
                    {"circuit_open", "circuit_closed"}
                    <= {e["action"] for e in _circuit_events(hub)}
                ),
                "circuit events",
            )
    opened = [e for e in logs if e["event"] == "hub.alert.circuit_open"]
    assert len(opened) == 1, "one alert for the trip, not one per failed attempt"
    assert opened[0]["connector"] == "fragile"
    assert len([e for e in logs if e["event"] == "hub.connector.circuit_closed"]) == 1
    assert len(conn.calls) == 8  # four failures, one probe, three after closing
    # The probe came alone, and only after the reset period.
    assert conn.active_at_start[4] == 1
    assert conn.started_at[4] - conn.started_at[2] >= reset
    assert sample(hub, "hub_alerts_total", connector="fragile", kind="circuit_open") == 1
    assert hub.dispatcher.circuit_states()["fragile"] == "closed"
    assert [e["reason"] for e in _circuit_events(hub)] == ["fragile", "fragile"]


def _circuit_events(hub: Hub) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from hub.db.schema import events

    with hub.reader.connect() as c:
        return [
            dict(r)
            for r in c.execute(
                select(events).where(events.c.action.like("circuit_%")).order_by(events.c.id)
            ).mappings()
        ]


async def test_circuit_stays_open_while_the_probe_fails(make_hub: MakeHub) -> None:
    hub = build(
        make_hub,
        "gone",
        sections={
            "gone": {
                "circuit_failure_threshold": 2,
                "circuit_reset_seconds": 0.2,
                "retry": FAST_RETRY | {"max_attempts": 50},
            }
        },
    )
    conn = scripted(hub, "gone")

    async def script(job: Job, n: int) -> Receipt:
        raise TransientError("down")

    conn.script = script
    [doc] = await submit(hub)
    with capture_logs() as logs:
        async with workers(hub):
            await until(lambda: len(conn.calls) >= 4, "two failed probes")
    # Attempts after the trip are spaced by the reset period: the breaker, not the tiny
    # retry backoff, decides.
    for earlier, later in zip(conn.started_at[1:], conn.started_at[2:], strict=False):
        assert later - earlier >= 0.2
    assert state_is(hub, doc, "retry_scheduled") or state_is(hub, doc, "in_flight")
    assert len([e for e in logs if e["event"] == "hub.alert.circuit_open"]) == len(conn.calls) - 1


# --- concurrency, dependencies, shutdown ------------------------------------------------------


async def test_concurrency_bound_per_connector(make_hub: MakeHub) -> None:
    hub = build(
        make_hub,
        "narrow",
        "wide",
        sections={"narrow": {"concurrency": 3}, "wide": {"concurrency": 8}},
        rules={"fallback": {"destinations": [{"connector": "narrow"}, {"connector": "wide"}]}},
    )
    narrow, wide = scripted(hub, "narrow"), scripted(hub, "wide")

    async def script(job: Job, n: int) -> Receipt:
        await asyncio.sleep(0.02)
        return Receipt()

    narrow.script = wide.script = script
    docs = await submit(hub, 24)
    async with workers(hub):
        await until(
            lambda: len(narrow.calls) == 24 and len(wide.calls) == 24 and not narrow.active,
            "all calls",
        )
        await until(
            lambda: all(
                d["state"] == "delivered" for doc in docs for d in hub.ledger.deliveries_of(doc)
            ),
            "all delivered",
        )
    assert narrow.max_active == 3
    assert wide.max_active == 8


async def test_dependent_delivery_waits_for_the_first(make_hub: MakeHub) -> None:
    hub = build(
        make_hub,
        "registrar",
        "department",
        rules={
            "default_after": "registrar",
            "fallback": {
                "destinations": [
                    {"connector": "registrar"},
                    {"connector": "department", "target": "DJ"},
                ]
            },
        },
    )
    registrar, department = scripted(hub, "registrar"), scripted(hub, "department")
    gate = asyncio.Event()

    async def register(job: Job, n: int) -> Receipt:
        await gate.wait()
        return Receipt(remote_id="elem-1", registration_number="RG-2026-1")

    registrar.script = register
    [doc] = await submit(hub)
    assert state_is(hub, doc, "waiting", "department")
    async with workers(hub):
        await until(lambda: registrar.active == 1, "registration in flight")
        assert state_is(hub, doc, "waiting", "department")
        assert department.calls == []
        gate.set()
        await until(lambda: state_is(hub, doc, "delivered", "department"), "department delivered")
    [job] = department.calls
    assert job.target == "DJ"
    assert job.document.registration_number == "RG-2026-1"
    dept = delivery(hub, doc, "department")
    assert actions(hub, doc, dept["id"]) == ["released", "claimed", "delivered"]


async def test_graceful_stop_drains_in_flight(make_hub: MakeHub) -> None:
    hub = build(make_hub, "steady")
    conn = scripted(hub, "steady")

    async def script(job: Job, n: int) -> Receipt:
        await asyncio.sleep(0.3)
        return Receipt(remote_id=f"r{n}")

    conn.script = script
    docs = await submit(hub, 3)
    task = asyncio.create_task(hub.run_workers())
    try:
        await until(lambda: conn.active == 3, "three in flight")
    finally:
        hub.stop()
        await asyncio.wait_for(task, 30)
    for doc in docs:
        d = delivery(hub, doc)
        assert d["state"] == "delivered", d
        assert d["attempts"] == 1
    assert len(conn.calls) == 3


async def test_stop_past_the_grace_period_schedules_a_retry(make_hub: MakeHub) -> None:
    hub = build(make_hub, "stuck")
    hub.dispatcher.settings = hub.dispatcher.settings.model_copy(
        update={"shutdown_grace_seconds": 0.1}
    )
    conn = scripted(hub, "stuck")

    async def script(job: Job, n: int) -> Receipt:
        await asyncio.sleep(60)
        return Receipt()

    conn.script = script
    [doc] = await submit(hub)
    task = asyncio.create_task(hub.run_workers())
    try:
        await until(lambda: conn.active == 1, "in flight")
    finally:
        hub.stop()
        await asyncio.wait_for(task, 30)
    d = delivery(hub, doc)
    assert d["state"] == "retry_scheduled"
    assert d["last_error"] == "attempt interrupted by shutdown"


@pytest.mark.parametrize(("setting", "expected"), [(20_000, 20_000), (5_000, 5_000), (0, None)])
async def test_the_workers_collect_the_youngest_generation_less_often(
    make_hub: MakeHub, setting: int, expected: int | None
) -> None:
    """HUB_GC_THRESHOLD sets how many allocations pass between two collections of Python's
    youngest generation once the workers run; 0 leaves Python's own setting."""
    import gc

    before = gc.get_threshold()
    try:
        hub = build(make_hub, "quiet")
        hub.settings.gc_threshold = setting
        [doc] = await submit(hub)
        async with workers(hub):
            await until(lambda: state_is(hub, doc, "delivered"), "a delivery: the workers run")
            assert gc.get_threshold()[0] == (before[0] if expected is None else expected)
            assert gc.get_threshold()[1:] == before[1:]
    finally:
        gc.set_threshold(*before)
