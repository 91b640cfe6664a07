"""The ledger on SQLite and PostgreSQL (HUB_TEST_DATABASE=postgresql): deduplication, the
transactional outbox, claims with leases, fenced outcomes, dependencies, operator actions,
statistics and API tokens."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import DataError, IntegrityError
from structlog.testing import capture_logs

from hub.db.engine import is_sqlite, make_bookkeeping_engine, make_engines
from hub.db.ledger import (
    DeliveryFilter,
    HandOff,
    Ledger,
    Outcome,
    PreparedAttachment,
    PreparedDocument,
    delivery_key,
)
from hub.db.schema import api_tokens, attachments, attempts, deliveries, documents, events
from hub.models import DeliveryState, Job
from hub.routing import Destination

T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(database_url: str, clock: Clock) -> Iterator[Ledger]:
    writer, reader = make_engines(database_url)
    bookkeeping = make_bookkeeping_engine(database_url)  # as the hub builds it
    yield Ledger(writer, reader, bookkeeping=bookkeeping, clock=clock)
    bookkeeping.dispose()
    writer.dispose()
    if reader is not writer:
        reader.dispose()


def prepared(
    external_id: str,
    *dests: Destination,
    source: str = "test",
    idem: str | None = None,
    request_hash: str = "hash-1",
    files: Sequence[bytes] = (),
) -> PreparedDocument:
    now = datetime.now(UTC)
    row: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "source": source,
        "external_id": external_id,
        "idempotency_key": idem,
        "request_hash": request_hash,
        "channel": "api",
        "kind": "petitie",
        "subject": "Sesizare de test",
        "body": "",
        "sender": None,
        "received_at": now,
        "created_at": now,
        "department": None,
        "routing_rule": None,
        "status": "received",
        "meta": {},
    }
    atts = [
        PreparedAttachment(f"f{i}.pdf", "application/pdf", c, hashlib.sha256(c).hexdigest())
        for i, c in enumerate(files)
    ]
    return PreparedDocument(
        row=row,
        destinations=list(dests) or [Destination(connector="webcon")],
        attachments=atts,
        reason="rule test → webcon",
        actor="test",
    )


def count(ledger: Ledger, table: Any) -> int:
    with ledger.reader.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)


def event_rows(ledger: Ledger, **where: Any) -> list[dict[str, Any]]:
    q = select(events).order_by(events.c.id)
    for key, value in where.items():
        q = q.where(events.c[key] == value)
    with ledger.reader.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def outcome(job: Any, state: str, clock: Clock, **kw: Any) -> Outcome:
    return Outcome(
        delivery_id=job.delivery_id,
        document_id=job.document.id,
        connector=job.connector,
        attempt=job.attempt,
        state=state,
        started_at=clock(),
        duration_ms=1.0,
        worker=kw.pop("worker", "w1"),
        **kw,
    )


# --- intake -----------------------------------------------------------------------------------


def test_document_deliveries_and_event_written_together(ledger: Ledger) -> None:
    p = prepared(
        "e-1",
        Destination(connector="webcon"),
        Destination(connector="webhook", target="DJ", after="webcon"),
        files=[b"%PDF-1 one", b"%PDF-1 two"],
    )
    [res] = ledger.insert_documents([p])
    assert res.created and res.document_id == p.row["id"]
    dels = ledger.deliveries_of(res.document_id)
    assert [(d["connector"], d["target"], d["state"], d["depends_on"]) for d in dels] == [
        ("webcon", None, "pending", None),
        ("webhook", "DJ", "waiting", "webcon"),
    ]
    assert dels[0]["idempotency_key"] == delivery_key(res.document_id, "webcon", None)
    assert dels[1]["idempotency_key"] == delivery_key(res.document_id, "webhook", "DJ")
    [ev] = event_rows(ledger, document_id=res.document_id)
    assert (ev["action"], ev["actor"], ev["reason"]) == ("received", "test", "rule test → webcon")
    doc = ledger.get_document(res.document_id)
    assert doc is not None
    assert [a.filename for a in doc.attachments] == ["f0.pdf", "f1.pdf"]
    assert ledger.attachment_content(doc.attachments[1].sha256) == b"%PDF-1 two"


def _stored(ledger: Ledger, document_id: str) -> dict[str, Any]:
    """A documents row as the database holds it: SQLite's raw text and storage classes, or
    PostgreSQL's values with JSON as text."""
    columns = [c.name for c in documents.columns if c.name not in ("id", "external_id")]
    if ledger.sqlite:
        names = [name for c in columns for name in (c, f"typeof({c})")]
        sql = f"SELECT {', '.join(names)} FROM documents WHERE id = ?"
    else:
        names = [f"{c}::text" if c in ("sender", "meta") else c for c in columns]
        sql = f"SELECT {', '.join(names)} FROM documents WHERE id = %s"
    with ledger.reader.connect() as conn:
        row = conn.exec_driver_sql(sql, (document_id,)).one()
    return dict(zip(names, row, strict=True))


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"sender": None, "received_at": datetime(999, 6, 1, tzinfo=UTC)}, id="y999"),
        pytest.param(
            {
                "sender": {"type": "pj", "name": "SC Exemplu SRL"},
                "received_at": datetime(
                    2026, 3, 29, 3, 30, 0, 0, tzinfo=timezone(timedelta(hours=3))
                ),
                "registered_at": datetime(2026, 3, 29, 4, 0, 0, 1, tzinfo=UTC),
                "registration_number": "RG-1/2026",
                "closed_at": datetime(2026, 4, 1, 12, 0),  # naive: UTC
                "due_date": datetime(2026, 4, 28, 15, 0),  # a datetime where a date belongs
                "meta": {"d": "2026-01-01", "n": [1, 2.5, None], "text": "Timișoara"},
            },
            id="every-column",
        ),
        pytest.param({"received_at": None, "meta": {}}, id="empty"),
    ],
)
def test_intake_stores_documents_as_sqlalchemy_would(ledger: Ledger, extra: dict[str, Any]) -> None:
    """Intake writes documents with hand-written multi-row INSERTs (``_HotSql``); every column
    must hold what SQLAlchemy's column types write for the same row, because reports, filters
    and orderings read them through SQLAlchemy."""
    ours = prepared("ours")
    ours.row.update(extra)
    [written] = ledger.insert_documents([ours])
    theirs = dict(ours.row, id=str(uuid.uuid4()), external_id="theirs", idempotency_key=None)
    with ledger.writer.begin() as conn:
        conn.execute(insert(documents), [theirs])
    assert _stored(ledger, written.document_id) == _stored(ledger, theirs["id"])
    # And both read back alike, through the claims' reader.
    ours_doc, theirs_doc = (
        ledger.get_document(written.document_id),
        ledger.get_document(theirs["id"]),
    )
    assert ours_doc is not None and theirs_doc is not None
    skip = {"id", "external_id", "attachments"}
    assert ours_doc.model_dump(exclude=skip) == theirs_doc.model_dump(exclude=skip)


def test_a_batch_larger_than_one_insert_statement(ledger: Ledger) -> None:
    """Intake writes rows with multi-row INSERTs of at most 500 rows: a larger batch is split,
    and every row lands."""
    batch = [prepared(f"big-{i}") for i in range(1_100)]
    results = ledger.insert_documents(batch)
    assert [r.created for r in results] == [True] * 1_100
    assert (count(ledger, documents), count(ledger, deliveries), count(ledger, events)) == (
        1_100,
        1_100,
        1_100,
    )
    # A replay of the whole batch finds every one of them.
    again = ledger.insert_documents([prepared(f"big-{i}") for i in range(1_100)])
    assert [r.document_id for r in again] == [r.document_id for r in results]
    assert not any(r.created for r in again)


def test_intake_hand_off_jobs_match_their_deliveries(ledger: Ledger) -> None:
    """The hand-off matches ids from RETURNING by idempotency key: across several INSERT
    statements, beside deliveries not claimed (no slot, another connector) and waiting ones."""
    dests = (
        Destination(connector="webcon", target="REG"),
        Destination(connector="fiscal", after="webcon"),
        Destination(connector="postal"),
    )
    batch = [prepared(f"ho-{i}", *dests) for i in range(300)]  # 900 deliveries: 2 INSERTs
    handoff = HandOff("w1", 30, {"webcon": 250})
    ledger.insert_documents(batch, handoff=handoff)
    assert len(handoff.jobs) == 250
    assert handoff.pending == {"webcon": 50, "postal": 300}  # left due, counted per lane
    ids = {r.document_id for r in ledger.insert_documents(batch)}  # replays: the same ids
    for job in handoff.jobs:
        d = ledger.get_delivery(job.delivery_id)
        assert d is not None
        assert (d["document_id"], d["connector"], d["target"]) == (job.document.id, "webcon", "REG")
        assert (d["state"], d["attempts"], d["lease_owner"]) == ("in_flight", 1, "w1")
        assert (
            d["idempotency_key"]
            == job.idempotency_key
            == delivery_key(job.document.id, "webcon", "REG")
        )
        assert job.document.id in ids and job.target == "REG" and job.attempt == 1
    claimed = event_rows(ledger, action="claimed")
    assert sorted(e["delivery_id"] for e in claimed) == sorted(j.delivery_id for j in handoff.jobs)
    with ledger.reader.connect() as conn:
        states = dict(
            conn.execute(
                select(deliveries.c.state, func.count()).group_by(deliveries.c.state)
            ).all()
        )
    assert states == {"in_flight": 250, "pending": 350, "waiting": 300}


def test_attachments_are_content_addressed(ledger: Ledger) -> None:
    ledger.insert_documents([prepared("a-1", files=[b"same"]), prepared("a-2", files=[b"same"])])
    assert count(ledger, attachments) == 1


def test_failure_mid_batch_writes_nothing(ledger: Ledger) -> None:
    good = prepared("t-1", files=[b"blob"])
    # An invalid delivery row (no connector) makes the deliveries insert fail after the
    # documents insert has run: the whole batch must roll back.
    bad = prepared("t-2", Destination.model_construct(connector=None, target=None, after=None))
    with pytest.raises(IntegrityError):
        ledger.insert_documents([good, bad], cursor=("feed", {"page": 2}))
    for table in (documents, deliveries, events, attachments):
        assert count(ledger, table) == 0, table.name
    assert ledger.get_cursor("feed") is None


def test_cursor_saved_with_the_batch(ledger: Ledger) -> None:
    ledger.insert_documents([prepared("c-1")], cursor=("feed", {"page": 1}))
    ledger.insert_documents([prepared("c-2"), prepared("c-3")], cursor=("feed", {"page": 2}))
    assert ledger.get_cursor("feed") == {"page": 2}
    [state] = ledger.source_states()
    assert state["documents_total"] == 3


def test_dedupe_on_source_and_external_id(ledger: Ledger) -> None:
    [first] = ledger.insert_documents([prepared("d-1")])
    [again] = ledger.insert_documents([prepared("d-1")])
    assert first.created and not again.created
    assert again.document_id == first.document_id
    assert not again.conflict
    # The same external id from another source is another document.
    [other] = ledger.insert_documents([prepared("d-1", source="other")])
    assert other.created and other.document_id != first.document_id
    # Within one batch too.
    a, b = ledger.insert_documents([prepared("d-2"), prepared("d-2")])
    assert a.created and not b.created and a.document_id == b.document_id
    assert count(ledger, documents) == 3
    assert count(ledger, deliveries) == 3


def test_dedupe_on_idempotency_key_and_conflict(ledger: Ledger) -> None:
    [first] = ledger.insert_documents([prepared("k-1", idem="key-1", request_hash="h1")])
    # Same key, same request (a client retry with another external id is still a replay).
    [same] = ledger.insert_documents([prepared("k-2", idem="key-1", request_hash="h1")])
    assert not same.created and same.document_id == first.document_id and not same.conflict
    # Same key, different request: flagged, nothing written.
    [diff] = ledger.insert_documents([prepared("k-3", idem="key-1", request_hash="h2")])
    assert not diff.created and diff.document_id == first.document_id and diff.conflict
    assert count(ledger, documents) == 1
    # Within one batch.
    x, y = ledger.insert_documents(
        [prepared("k-4", idem="key-2", request_hash="a"), prepared("k-5", idem="key-2")]
    )
    assert x.created and not y.created and y.conflict


# --- claims -----------------------------------------------------------------------------------


def test_claim_respects_limit_connector_and_lease(ledger: Ledger, clock: Clock) -> None:
    ledger.insert_documents([prepared(f"c-{i}") for i in range(5)])
    ledger.insert_documents([prepared("f-1", Destination(connector="fiscal"))])
    jobs = ledger.claim("webcon", 2, "w1", 30)
    assert len(jobs) == 2
    assert all(j.attempt == 1 and j.connector == "webcon" for j in jobs)
    d = ledger.get_delivery(jobs[0].delivery_id)
    assert d is not None
    assert d["state"] == "in_flight" and d["attempts"] == 1
    assert d["lease_owner"] == "w1" and d["lease_until"] == T0 + 30
    assert jobs[0].idempotency_key == d["idempotency_key"]
    assert jobs[0].document.subject == "Sesizare de test"
    # Leased deliveries are not claimed again.
    more = ledger.claim("webcon", 10, "w2", 30)
    assert len(more) == 3
    assert not {j.delivery_id for j in jobs} & {j.delivery_id for j in more}
    assert ledger.claim("webcon", 10, "w3", 30) == []
    # The other connector's delivery was untouched.
    [f] = ledger.claim("fiscal", 10, "w1", 30)
    assert f.document.external_id == "f-1"
    claimed = event_rows(ledger, action="claimed")
    assert len(claimed) == 6
    assert {e["from_state"] for e in claimed} == {"pending"}


def test_claim_reads_the_document_back_as_it_was_written(ledger: Ledger) -> None:
    """Claims read documents with hand-written statements (``_HotSql``): every field, in the
    types a connector expects, on both databases."""
    item = prepared("rich-1", files=[b"%PDF-1 first", b"%PDF-1 second"])
    east = timezone(timedelta(hours=2))
    item.row.update(
        sender={"type": "pf", "name": "Ana Popescu-Test", "email": "ana.popescu-test@example.test"},
        received_at=datetime(2026, 11, 27, 9, 30, 15, 123456, tzinfo=east),
        due_date=date(2026, 12, 28),
        department="DJ",
        meta={"nested": {"list": [1, "doi"]}, "text": "Timișoara"},
        body="Textul petiției",
    )
    [written] = ledger.insert_documents([item])
    [job] = ledger.claim("webcon", 10, "w1", 30)
    doc = job.document
    assert doc.id == written.document_id
    assert (doc.source, doc.external_id, doc.channel.value, doc.kind) == (
        "test",
        "rich-1",
        "api",
        "petitie",
    )
    assert (doc.subject, doc.body, doc.department, doc.status) == (
        "Sesizare de test",
        "Textul petiției",
        "DJ",
        "received",
    )
    assert doc.sender is not None and doc.sender.name == "Ana Popescu-Test"
    assert doc.sender.email == "ana.popescu-test@example.test" and doc.sender.cnp is None
    assert doc.received_at == datetime(2026, 11, 27, 7, 30, 15, 123456, tzinfo=UTC)
    assert doc.received_at.tzinfo is UTC
    assert doc.created_at.tzinfo is UTC
    assert doc.due_date == date(2026, 12, 28)
    assert doc.metadata == {"nested": {"list": [1, "doi"]}, "text": "Timișoara"}
    assert [(a.filename, a.size, a.sha256) for a in doc.attachments] == [
        (a.filename, len(a.content), a.sha256) for a in item.attachments
    ]
    assert doc.registration_number is None and doc.registered_at is None
    # The read path (API, dashboard) gives the same document.
    assert ledger.get_document(doc.id) == doc
    # Intake and claims write and read with hand-written statements; SQLAlchemy's column types
    # (reports, filters, the dashboard) read the same values.
    with ledger.reader.connect() as conn:
        stored = conn.execute(select(documents).where(documents.c.id == doc.id)).mappings().one()
    assert stored["received_at"] == doc.received_at and stored["created_at"] == doc.created_at
    assert stored["due_date"] == date(2026, 12, 28)
    assert stored["sender"] == {
        "type": "pf",
        "name": "Ana Popescu-Test",
        "email": "ana.popescu-test@example.test",
    }
    assert stored["meta"] == doc.metadata
    assert (stored["status"], stored["registration_number"], stored["closed_at"]) == (
        "received",
        None,
        None,
    )


def test_claim_skips_not_due_waiting_and_finished(ledger: Ledger, clock: Clock) -> None:
    ledger.insert_documents(
        [
            prepared("s-1", Destination(connector="webcon")),
            prepared("s-2", Destination(connector="webcon")),
            prepared("s-3", Destination(connector="webcon")),
            prepared(
                "s-4",
                Destination(connector="webcon"),
                Destination(connector="fiscal", after="webcon"),
            ),
        ]
    )
    assert ledger.claim("fiscal", 10, "w1", 30) == []  # waiting
    jobs = ledger.claim("webcon", 3, "w1", 30)
    retry, dead, done = jobs
    ledger.record_outcomes(
        [
            outcome(retry, "retry_scheduled", clock, next_attempt_at=T0 + 60, error_type="X"),
            outcome(dead, "dead", clock, reason="gone", error_type="PermanentError"),
            outcome(done, "delivered", clock, receipt={"remote_id": "r"}),
        ]
    )
    # Only the fourth document's webcon delivery is due now.
    [only] = ledger.claim("webcon", 10, "w1", 30)
    assert only.document.external_id == "s-4"
    clock.t = T0 + 59
    assert ledger.claim("webcon", 10, "w1", 30) == []
    clock.t = T0 + 60
    [again] = ledger.claim("webcon", 10, "w1", 30)
    assert again.delivery_id == retry.delivery_id
    assert again.attempt == 2
    assert again.idempotency_key == retry.idempotency_key


def test_one_batch_may_mix_ints_floats_enums_and_strings(ledger: Ledger, clock: Clock) -> None:
    """Batch writes send one array per column on PostgreSQL, and psycopg refuses a list whose
    items differ in type: a plugin's int clock beside float timestamps, an enum beside a str.
    Every row of such a batch lands, with its values."""
    ledger.insert_documents([prepared(f"mix-{i}") for i in range(4)])
    jobs = ledger.claim("webcon", 4, "w1", 30)
    outcomes = [
        outcome(jobs[0], DeliveryState.RETRY_SCHEDULED, clock, next_attempt_at=int(T0) + 60),
        outcome(jobs[1], "retry_scheduled", clock, next_attempt_at=T0 + 30.5),
        outcome(jobs[2], DeliveryState.DELIVERED, clock, status_code=200),
        outcome(jobs[3], "dead", clock, reason="gone", error_type="PermanentError"),
    ]
    outcomes[2].duration_ms = 3  # an int among floats
    outcomes[2].started_at = int(T0)
    ledger.record_outcomes(outcomes)
    got = {j.delivery_id: ledger.get_delivery(j.delivery_id) for j in jobs}
    assert [got[j.delivery_id]["state"] for j in jobs] == [  # type: ignore[index]
        "retry_scheduled",
        "retry_scheduled",
        "delivered",
        "dead",
    ]
    assert got[jobs[0].delivery_id]["next_attempt_at"] == T0 + 60  # type: ignore[index]
    assert got[jobs[1].delivery_id]["next_attempt_at"] == T0 + 30.5  # type: ignore[index]
    with ledger.reader.connect() as conn:
        rows = conn.execute(select(attempts.c.outcome, attempts.c.duration_ms)).all()
    retried = ("retry_scheduled", 1.0)
    assert sorted(rows) == [("PermanentError", 1.0), ("delivered", 3.0), retried, retried]


def test_two_outcomes_of_one_attempt_in_a_batch_move_it_once(ledger: Ledger, clock: Clock) -> None:
    """A batch holding two outcomes of the same attempt (a caller's mistake) moves the delivery
    by the first and writes one state event, whatever plan the database picks for the update."""
    ledger.insert_documents([prepared("twice-1")])
    [job] = ledger.claim("webcon", 1, "w1", 30)
    ledger.record_outcomes(
        [
            outcome(job, "delivered", clock, receipt={"remote_id": "r"}),
            outcome(job, "dead", clock, reason="gone", error_type="PermanentError"),
        ]
    )
    assert ledger.get_delivery(job.delivery_id)["state"] == "delivered"  # type: ignore[index]
    assert [e["to_state"] for e in event_rows(ledger, delivery_id=job.delivery_id)] == [
        "in_flight",
        "delivered",
    ]


def test_an_attempt_keeps_a_long_error_type_whole(ledger: Ledger, clock: Clock) -> None:
    """An attempt's outcome is its state, or the connector's error type when there is one —
    WEBCON's and httpx's names run past 16 characters (migration ledger_0002 widened the
    column to 64, as wide as ``error_type``; on PostgreSQL a longer one was refused)."""
    ledger.insert_documents([prepared("long-type")])
    [job] = ledger.claim("webcon", 1, "w1", 30)
    kind = "ElementNotFoundException"
    ledger.record_outcomes([outcome(job, "dead", clock, reason="gone", error_type=kind)])
    [attempt] = ledger.timeline(job.document.id)["attempts"]
    assert (attempt["outcome"], attempt["error_type"]) == (kind, kind)


def test_a_value_too_long_is_refused_not_cut(ledger: Ledger) -> None:
    """PostgreSQL's batch writes cast each column's array to the column's type without its
    length: a longer value is refused as a direct INSERT would refuse it, never silently cut
    (SQLite does not enforce lengths; there the value is kept whole)."""
    ledger.insert_documents([prepared("long-1")])
    [job] = ledger.claim("webcon", 1, "w1", 30)
    long = outcome(job, "delivered", Clock(), worker="w" * 65)  # attempts.worker: VARCHAR(64)
    if ledger.sqlite:
        ledger.record_outcomes([long])
        with ledger.reader.connect() as conn:
            assert conn.execute(select(attempts.c.worker)).scalar_one() == "w" * 65
        return
    with pytest.raises(DataError, match="too long"):
        ledger.record_outcomes([long])
    assert count(ledger, attempts) == 0  # and the whole transaction was rolled back
    assert ledger.get_delivery(job.delivery_id)["state"] == "in_flight"  # type: ignore[index]


def test_claim_orders_by_next_attempt(ledger: Ledger, clock: Clock) -> None:
    ledger.insert_documents([prepared("o-1"), prepared("o-2")])
    first, second = ledger.claim("webcon", 2, "w1", 30)
    ledger.record_outcomes(
        [
            outcome(first, "retry_scheduled", clock, next_attempt_at=T0 + 20, error_type="X"),
            outcome(second, "retry_scheduled", clock, next_attempt_at=T0 + 10, error_type="X"),
        ]
    )
    clock.t = T0 + 30
    [job] = ledger.claim("webcon", 1, "w1", 30)
    assert job.delivery_id == second.delivery_id
    assert ledger.next_due_at("webcon") == T0 + 20
    # A claim of several gives its jobs in due order: the dispatcher starts them in that order.
    ledger.record_outcomes(
        [outcome(job, "retry_scheduled", clock, next_attempt_at=T0 + 15, error_type="X")]
    )
    ledger.insert_documents([prepared("o-3")])  # due now, at T0 + 30
    clock.t = T0 + 40
    jobs = ledger.claim("webcon", 10, "w1", 30)
    assert [j.delivery_id for j in jobs[:2]] == [second.delivery_id, first.delivery_id]
    assert [j.document.external_id for j in jobs] == ["o-2", "o-1", "o-3"]


def test_bookkeeping_commits_without_an_fsync_of_its_own_intake_with_one(
    database_url: str,
) -> None:
    # Claims and outcomes may be lost in a power cut (the delivery is attempted again, same
    # idempotency key); an accepted document may not (hub.db.engine).
    sqlite = is_sqlite(database_url)
    show = "PRAGMA synchronous" if sqlite else "SHOW synchronous_commit"
    relaxed, durable = (1, 2) if sqlite else ("off", "on")  # SQLite: NORMAL, FULL
    writer, reader = make_engines(database_url)
    # The deployment's own startup options are kept beside the hub's.
    given = "" if sqlite else "?options=-c%20statement_timeout%3D4321"
    bookkeeping = make_bookkeeping_engine(database_url + given)
    try:
        with bookkeeping.connect() as conn:
            assert conn.exec_driver_sql(show).scalar() == relaxed
            if not sqlite:
                assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "4321ms"
        with writer.connect() as conn:
            assert conn.exec_driver_sql(show).scalar() == durable
        # A ledger given no bookkeeping engine relaxes it for its claims alone, and gives the
        # writer's session back as it was.
        plain = Ledger(writer, reader)
        plain.insert_documents([prepared("sync-1")])
        [job] = plain.claim("webcon", 10, "w1", 30)
        assert job.document.external_id == "sync-1"
        with writer.connect() as conn:
            assert conn.exec_driver_sql(show).scalar() == durable
    finally:
        bookkeeping.dispose()
        writer.dispose()


# --- outcomes ---------------------------------------------------------------------------------


def test_recover_expired_leases(ledger: Ledger, clock: Clock) -> None:
    ledger.insert_documents([prepared("l-1")])
    [job] = ledger.claim("webcon", 1, "dead-worker", 10)
    clock.t = T0 + 9
    assert ledger.recover_expired_leases("janitor") == 0
    clock.t = T0 + 11
    assert ledger.recover_expired_leases("janitor") == 1
    d = ledger.get_delivery(job.delivery_id)
    assert d is not None
    assert d["state"] == "retry_scheduled" and d["lease_owner"] is None
    [ev] = event_rows(ledger, action="lease_expired")
    assert ev["actor"] == "janitor" and "dead-worker" in ev["reason"]
    [again] = ledger.claim("webcon", 1, "w2", 10)
    assert again.attempt == 2 and again.idempotency_key == job.idempotency_key


def test_lease_recovery_leaves_a_row_another_transaction_holds(
    ledger: Ledger, clock: Clock
) -> None:
    # Another process is recording that delivery's outcome (and may claim it again) while the
    # janitor runs: the janitor must neither wait for it nor expire a lease taken meanwhile.
    if ledger.sqlite:
        pytest.skip("one writer on SQLite: no other transaction can hold the row")
    ledger.insert_documents([prepared("lk-1"), prepared("lk-2")])
    held, other = ledger.claim("webcon", 2, "dead-worker", 10)
    clock.t = T0 + 11
    with ledger.writer.begin() as conn:
        conn.execute(
            select(deliveries.c.id).where(deliveries.c.id == held.delivery_id).with_for_update()
        )
        assert ledger.recover_expired_leases("janitor") == 1  # the other one alone
        # Meanwhile the holder moves its row on: a new attempt, leased until later.
        conn.execute(
            deliveries.update()
            .where(deliveries.c.id == held.delivery_id)
            .values(attempts=2, lease_owner="w2", lease_until=T0 + 100)
        )
    assert ledger.recover_expired_leases("janitor") == 0  # the new lease is alive
    d = ledger.get_delivery(held.delivery_id)
    assert d is not None and (d["state"], d["lease_owner"]) == ("in_flight", "w2")
    assert [e["delivery_id"] for e in event_rows(ledger, action="lease_expired")] == [
        other.delivery_id
    ]


def test_a_delivery_whose_stored_document_no_longer_reads_is_dead_lettered_at_claim(
    ledger: Ledger, clock: Clock
) -> None:
    # The model changed under a stored document (a channel no longer known): that delivery can
    # never be attempted, so it is dead-lettered with a reason that names no stored value, and
    # the claim's other deliveries go on.
    two = (Destination(connector="webcon", target="A"), Destination(connector="webcon", target="B"))
    ledger.insert_documents([prepared("un-0"), prepared("un-1", *two), prepared("un-2")])
    with ledger.writer.begin() as conn:
        [bad_id] = conn.execute(
            documents.update()
            .where(documents.c.external_id == "un-1")
            .values(channel="fax-Ana-Pop")
            .returning(documents.c.id)
        ).scalars()
    reported: list[tuple[int, str]] = []

    def on_dead(delivery_id: int, reason: str) -> None:
        reported.append((delivery_id, reason))
        raise RuntimeError("a metrics backend down")  # must not undo the claim

    with capture_logs() as logs:
        jobs = ledger.claim("webcon", 10, "w1", 30, on_dead=on_dead)
    assert sorted(j.document.external_id for j in jobs) == ["un-0", "un-2"]
    both = ledger.deliveries_of(bad_id)
    assert sorted(reported) == sorted((b["id"], b["last_error"]) for b in both)
    assert [e["event"] for e in logs].count("hub.ledger.on_dead_failed") == 2
    assert all(not any(v == "fax-Ana-Pop" for v in e.values()) for e in logs)
    bad = both[0]
    assert (bad["state"], bad["last_error_type"]) == ("dead", "UnreadableDocument")
    assert "ValidationError" in bad["last_error"] and "Ana" not in bad["last_error"]
    d = ledger.get_delivery(bad["id"])
    assert d is not None and d["lease_owner"] is None
    assert d["attempts"] == 0  # claimed, never attempted
    trail = [
        (e["action"], e["from_state"], e["to_state"])
        for e in event_rows(ledger, delivery_id=bad["id"])
    ]
    assert trail[-2:] == [("claimed", "pending", "in_flight"), ("dead", "in_flight", "dead")]
    assert ledger.claim("webcon", 10, "w1", 30) == []  # never claimed again


def test_a_claim_whose_jobs_cannot_be_built_leaves_its_deliveries_due(
    ledger: Ledger, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Building the jobs fails for another reason than one unreadable document (a bug, say):
    # the claim fails, and no delivery stays leased to a job that never ran.
    ledger.insert_documents([prepared("bad-1"), prepared("bad-2")])

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("no job today")

    monkeypatch.setattr("hub.db.ledger.Job", broken)
    with pytest.raises(ValueError, match="no job today"):
        ledger.claim("webcon", 10, "w1", 30)
    monkeypatch.undo()
    with ledger.reader.connect() as conn:
        states = conn.execute(
            select(deliveries.c.state, deliveries.c.attempts, deliveries.c.lease_owner)
        ).all()
    assert [tuple(r) for r in states] == [("pending", 0, None)] * 2
    jobs = ledger.claim("webcon", 10, "w1", 30)
    assert sorted(j.document.external_id for j in jobs) == ["bad-1", "bad-2"]
    assert all(j.attempt == 1 for j in jobs)


def stale_and_fresh(ledger: Ledger, clock: Clock, external_id: str) -> tuple[Job, Job]:
    """A document whose fiscal delivery waits for webcon; webcon's first attempt (by
    ``slow-worker``) outlives its lease and ``w2`` claims the second: (stale job, fresh job)."""
    ledger.insert_documents(
        [
            prepared(
                external_id,
                Destination(connector="webcon"),
                Destination(connector="fiscal", after="webcon"),
            )
        ]
    )
    [stale] = ledger.claim("webcon", 1, "slow-worker", 10)
    clock.t = T0 + 11
    ledger.recover_expired_leases("janitor")
    [fresh] = ledger.claim("webcon", 1, "w2", 10)
    return stale, fresh


def test_stale_outcome_after_lease_recovery_changes_nothing(ledger: Ledger, clock: Clock) -> None:
    stale, fresh = stale_and_fresh(ledger, clock, "st-1")
    assert fresh.attempt == 2
    events_before = len(event_rows(ledger))

    released = ledger.record_outcomes(
        [
            outcome(
                stale,
                "delivered",
                clock,
                worker="slow-worker",
                receipt={"registration_number": "STALE-1"},
            )
        ]
    )
    assert released == 0
    d = ledger.get_delivery(fresh.delivery_id)
    assert d is not None
    assert (d["state"], d["attempts"], d["lease_owner"], d["receipt"]) == (
        "in_flight",
        2,
        "w2",
        None,
    )
    doc = ledger.get_document(fresh.document.id)
    assert doc is not None and doc.registration_number is None and doc.status == "received"
    fiscal = [x for x in ledger.deliveries_of(fresh.document.id) if x["connector"] == "fiscal"]
    assert fiscal[0]["state"] == "waiting"
    assert len(event_rows(ledger)) == events_before, "no audit event for a fenced-off outcome"

    # The current attempt's outcome still goes through.
    assert (
        ledger.record_outcomes(
            [outcome(fresh, "delivered", clock, worker="w2", receipt={"registration_number": "R"})]
        )
        == 1
    )
    d = ledger.get_delivery(fresh.delivery_id)
    assert d is not None and d["state"] == "delivered"


def test_outcome_rows_and_last_error(ledger: Ledger, clock: Clock) -> None:
    ledger.insert_documents([prepared("r-1")])
    [job] = ledger.claim("webcon", 1, "w1", 10)
    ledger.record_outcomes(
        [
            outcome(
                job,
                "retry_scheduled",
                clock,
                next_attempt_at=T0 + 5,
                status_code=503,
                error_type="TransientError",
                message="remote answered HTTP 503",
                remote_ref="guid-1",
                reason="remote answered HTTP 503",
            )
        ]
    )
    d = ledger.get_delivery(job.delivery_id)
    assert d is not None
    assert d["state"] == "retry_scheduled" and d["next_attempt_at"] == T0 + 5
    assert d["last_error"] == "remote answered HTTP 503"
    assert d["last_error_type"] == "TransientError"
    tl = ledger.timeline(job.document.id)
    [att] = tl["attempts"]
    assert (att["number"], att["outcome"], att["status_code"], att["remote_ref"]) == (
        1,
        "TransientError",
        503,
        "guid-1",
    )
    assert [e["action"] for e in tl["events"]] == ["received", "claimed", "retry_scheduled"]


def test_release_after_dependency_and_registration_number(ledger: Ledger, clock: Clock) -> None:
    [res] = ledger.insert_documents(
        [
            prepared(
                "w-1",
                Destination(connector="webcon"),
                Destination(connector="fiscal", after="webcon"),
                Destination(connector="webhook", target="DF", after="webcon"),
            )
        ]
    )
    [job] = ledger.claim("webcon", 1, "w1", 30)
    # A failed attempt releases nothing.
    assert (
        ledger.record_outcomes(
            [outcome(job, "retry_scheduled", clock, next_attempt_at=T0, error_type="X")]
        )
        == 0
    )
    assert ledger.claim("fiscal", 10, "w1", 30) == []
    [job] = ledger.claim("webcon", 1, "w1", 30)
    registered = "2026-03-02T11:30:00+02:00"  # WEBCON answers in local time
    released = ledger.record_outcomes(
        [
            outcome(
                job,
                "delivered",
                clock,
                receipt={
                    "remote_id": "42",
                    "registration_number": "RG-2026-0001",
                    "registered_at": registered,
                },
            )
        ]
    )
    assert released == 2
    states = {d["connector"]: d["state"] for d in ledger.deliveries_of(res.document_id)}
    assert states == {"webcon": "delivered", "fiscal": "pending", "webhook": "pending"}
    doc = ledger.get_document(res.document_id)
    assert doc is not None
    assert doc.registration_number == "RG-2026-0001"
    assert doc.registered_at == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert doc.registered_at.utcoffset() is not None  # aware on SQLite too
    assert doc.created_at.utcoffset() is not None
    assert doc.status == "registered"
    assert [d.id for d in ledger.find_documents(registration_number="RG-2026-0001")] == [
        res.document_id
    ]
    rel = event_rows(ledger, action="released")
    assert len(rel) == 2 and all(e["reason"] == "webcon delivered" for e in rel)
    # The released deliveries now see the registration number.
    [fj] = ledger.claim("fiscal", 10, "w1", 30)
    assert fj.document.registration_number == "RG-2026-0001"


def test_a_batch_with_a_stale_and_the_current_outcome_moves_by_the_current(
    ledger: Ledger, clock: Clock
) -> None:
    # The stale attempt's outcome arrives in the same batch as the current one's (a worker that
    # outlived its lease, and the one that took over): only the current one moves the delivery,
    # registers the document and releases what waited; the audit trail reads in order.
    stale, fresh = stale_and_fresh(ledger, clock, "sc-1")
    document_id = fresh.document.id
    stale_receipt = {"registration_number": "STALE-1"}
    fresh_receipt = {"registration_number": "RG-2", "registered_at": "2026-03-02T10:00:00Z"}
    released = ledger.record_outcomes(
        [
            outcome(fresh, "delivered", clock, worker="w2", receipt=fresh_receipt),
            outcome(stale, "delivered", clock, worker="slow-worker", receipt=stale_receipt),
        ]
    )
    assert released == 1
    doc = ledger.get_document(document_id)
    assert doc is not None and doc.registration_number == "RG-2"
    assert doc.registered_at == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    tried = ledger.timeline(document_id)["attempts"]
    assert sorted((a["number"], a["worker"]) for a in tried) == [(1, "slow-worker"), (2, "w2")]
    trail = [
        (e["action"], e["actor"])
        for e in event_rows(ledger, document_id=document_id)
        if e["action"] in ("delivered", "released")
    ]
    assert trail == [("delivered", "w2"), ("released", "hub")]


def test_receipt_without_registered_at_uses_the_delivery_time(ledger: Ledger, clock: Clock) -> None:
    ledger.insert_documents([prepared("w-2")])
    [job] = ledger.claim("webcon", 1, "w1", 30)
    ledger.record_outcomes(
        [outcome(job, "delivered", clock, receipt={"registration_number": "RG-7"})]
    )
    doc = ledger.get_document(job.document.id)
    assert doc is not None and doc.registered_at == datetime.fromtimestamp(T0, UTC)


# --- operator actions -------------------------------------------------------------------------


def _dead(ledger: Ledger, clock: Clock, external_id: str, reason: str = "gone") -> int:
    ledger.insert_documents([prepared(external_id, Destination(connector="postal"))])
    [job] = ledger.claim("postal", 1, "w1", 30)
    ledger.record_outcomes(
        [outcome(job, "dead", clock, reason=reason, error_type="PermanentError")]
    )
    return job.delivery_id


def test_replay_resets_attempts_and_audits_the_actor(ledger: Ledger, clock: Clock) -> None:
    did = _dead(ledger, clock, "rp-1", reason="attempts exhausted (12): HTTP 503")
    clock.t = T0 + 100
    assert ledger.replay([did], actor="operator:ana", reason="endpoint fixed") == 1
    d = ledger.get_delivery(did)
    assert d is not None
    assert (d["state"], d["attempts"], d["last_error"], d["next_attempt_at"]) == (
        "pending",
        0,
        None,
        T0 + 100,
    )
    [ev] = event_rows(ledger, action="replayed")
    assert (ev["actor"], ev["from_state"], ev["to_state"], ev["reason"]) == (
        "operator:ana",
        "dead",
        "pending",
        "endpoint fixed",
    )
    [job] = ledger.claim("postal", 1, "w1", 30)
    assert job.attempt == 1
    # Only dead or cancelled deliveries are replayed.
    assert ledger.replay([did], actor="operator:ana") == 0


def test_cancel(ledger: Ledger, clock: Clock) -> None:
    [a, _] = ledger.insert_documents(
        [prepared("cn-1", Destination(connector="postal")), prepared("cn-2")]
    )
    pending = ledger.deliveries_of(a.document_id)[0]["id"]
    [job] = ledger.claim("webcon", 1, "w1", 30)
    assert ledger.cancel([job.delivery_id], actor="operator:ana") == 0  # in flight
    assert ledger.cancel([pending], actor="operator:ana", reason="duplicate") == 1
    assert ledger.get_delivery(pending)["state"] == "cancelled"  # type: ignore[index]
    [ev] = event_rows(ledger, action="cancelled")
    assert (ev["actor"], ev["from_state"], ev["reason"]) == ("operator:ana", "pending", "duplicate")
    assert ledger.claim("postal", 10, "w1", 30) == []
    # A cancelled delivery can be replayed.
    assert ledger.replay([pending], actor="operator:ana") == 1


def test_select_delivery_ids_by_filter(ledger: Ledger, clock: Clock) -> None:
    one = _dead(ledger, clock, "sf-1", reason="HTTP 503 from 100%_proxy")
    two = _dead(ledger, clock, "sf-2", reason="HTTP 404")
    assert ledger.select_delivery_ids(DeliveryFilter()) == [one, two]
    assert ledger.select_delivery_ids(DeliveryFilter(reason_contains="100%_")) == [one]
    assert ledger.select_delivery_ids(DeliveryFilter(connector="webcon")) == []
    assert ledger.select_delivery_ids(DeliveryFilter(ids=[two])) == [two]
    assert ledger.select_delivery_ids(DeliveryFilter(states=["pending"])) == []


def test_connector_stats(ledger: Ledger, clock: Clock) -> None:
    _dead(ledger, clock, "cs-1")
    clock.t = T0 + 10
    ledger.insert_documents([prepared("cs-2"), prepared("cs-3")])
    clock.t = T0 + 25
    ledger.claim("webcon", 1, "w1", 30)
    stats = ledger.connector_stats()
    assert stats["postal"]["dead"] == 1
    assert stats["postal"]["oldest_open_age"] == 0.0
    assert stats["webcon"]["pending"] == 1
    assert stats["webcon"]["in_flight"] == 1
    assert stats["webcon"]["delivered"] == 0
    assert stats["webcon"]["oldest_open_age"] == 15.0


# --- tokens -----------------------------------------------------------------------------------


def test_tokens_store_only_a_hash(ledger: Ledger) -> None:
    token = ledger.create_token("ci-bot", ["write", "read", "read"])
    assert token.startswith("hub_") and len(token) > 40
    with ledger.reader.connect() as conn:
        [row] = [dict(r) for r in conn.execute(select(api_tokens)).mappings()]
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {str(v) for v in row.values()}
    assert row["scopes"] == "read,write"
    assert ledger.verify_token(token) == ("ci-bot", frozenset({"read", "write"}))
    assert ledger.verify_token(token + "x") is None
    assert [t["name"] for t in ledger.list_tokens()] == ["ci-bot"]
    assert "token_hash" not in ledger.list_tokens()[0]
    assert ledger.revoke_token("ci-bot") is True
    assert ledger.verify_token(token) is None
    assert ledger.revoke_token("ci-bot") is False
    assert ledger.list_tokens()[0]["revoked_at"] is not None


def test_token_names_are_unique(ledger: Ledger) -> None:
    ledger.create_token("dup", ["read"])
    with pytest.raises(IntegrityError):
        ledger.create_token("dup", ["read"])


def test_record_event(ledger: Ledger) -> None:
    ledger.record_event("circuit_open", "w1", "webcon")
    [ev] = event_rows(ledger, action="circuit_open")
    assert (ev["actor"], ev["reason"], ev["document_id"]) == ("w1", "webcon", None)


def test_attempts_table_counts(ledger: Ledger, clock: Clock) -> None:
    _dead(ledger, clock, "at-1")
    assert count(ledger, attempts) == 1
    assert DeliveryState.DEAD.value == "dead"
