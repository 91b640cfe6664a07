"""Operations on the ledger. Synchronous SQLAlchemy Core, batched: one transaction covers many
documents or many delivery outcomes, so one fsync covers them all. The hot path — intake's
writes, claims, outcomes, audit-trail rows — uses hand-written driver-level statements instead
(:class:`_HotSql`), storing exactly what the SQLAlchemy column types would.

Callers in asyncio code go through :class:`hub.db.runner.DbRunner`, which runs these methods on a
dedicated thread (one writer on SQLite).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Float,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError

from hub.db.engine import is_sqlite
from hub.db.runner import LedgerBusy
from hub.db.schema import (
    api_tokens,
    as_utc,
    attachments,
    attempts,
    deliveries,
    document_attachments,
    documents,
    events,
    source_state,
)
from hub.log import get_logger
from hub.models import AttachmentRef, DeliveryState, Document, Job, Sender
from hub.routing import Destination

__all__ = [
    "DeliveryFilter",
    "HandOff",
    "IntakeResult",
    "Ledger",
    "Outcome",
    "PreparedAttachment",
    "PreparedDocument",
    "delivery_key",
]

DUE_STATES = (DeliveryState.PENDING.value, DeliveryState.RETRY_SCHEDULED.value)
OPEN_STATES = (*DUE_STATES, DeliveryState.IN_FLIGHT.value, DeliveryState.WAITING.value)
_KEY_NAMESPACE = uuid.UUID("6f1c1d4e-6a0b-4f7e-9a55-1d2f0e3b7c21")

log = get_logger("hub.ledger")


def delivery_key(document_id: str, connector: str, target: str | None) -> str:
    """The idempotency key of a delivery: stable for its whole life, unique across the ledger."""
    return "msg_" + uuid.uuid5(_KEY_NAMESPACE, f"{document_id}/{connector}/{target or ''}").hex


@dataclass(slots=True)
class PreparedAttachment:
    filename: str
    content_type: str
    content: bytes
    sha256: str


@dataclass(slots=True)
class PreparedDocument:
    """A validated, classified, routed document, ready to be written."""

    row: dict[str, Any]
    destinations: list[Destination]
    attachments: list[PreparedAttachment] = field(default_factory=list)
    reason: str = ""
    actor: str = "intake"


@dataclass(slots=True)
class IntakeResult:
    document_id: str
    created: bool
    #: Set when an Idempotency-Key was reused with a different request.
    conflict: bool = False


@dataclass(slots=True)
class HandOff:
    """Deliveries that intake claims in the transaction that writes their document.

    A running dispatcher reserves ``slots`` (free concurrency per connector) before an intake
    commit; :meth:`Ledger.insert_documents` writes up to that many new, immediately due
    deliveries as ``in_flight`` under this worker's lease (with the same ``claimed`` event a
    claim writes) and returns them as ``jobs``, built from the rows just written, so that the
    dispatcher neither claims them nor reads their documents back. ``pending`` counts, per
    connector, the due deliveries that were not taken: their lanes must claim them.
    A crash after the commit is a crash with deliveries in flight: their leases expire and they
    are attempted again, with the same idempotency key.
    """

    owner: str
    lease_seconds: float
    slots: dict[str, int]
    jobs: list[Job] = field(default_factory=list)
    pending: dict[str, int] = field(default_factory=dict)
    #: The dispatcher's bookkeeping: per connector, how many deliveries intake wanted to hand
    #: over (``Dispatcher.reserve``), given back at ``accept``.
    incoming: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class Outcome:
    """What one attempt came to. ``state`` is delivered, retry_scheduled or dead."""

    delivery_id: int
    document_id: str
    connector: str
    attempt: int
    state: str
    started_at: float
    duration_ms: float
    worker: str
    next_attempt_at: float | None = None
    status_code: int | None = None
    error_type: str | None = None
    message: str | None = None
    remote_ref: str | None = None
    receipt: dict[str, Any] | None = None
    reason: str | None = None


@dataclass(slots=True)
class DeliveryFilter:
    """Which deliveries an operator action applies to."""

    ids: Sequence[int] | None = None
    connector: str | None = None
    states: Sequence[str] = (DeliveryState.DEAD.value,)
    since: float | None = None
    until: float | None = None
    reason_contains: str | None = None

    def where(self) -> Any:
        cond: list[ColumnElement[bool]] = [deliveries.c.state.in_(list(self.states))]
        if self.ids is not None:
            cond.append(deliveries.c.id.in_(list(self.ids)))
        if self.connector:
            cond.append(deliveries.c.connector == self.connector)
        if self.since is not None:
            cond.append(deliveries.c.updated_at >= self.since)
        if self.until is not None:
            cond.append(deliveries.c.updated_at < self.until)
        if self.reason_contains:
            cond.append(deliveries.c.last_error.contains(self.reason_contains, autoescape=True))
        return and_(*cond)


#: An audit-trail row, as :meth:`_HotSql.insert_rows` writes it: who or what did the action,
#: when, from which state to which, why.
_EVENT_COLUMNS = (
    "at",
    "document_id",
    "delivery_id",
    "actor",
    "action",
    "from_state",
    "to_state",
    "reason",
)
_ATTEMPT_COLUMNS = (
    "delivery_id",
    "number",
    "worker",
    "started_at",
    "duration_ms",
    "outcome",
    "status_code",
    "error_type",
    "message",
    "remote_ref",
)
#: The fenced outcome update's values: (name in the statement, column of ``deliveries`` whose
#: type it has), in the order :meth:`_HotSql.finish` takes them.
_FINISH_COLUMNS = (
    ("state", "state"),
    ("next_attempt_at", "next_attempt_at"),
    ("last_error", "last_error"),
    ("last_error_type", "last_error_type"),
    ("receipt", "receipt"),
    ("delivered_at", "delivered_at"),
    ("updated_at", "updated_at"),
    ("id", "id"),
    ("attempt", "attempts"),
)


#: PostgreSQL's outcome rows (:func:`_pg_record`): the fenced update's values, then who
#: attempted it (the event's actor).
_OUTCOME_COLUMNS = (*_FINISH_COLUMNS, ("worker", "lease_owner"))


def _pg_arrays(table: Table, columns: Iterable[tuple[str, str]]) -> str:
    """``%s::<type>[]`` for each column, typed as ``table`` declares it on PostgreSQL: what
    ``unnest`` turns back into rows (:class:`_HotSql`). Without a length: a cast to
    ``VARCHAR(16)`` would cut a longer value where the column refuses it."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    return ", ".join(
        f"%s::{re.sub(r'[(].*[)]', '', table.c[column].type.compile(dialect=dialect))}[]"
        for _, column in columns
    )


def _pg_coercers(table: Table, columns: Iterable[str]) -> tuple[Callable[[Any], Any] | None, ...]:
    """What makes each column's values one Python type: psycopg dumps a list as an array only
    when its items share a type (an ``int`` clock beside ``float`` timestamps, an enum beside
    ``str``); None where the values are already alike (dates, JSON text)."""
    out: list[Callable[[Any], Any] | None] = []
    for column in columns:
        kind = table.c[column].type
        if isinstance(kind, Float):
            out.append(float)
        elif isinstance(kind, Integer):
            out.append(int)
        elif isinstance(kind, String):
            out.append(str)
        else:
            out.append(None)
    return tuple(out)


def _pg_columns(
    rows: Sequence[Sequence[Any]], coercers: Sequence[Callable[[Any], Any] | None]
) -> tuple[list[Any], ...]:
    """``rows`` as one list per column, each of one type (see :func:`_pg_coercers`)."""
    return tuple(
        list(values) if to is None else [None if v is None else to(v) for v in values]
        for values, to in zip(zip(*rows, strict=True), coercers, strict=True)
    )


class _HotSql:
    """Driver-level statements for the hot path: intake's writes, claims and outcomes.

    Every intake commit, claim and outcome reads or writes rows per document or delivery (the
    duplicate check, the new rows, the claim, its document, events, attempts, the fenced state
    update). Through SQLAlchemy each row costs ~15 µs of
    parameter or result processing; as plain DB-API calls with tuples it costs ~2 µs, which
    matters at thousands of deliveries per second (docs/performance.md). Only these statements
    are written by hand; their columns are checked against :mod:`hub.db.schema` in the tests.

    A set of ids is one parameter on both databases (``json_each`` on SQLite, ``= ANY`` on
    PostgreSQL), so each read keeps one text and one prepared plan whatever the batch. Batch
    writes are one statement each: on SQLite a multi-row ``INSERT``, one text per row count
    (SQLite's statement cache is sized for them, :mod:`hub.db.engine`), and ``executemany`` for
    the fenced update; on PostgreSQL one array per column through ``unnest``, the same text
    whatever the batch — a multi-row text with hundreds of placeholders is parsed again by
    psycopg on every call (it caches only statements of at most 50 parameters), which cost
    ~0.5 ms per 64 rows (docs/performance.md). On PostgreSQL a claim, and a batch of outcomes,
    is one statement each (:func:`_pg_claim`, :func:`_pg_record`): over a socket each step is
    a round trip, where SQLite's steps are calls in the process.
    """

    def __init__(self, sqlite: bool) -> None:
        self.sqlite = sqlite
        ph = "?" if sqlite else "%s"
        in_ids = "IN (SELECT value FROM json_each(?))" if sqlite else "= ANY(%s)"

        self.select_documents = (
            f"SELECT {', '.join(_DOCUMENT_COLUMNS)} FROM documents WHERE id {in_ids}"
        )
        self.select_attachment_refs = (
            "SELECT da.document_id, da.filename, da.content_type, da.sha256, a.size"
            " FROM document_attachments da JOIN attachments a ON a.sha256 = da.sha256"
            f" WHERE da.document_id {in_ids} ORDER BY da.document_id, da.position"
        )
        due = ", ".join(f"'{s}'" for s in DUE_STATES)
        # PostgreSQL claims, and records outcomes, in one statement each, run outside a
        # transaction block (a statement is atomic on its own): one round trip where the
        # steps below take seven with BEGIN and COMMIT, each a hand-over of the GIL
        # (docs/performance.md).
        self.claim_one_statement = "" if sqlite else _pg_claim(due)
        self.record_one_statement = "" if sqlite else _pg_record()
        # SQLite's steps, in one transaction (its round trips are calls in process).
        json_ids = "IN (SELECT value FROM json_each(?))"
        self.select_due = (
            f"SELECT {', '.join(_CLAIM_COLUMNS)} FROM deliveries"
            f" WHERE connector = ? AND state IN ({due}) AND next_attempt_at <= ?"
            " ORDER BY next_attempt_at LIMIT ?"
        )
        self.lease = (
            "UPDATE deliveries SET state = 'in_flight', attempts = attempts + 1,"
            f" lease_owner = ?, lease_until = ?, updated_at = ? WHERE id {json_ids}"
        )
        # SQLite cannot size json_each() and would rather scan the state index than look the
        # ids up: a unary + keeps it on the id (or document_id) index.
        self.held = (
            f"SELECT id, attempts FROM deliveries WHERE id {json_ids} AND +state = 'in_flight'"
        )
        self.finish_delivery = (
            "UPDATE deliveries SET state = ?, next_attempt_at = ?, lease_owner = NULL,"
            " lease_until = NULL, last_error = ?, last_error_type = ?, receipt = ?,"
            " delivered_at = ?, updated_at = ? WHERE id = ? AND state = 'in_flight'"
            " AND attempts = ?"
        )
        # What waited for a delivered delivery (outcomes on SQLite, recorded handovers on both;
        # the unary + as above).
        self.waiting = (
            "SELECT id, document_id, depends_on FROM deliveries"
            f" WHERE document_id {in_ids} AND {'+' if sqlite else ''}state = 'waiting'"
        )
        known = "SELECT id, source, external_id, idempotency_key, request_hash FROM documents"
        self.known_by_external_id = f"{known} WHERE source = {ph} AND external_id {in_ids}"
        self.known_by_idempotency_key = f"{known} WHERE idempotency_key {in_ids}"
        # Rows are written with one statement per table and batch (on SQLite one step, one
        # hand-over of the GIL, for the whole batch, not one per row): PostgreSQL's ...
        self._unnest = (
            {}
            if sqlite
            else {
                table.name: (
                    f"INSERT INTO {table.name} ({', '.join(columns)})"
                    f" SELECT * FROM unnest({_pg_arrays(table, [(c, c) for c in columns])})",
                    _pg_coercers(table, columns),
                )
                for table, columns in _BATCH_TABLES
            }
        )
        self._outcome_coercers = (
            () if sqlite else _pg_coercers(deliveries, [c for _, c in _OUTCOME_COLUMNS])
        )
        # ... and SQLite's, a multi-row INSERT per row count: (columns, one row's placeholders).
        self._values = {
            table.name: (columns, "(" + ", ".join([ph] * len(columns)) + ")")
            for table, columns in _BATCH_TABLES
        }

    def insert_rows(
        self, conn: Any, table: str, rows: Sequence[Sequence[Any]], returning: str = ""
    ) -> list[Any]:
        """Insert ``rows`` (tuples in :attr:`_values` column order): on PostgreSQL one
        ``unnest`` statement, on SQLite multi-row INSERTs of at most ``_ROWS_PER_INSERT`` rows.
        Returns the ``RETURNING`` rows, if asked."""
        if not rows:
            return []
        if not self.sqlite:
            sql, coercers = self._unnest[table]
            if returning:
                sql += f" RETURNING {returning}"
            result = conn.exec_driver_sql(sql, _pg_columns(rows, coercers))
            return list(result.all()) if returning else []
        columns, one = self._values[table]
        out: list[Any] = []
        for start in range(0, len(rows), _ROWS_PER_INSERT):
            chunk = rows[start : start + _ROWS_PER_INSERT]
            sql = (
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                + ", ".join([one] * len(chunk))
                + (f" RETURNING {returning}" if returning else "")
            )
            result = conn.exec_driver_sql(sql, tuple(v for row in chunk for v in row))
            if returning:
                out.extend(result.all())
        return out

    def finish(self, conn: Any, rows: Sequence[Sequence[Any]]) -> None:
        """SQLite's fenced outcome update, one row per delivery in :data:`_FINISH_COLUMNS`
        order."""
        if rows:
            conn.exec_driver_sql(self.finish_delivery, list(rows))

    def record(
        self,
        conn: Any,
        attempt_rows: Sequence[Sequence[Any]],
        outcome_rows: Sequence[Sequence[Any]],
        registrations: Sequence[tuple[int, int, str, datetime]],
        now: float,
    ) -> int:
        """PostgreSQL's outcome statement (:func:`_pg_record`); returns how many waiting
        deliveries it released."""
        reg = tuple(map(list, zip(*registrations, strict=True))) or ([], [], [], [])
        params = (
            *_pg_columns(attempt_rows, self._unnest["attempts"][1]),
            *_pg_columns(outcome_rows, self._outcome_coercers),
            *reg,
            now,
            now,
        )
        released: int = conn.exec_driver_sql(self.record_one_statement, params).scalar_one()
        return released

    def document_values(self, row: dict[str, Any]) -> tuple[Any, ...]:
        """A new document's row for :meth:`insert_rows`, stored exactly as SQLAlchemy's column
        types store it (``UTCDateTime``: UTC, on SQLite as ``YYYY-MM-DD HH:MM:SS.ffffff`` text;
        ``Date``: the date alone; ``JSON``: orjson text, None as JSON ``null``)."""
        values: list[Any] = []
        for column in _NEW_DOCUMENT_COLUMNS:
            value = row.get(column, _DOCUMENT_DEFAULTS.get(column))
            if column in _JSON_COLUMNS:
                value = orjson.dumps(value).decode()
            elif value is None:
                pass
            elif column in _TIMESTAMP_COLUMNS:
                value = as_utc(value)
                if self.sqlite:
                    # isoformat pads the year to four digits (strftime's %Y does not).
                    value = value.replace(tzinfo=None).isoformat(" ", "microseconds")
            elif column == "due_date":
                value = date(value.year, value.month, value.day)
                if self.sqlite:
                    value = value.isoformat()
            values.append(value)
        return tuple(values)

    def ids(self, values: Iterable[Any]) -> Any:
        """The one parameter that stands for a set of ids in these statements."""
        return orjson.dumps(list(values)).decode() if self.sqlite else list(values)

    def document(self, values: Sequence[Any], refs: list[AttachmentRef]) -> Document:
        """A :class:`Document` from a :attr:`select_documents` row, as the driver gives it
        (SQLite: timestamps as ISO text in UTC, JSON as text; PostgreSQL: native values)."""
        row = dict(zip(_DOCUMENT_COLUMNS, values, strict=True))
        if self.sqlite:
            for key in ("sender", "meta"):
                if row[key] is not None:
                    row[key] = orjson.loads(row[key])
            for key in ("received_at", "created_at", "registered_at"):
                if row[key] is not None:
                    row[key] = datetime.fromisoformat(row[key])
            if row["due_date"] is not None:
                row["due_date"] = date.fromisoformat(row["due_date"])
        return _document_from_row(row, refs)

    def readable(
        self, values: Sequence[Any], refs: list[AttachmentRef], unreadable: dict[str, str]
    ) -> Document | None:
        """:meth:`document`, or None with the reason recorded in ``unreadable`` under the
        document's id when the stored row no longer reads as a :class:`Document`."""
        try:
            return self.document(values, refs)
        except _UNREADABLE as exc:
            unreadable[values[0]] = _unreadable(exc)
            return None


#: Rows per multi-row INSERT on SQLite: well under its 32,766 parameters.
_ROWS_PER_INSERT = 500
#: Columns intake writes for a new document: every column of the table; what a prepared row
#: leaves out takes the default.
_NEW_DOCUMENT_COLUMNS = tuple(c.name for c in documents.columns)
_DOCUMENT_DEFAULTS: dict[str, Any] = {"subject": "", "body": "", "status": "received", "meta": {}}
_JSON_COLUMNS = frozenset({"sender", "meta"})
_TIMESTAMP_COLUMNS = frozenset({"received_at", "created_at", "registered_at", "closed_at"})
_NEW_DELIVERY_COLUMNS = (
    "document_id",
    "connector",
    "target",
    "idempotency_key",
    "state",
    "depends_on",
    "attempts",
    "next_attempt_at",
    "lease_owner",
    "lease_until",
    "created_at",
    "updated_at",
)
#: The tables the hot path writes in batches (:meth:`_HotSql.insert_rows`), with their columns.
_BATCH_TABLES = (
    (documents, _NEW_DOCUMENT_COLUMNS),
    (deliveries, _NEW_DELIVERY_COLUMNS),
    (events, _EVENT_COLUMNS),
    (attempts, _ATTEMPT_COLUMNS),
)
#: What a claim reads of each due delivery, in :attr:`_HotSql.select_due`'s order.
_CLAIM_COLUMNS = ("id", "document_id", "target", "idempotency_key", "attempts", "state")
#: What a job carries of its document: the columns a :class:`Document` has ("meta" is its
#: metadata), without intake's own bookkeeping.
_DOCUMENT_COLUMNS = tuple(
    c
    for c in _NEW_DOCUMENT_COLUMNS
    if c not in ("idempotency_key", "request_hash", "routing_rule", "closed_at")
)


def _pg_claim(due_states: str) -> str:
    """PostgreSQL's claim as one statement, parameters ``connector``, ``now``, ``limit``,
    ``owner`` and ``until``. Rows in due order: the delivery's id, target, idempotency key and
    new attempt count, then the document's :data:`_DOCUMENT_COLUMNS`, then its attachments as
    a JSON array of ``[filename, content_type, sha256, size]`` (null if none)."""
    events_columns = ", ".join(_EVENT_COLUMNS)
    document_columns = ", ".join(f"doc.{c}" for c in _DOCUMENT_COLUMNS)
    return (
        "WITH due AS ("
        " SELECT id, state, next_attempt_at FROM deliveries"
        f" WHERE connector = %(connector)s AND state IN ({due_states})"
        " AND next_attempt_at <= %(now)s"
        " ORDER BY next_attempt_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED"
        "), leased AS ("
        " UPDATE deliveries AS d SET state = 'in_flight', attempts = d.attempts + 1,"
        " lease_owner = %(owner)s, lease_until = %(until)s, updated_at = %(now)s"
        " FROM due WHERE d.id = due.id"
        " RETURNING d.id, d.document_id, d.target, d.idempotency_key, d.attempts,"
        " due.state AS from_state, due.next_attempt_at AS due_at"
        "), claimed AS ("
        f" INSERT INTO events ({events_columns})"
        " SELECT %(now)s, document_id, id, %(owner)s, 'claimed', from_state, 'in_flight', NULL"
        " FROM leased ORDER BY due_at, id"
        ")"
        f" SELECT l.id, l.target, l.idempotency_key, l.attempts, {document_columns},"
        " (SELECT json_agg(json_build_array(da.filename, da.content_type, da.sha256, a.size)"
        " ORDER BY da.position)"
        " FROM document_attachments da JOIN attachments a ON a.sha256 = da.sha256"
        " WHERE da.document_id = l.document_id)"
        " FROM leased l JOIN documents doc ON doc.id = l.document_id"
        " ORDER BY l.due_at, l.id"
    )


def _pg_record() -> str:
    """PostgreSQL's outcome recording as one statement, run outside a transaction block.

    Parameters, in order: the attempts' columns (:data:`_ATTEMPT_COLUMNS`, one array each), the
    outcomes' (:data:`_OUTCOME_COLUMNS`, at most one per delivery and attempt), the
    registrations (delivery id, attempt, number, time), and the clock twice. The fence is the
    update's own condition: only the attempt that holds the delivery moves it (a stale outcome
    keeps its attempt row and does nothing else; a row another transaction changed meanwhile
    is checked again once its lock is free). The documents' registration numbers, the release
    of the deliveries that waited for a delivered one, and every event follow from the rows
    the update moved. The events are one insert, in a set order (the moves, then the
    releases, each in the batch's order, as SQLite writes them): the sub-statements of one
    statement run in no order of their own. Returns how many deliveries were released."""
    fields = ", ".join(c for c, _ in _OUTCOME_COLUMNS)
    return (
        "WITH tried AS ("
        f" INSERT INTO attempts ({', '.join(_ATTEMPT_COLUMNS)})"
        f" SELECT * FROM unnest({_pg_arrays(attempts, [(c, c) for c in _ATTEMPT_COLUMNS])})"
        "), v AS ("
        f" SELECT * FROM unnest({_pg_arrays(deliveries, _OUTCOME_COLUMNS)})"
        f" WITH ORDINALITY AS v({fields}, n)"
        "), moved AS ("
        " UPDATE deliveries AS d SET state = v.state, next_attempt_at = v.next_attempt_at,"
        " lease_owner = NULL, lease_until = NULL, last_error = v.last_error,"
        " last_error_type = v.last_error_type, receipt = v.receipt,"
        " delivered_at = v.delivered_at, updated_at = v.updated_at"
        " FROM v WHERE d.id = v.id AND d.state = 'in_flight' AND d.attempts = v.attempt"
        " RETURNING d.id, d.document_id, d.connector, v.attempt, v.state, v.last_error,"
        " v.worker, v.updated_at, v.n"
        "), registered AS ("
        " UPDATE documents AS doc SET registration_number = r.number,"
        " registered_at = r.at, status = 'registered'"
        # The last of a document's registrations in the batch, as one update after another
        # would leave it.
        " FROM (SELECT DISTINCT ON (m.document_id) m.document_id, r.number, r.at"
        " FROM unnest(%s::BIGINT[], %s::INTEGER[], %s::VARCHAR[],"
        " %s::TIMESTAMP WITH TIME ZONE[]) WITH ORDINALITY AS r(id, attempt, number, at, n)"
        " JOIN moved m ON m.id = r.id AND m.attempt = r.attempt"
        " ORDER BY m.document_id, r.n DESC) AS r"
        " WHERE doc.id = r.document_id"
        "), released AS ("
        " UPDATE deliveries AS w SET state = 'pending', next_attempt_at = %s, updated_at = %s"
        " FROM moved m WHERE m.state = 'delivered' AND w.document_id = m.document_id"
        " AND w.state = 'waiting' AND w.depends_on = m.connector"
        " RETURNING w.id, w.document_id, w.depends_on, m.updated_at, m.n"
        "), logged AS ("
        f" INSERT INTO events ({', '.join(_EVENT_COLUMNS)})"
        " SELECT at, document_id, delivery_id, actor, action, from_state, to_state, reason"
        " FROM ("
        " SELECT 0 AS step, n, updated_at AS at, document_id, id AS delivery_id,"
        " worker AS actor, state AS action, 'in_flight' AS from_state, state AS to_state,"
        " last_error AS reason FROM moved"
        " UNION ALL SELECT 1, n, updated_at, document_id, id, 'hub', 'released', 'waiting',"
        " 'pending', depends_on || ' delivered' FROM released"
        " ) AS e ORDER BY step, n, delivery_id"
        ")"
        " SELECT count(*) FROM released"
    )


def _document_from_row(row: Any, refs: list[AttachmentRef]) -> Document:
    """A :class:`Document` from a ``documents`` row, read back or just written."""
    data = dict(row)
    data["metadata"] = data.pop("meta") or {}
    data["attachments"] = refs
    if data.get("sender"):
        # Validated at intake: checking the CNP/CUI again on every claim costs ~60 % of
        # building the document, for nothing.
        data["sender"] = Sender.model_construct(**data["sender"])
    for key in ("received_at", "created_at", "registered_at"):
        # In UTC, whatever offset came in (UTCDateTime); SQLite keeps UTC without an offset.
        value = data.get(key)
        if isinstance(value, datetime):
            data[key] = as_utc(value)
    return Document.model_validate(data)


#: What stored data that no longer makes a :class:`Document` raises: pydantic's
#: ValidationError, orjson's and ``fromisoformat``'s errors are ValueErrors, a stored sender
#: that is not an object a TypeError. Anything else is a bug and fails the claim loudly.
_UNREADABLE = (ValueError, TypeError)


def _unreadable(exc: Exception) -> str:
    """Why a claimed delivery was dead-lettered: the error's type alone (a validation error's
    text quotes the stored values, personal data among them)."""
    return f"stored document no longer reads as a document ({type(exc).__name__})"


def _report(
    on_dead: Callable[[int, str], None] | None, dead: Sequence[tuple[int, str, str]]
) -> None:
    """Tell ``on_dead`` of each dead letter, after the commit: one that raises must not turn
    a committed claim into a failed one (its jobs would stay leased, unrun)."""
    if on_dead is None:
        return
    for delivery_id, _, reason in dead:
        try:
            on_dead(delivery_id, reason)
        except Exception as exc:
            log.error(
                "hub.ledger.on_dead_failed",
                delivery_id=delivery_id,
                error_type=type(exc).__name__,
            )


def _attempt_row(o: Outcome) -> tuple[Any, ...]:
    """``o``'s row of ``attempts``, in :data:`_ATTEMPT_COLUMNS` order."""
    return (
        o.delivery_id,
        o.attempt,
        o.worker,
        o.started_at,
        o.duration_ms,
        o.state if o.error_type is None else o.error_type,
        o.status_code,
        o.error_type,
        o.message,
        o.remote_ref,
    )


def _finish_row(o: Outcome, now: float) -> tuple[Any, ...]:
    """What ``o`` sets on its delivery, in :data:`_FINISH_COLUMNS` order."""
    return (
        str(o.state),
        o.next_attempt_at if o.next_attempt_at is not None else now,
        o.reason,
        o.error_type,
        _json_text(o.receipt),
        now if o.state == DeliveryState.DELIVERED.value else None,
        now,
        o.delivery_id,
        o.attempt,
    )


def _registration(o: Outcome, now: float) -> tuple[str, datetime] | None:
    """The registration number a delivered outcome's receipt carries, if any, as text, and
    when it was registered (the receipt's time, else the delivery's), in UTC."""
    r = o.receipt or {}
    number = r.get("registration_number")
    if not number:
        return None
    number = str(number)
    reg_at = r.get("registered_at")
    at = datetime.fromisoformat(reg_at) if reg_at else _utc(now)
    return number, as_utc(at)


def _json_text(value: dict[str, Any] | None) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


#: SQLite's primary result code for "the database is locked by another connection".
_SQLITE_BUSY = 5


class Ledger:
    def __init__(
        self,
        writer: Engine,
        reader: Engine | None = None,
        *,
        bookkeeping: Engine | None = None,
        inline: Engine | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``inline``: SQLite's no-wait bookkeeping engine for calls made on the event loop
        (:meth:`without_waiting`, :func:`hub.db.engine.make_inline_engine`)."""
        self.writer = writer
        self.reader = reader or writer
        self.bookkeeping_engine = bookkeeping or writer
        self.inline_engine = inline
        self.clock = clock
        self.sqlite = is_sqlite(str(writer.url))
        self._hot = _HotSql(self.sqlite)
        self._insert = sqlite.insert if self.sqlite else postgresql.insert
        self._here = threading.local()  # .no_wait: this thread is in without_waiting()

    @contextlib.contextmanager
    def without_waiting(self) -> Iterator[None]:
        """Bookkeeping on the calling thread — the event loop's, through
        :meth:`DbRunner.bookkeep <hub.db.runner.DbRunner.bookkeep>` — on the inline engine:
        where the call would wait for another process's write lock it raises
        :class:`~hub.db.runner.LedgerBusy` instead, having changed nothing (the lock is taken
        by the transaction's first statement, ``BEGIN IMMEDIATE``)."""
        if self.inline_engine is None:
            raise LedgerBusy("no inline engine: run it on the writer thread")
        self._here.no_wait = True
        try:
            yield
        except OperationalError as exc:
            if getattr(exc.orig, "sqlite_errorcode", 0) & 0xFF == _SQLITE_BUSY:
                raise LedgerBusy("another process holds the write lock") from None
            raise
        finally:
            self._here.no_wait = False

    def checkpoint(self) -> None:
        """SQLite: copy what the WAL holds into the database, as far as readers allow, without
        waiting for them (``PASSIVE``): for the inline engine, which never checkpoints itself
        (:func:`hub.db.engine.make_inline_engine`). Nothing on PostgreSQL."""
        if not self.sqlite:
            return
        raw = self.writer.raw_connection()  # outside a transaction, which would block it
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").close()
        finally:
            raw.close()

    @contextlib.contextmanager
    def _bookkeeping(self) -> Iterator[Connection]:
        """A write transaction without its own fsync (see :mod:`hub.db.engine`)."""
        engine = self.bookkeeping_engine
        if self.inline_engine is not None and getattr(self._here, "no_wait", False):
            engine = self.inline_engine
        with engine.begin() as conn:
            if not self.sqlite and self.bookkeeping_engine is self.writer:
                # The bookkeeping engine's sessions relax it at connect (hub.db.engine).
                conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            yield conn

    @contextlib.contextmanager
    def _one_statement(self) -> Iterator[Connection]:
        """PostgreSQL: a bookkeeping connection outside a transaction block, for a write that
        is one statement (atomic on its own: no BEGIN and COMMIT round trips around it). Its
        sessions start with ``synchronous_commit`` off (hub.db.engine). A ledger given no
        bookkeeping engine relaxes it in a transaction of the writer's instead."""
        if self.bookkeeping_engine is self.writer:
            with self._bookkeeping() as conn:
                yield conn
            return
        with self.bookkeeping_engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

    # --- intake -------------------------------------------------------------------------------

    def insert_documents(
        self,
        batch: Sequence[PreparedDocument],
        *,
        cursor: tuple[str, dict[str, Any] | None] | None = None,
        handoff: HandOff | None = None,
    ) -> list[IntakeResult]:
        """Write new documents with all their deliveries in one transaction; return, for each
        item, the document it resolved to (an existing one when it is a replay). With a
        ``handoff``, claim what it has room for in the same transaction (see :class:`HandOff`)."""
        for tries in range(3):
            if handoff is not None:
                handoff.jobs.clear()
                handoff.pending.clear()
            try:
                with self.writer.begin() as conn:
                    results = self._insert_documents(conn, batch, handoff)
                    if cursor is not None:
                        self._save_cursor(conn, cursor[0], cursor[1], len(batch))
                    return results
            except IntegrityError:
                # Another process inserted the same key between our look-up and insert.
                if tries == 2:
                    raise
        raise AssertionError("unreachable")

    def _insert_documents(
        self, conn: Any, batch: Sequence[PreparedDocument], handoff: HandOff | None = None
    ) -> list[IntakeResult]:
        now = self.clock()
        hot = self._hot
        slots = dict(handoff.slots) if handoff is not None else {}
        by_ext, by_idem = self._known_documents(conn, batch)

        results: list[IntakeResult] = []
        new_docs: list[tuple[Any, ...]] = []
        new_blobs: dict[str, PreparedAttachment] = {}
        new_links: list[dict[str, Any]] = []
        new_deliveries: list[tuple[Any, ...]] = []
        new_events: list[tuple[Any, ...]] = []
        # (delivery key, the connector's row values, the prepared document) of each delivery
        # claimed here for the hand-off
        claimed: list[tuple[str, tuple[Any, ...], PreparedDocument]] = []
        waiting, pending = DeliveryState.WAITING.value, DeliveryState.PENDING.value
        in_flight = DeliveryState.IN_FLIGHT.value
        for p in batch:
            row = p.row
            idem = row.get("idempotency_key")
            hit = (by_idem.get(idem) if idem else None) or by_ext.get(
                (row["source"], row["external_id"])
            )
            if hit is not None:
                results.append(IntakeResult(hit[0], False, conflict=hit[1] != row["request_hash"]))
                continue
            doc_id = row["id"]
            by_ext[(row["source"], row["external_id"])] = (doc_id, row["request_hash"])
            if idem:
                by_idem[idem] = (doc_id, row["request_hash"])
            new_docs.append(hot.document_values(row))
            for pos, a in enumerate(p.attachments):
                new_blobs.setdefault(a.sha256, a)
                new_links.append(
                    {
                        "document_id": doc_id,
                        "position": pos,
                        "filename": a.filename,
                        "content_type": a.content_type,
                        "sha256": a.sha256,
                    }
                )
            for d in p.destinations:
                key = delivery_key(doc_id, d.connector, d.target)
                state, attempts, owner, lease_until = (
                    (waiting if d.after else pending),
                    0,
                    None,
                    None,
                )
                if not d.after and handoff is not None:
                    if slots.get(d.connector, 0) > 0:
                        slots[d.connector] -= 1
                        state, attempts = in_flight, 1
                        owner, lease_until = handoff.owner, now + handoff.lease_seconds
                    else:
                        handoff.pending[d.connector] = handoff.pending.get(d.connector, 0) + 1
                values = (
                    doc_id,
                    d.connector,
                    d.target,
                    key,
                    state,
                    d.after,
                    attempts,
                    now,
                    owner,
                    lease_until,
                    now,
                    now,
                )
                new_deliveries.append(values)
                if state == in_flight:
                    claimed.append((key, values, p))
            new_events.append((now, doc_id, None, p.actor, "received", None, None, p.reason))
            results.append(IntakeResult(doc_id, True))

        if new_docs:
            hot.insert_rows(conn, "documents", new_docs)
        if new_blobs:
            stmt = self._insert(attachments).on_conflict_do_nothing(index_elements=["sha256"])
            conn.execute(
                stmt,
                [
                    {"sha256": s, "size": len(a.content), "content": a.content}
                    for s, a in new_blobs.items()
                ],
            )
        if new_links:
            conn.execute(insert(document_attachments), new_links)
        if claimed:
            assert handoff is not None
            # RETURNING comes back in no promised order: ids are matched by idempotency key.
            ids = dict(
                hot.insert_rows(conn, "deliveries", new_deliveries, returning="idempotency_key, id")
            )
            self._hand_off(handoff, [(ids[key], values, p) for key, values, p in claimed])
            new_events.extend(
                (
                    now,
                    j.document.id,
                    j.delivery_id,
                    handoff.owner,
                    "claimed",
                    pending,
                    in_flight,
                    None,
                )
                for j in handoff.jobs
            )
        elif new_deliveries:
            hot.insert_rows(conn, "deliveries", new_deliveries)
        if new_events:
            hot.insert_rows(conn, "events", new_events)
        return results

    def _known_documents(
        self, conn: Any, batch: Sequence[PreparedDocument]
    ) -> tuple[dict[tuple[str, str], tuple[str, str]], dict[str, tuple[str, str]]]:
        """Documents already in the ledger that items of ``batch`` would duplicate, as
        (id, request hash) by (source, external id) and by idempotency key."""
        hot = self._hot
        # By source, so that both databases use the unique (source, external_id) index.
        by_source: dict[str, set[str]] = {}
        idem_keys = set()
        for p in batch:
            by_source.setdefault(p.row["source"], set()).add(p.row["external_id"])
            if p.row.get("idempotency_key"):
                idem_keys.add(p.row["idempotency_key"])
        found = []
        for source, external_ids in by_source.items():
            found += conn.exec_driver_sql(
                hot.known_by_external_id, (source, hot.ids(external_ids))
            ).all()
        if idem_keys:
            found += conn.exec_driver_sql(hot.known_by_idempotency_key, (hot.ids(idem_keys),)).all()
        by_ext: dict[tuple[str, str], tuple[str, str]] = {}
        by_idem: dict[str, tuple[str, str]] = {}
        for doc_id, source, external_id, idempotency_key, request_hash in found:
            by_ext[(source, external_id)] = (doc_id, request_hash)
            if idempotency_key:
                by_idem[idempotency_key] = (doc_id, request_hash)
        return by_ext, by_idem

    @staticmethod
    def _hand_off(
        handoff: HandOff,
        claimed: list[tuple[int, tuple[Any, ...], PreparedDocument]],
    ) -> None:
        """Jobs for the deliveries claimed at intake (id, the delivery's row values as
        :meth:`_insert_documents` wrote them, the prepared document), their documents built from
        the rows just written (as :meth:`_load_documents` would read them back)."""
        docs: dict[str, Document] = {}
        for delivery_id, (document_id, connector, target, key, *_), p in claimed:
            doc = docs.get(document_id)
            if doc is None:
                # JSON columns as the ledger gives them back (a source's metadata may hold
                # dates or other values that the JSON column turns into strings).
                row = {
                    **p.row,
                    "meta": orjson.loads(orjson.dumps(p.row.get("meta", {}))),
                    "sender": orjson.loads(orjson.dumps(p.row.get("sender"))),
                }
                doc = docs[document_id] = _document_from_row(
                    row,
                    [
                        AttachmentRef(
                            filename=a.filename,
                            content_type=a.content_type,
                            size=len(a.content),
                            sha256=a.sha256,
                        )
                        for a in p.attachments
                    ],
                )
            handoff.jobs.append(
                Job(
                    delivery_id=delivery_id,
                    connector=connector,
                    idempotency_key=key,
                    attempt=1,
                    document=doc,
                    target=target,
                )
            )

    # --- dispatch -----------------------------------------------------------------------------

    @staticmethod
    def insert_pending_delivery(
        conn: Connection, document_id: str, connector: str, target: str | None, now: float
    ) -> int:
        """A delivery added to a document after intake (an operator's extra destination, a
        re-routed item), due at once, in the caller's transaction. Returns its id."""
        return int(
            conn.execute(
                insert(deliveries)
                .values(
                    document_id=document_id,
                    connector=connector,
                    target=target,
                    idempotency_key=delivery_key(document_id, connector, target),
                    state=DeliveryState.PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                    updated_at=now,
                )
                .returning(deliveries.c.id)
            ).scalar_one()
        )

    def claim(
        self,
        connector: str,
        limit: int,
        owner: str,
        lease_seconds: float,
        *,
        on_dead: Callable[[int, str], None] | None = None,
    ) -> list[Job]:
        """Claim up to ``limit`` due deliveries of ``connector`` with a lease; build their jobs.

        A delivery whose stored document no longer reads as a :class:`Document` (the model
        changed under it, say) cannot be attempted, now or later: it is dead-lettered with the
        error's type as its reason (the claim's other deliveries go on), and reported to
        ``on_dead(delivery_id, reason)`` once written. Claimed and dead-lettered together never
        exceed ``limit``."""
        now = self.clock()
        hot = self._hot
        if not self.sqlite:
            return self._claim_one_statement(
                connector, limit, owner, now + lease_seconds, now, on_dead
            )
        unreadable: dict[str, str] = {}
        with self._bookkeeping() as conn:
            rows = conn.exec_driver_sql(hot.select_due, (connector, now, limit)).all()
            if not rows:
                return []
            conn.exec_driver_sql(
                hot.lease, (owner, now + lease_seconds, now, hot.ids(r[0] for r in rows))
            )
            in_flight = DeliveryState.IN_FLIGHT.value
            hot.insert_rows(
                conn,
                "events",
                [
                    (now, document_id, delivery_id, owner, "claimed", state, in_flight, None)
                    for delivery_id, document_id, _, _, _, state in rows
                ],
            )
            docs = self._load_documents(conn, {r[1] for r in rows}, unreadable)
            dead = [(r[0], r[1], unreadable[r[1]]) for r in rows if r[1] in unreadable]
            if dead:
                dead = self._dead_letter_unreadable(conn, dead, owner, now)
            # Built before the commit: if building fails, nothing stays leased.
            jobs = [
                Job(
                    delivery_id=delivery_id,
                    connector=connector,
                    idempotency_key=key,
                    attempt=tries + 1,
                    document=docs[document_id],
                    target=target,
                )
                for delivery_id, document_id, target, key, tries, _ in rows
                if document_id not in unreadable
            ]
        _report(on_dead, dead)
        return jobs

    def _dead_letter_unreadable(
        self, conn: Any, dead: Sequence[tuple[int, str, str]], owner: str, now: float
    ) -> list[tuple[int, str, str]]:
        """Dead-letter claimed deliveries (id, document id, reason) whose document no longer
        reads (:meth:`claim`): not attempted, so the claim's count is given back; a ``dead``
        event after the ``claimed`` one. Only those still held by this claim (on PostgreSQL
        this runs after the claim's commit) are moved, and returned."""
        held = set(
            conn.execute(
                select(deliveries.c.id)
                .where(
                    deliveries.c.id.in_([delivery_id for delivery_id, _, _ in dead]),
                    deliveries.c.state == DeliveryState.IN_FLIGHT,
                    deliveries.c.lease_owner == owner,
                )
                .with_for_update()
            ).scalars()
        )
        moved = [d for d in dead if d[0] in held]
        if not moved:
            return []
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id == bindparam("b_id"))
            .values(
                state=DeliveryState.DEAD,
                attempts=deliveries.c.attempts - 1,
                lease_owner=None,
                lease_until=None,
                last_error=bindparam("b_reason"),
                last_error_type="UnreadableDocument",
                updated_at=now,
            ),
            [{"b_id": delivery_id, "b_reason": reason} for delivery_id, _, reason in moved],
        )
        in_flight, gone = DeliveryState.IN_FLIGHT.value, DeliveryState.DEAD.value
        self._hot.insert_rows(
            conn,
            "events",
            [
                (now, document_id, delivery_id, owner, gone, in_flight, gone, reason)
                for delivery_id, document_id, reason in moved
            ],
        )
        return moved

    def _claim_one_statement(
        self,
        connector: str,
        limit: int,
        owner: str,
        until: float,
        now: float,
        on_dead: Callable[[int, str], None] | None,
    ) -> list[Job]:
        """PostgreSQL: the claim in one statement (:func:`_pg_claim`), without a transaction
        block around it (a BEGIN and a COMMIT fewer)."""
        params = dict(connector=connector, now=now, limit=limit, owner=owner, until=until)
        with self._one_statement() as conn:
            rows = conn.exec_driver_sql(self._hot.claim_one_statement, params).all()
        dead: list[tuple[int, str, str]] = []
        try:
            jobs = self._jobs(connector, rows, dead)
            if dead:
                with self._bookkeeping() as conn:
                    dead = self._dead_letter_unreadable(conn, dead, owner, now)
        except Exception:
            # Committed already, unlike SQLite's claim, whose transaction would roll back: give
            # the claims back, then raise.
            self.release_leases(owner, [row[0] for row in rows])
            raise
        _report(on_dead, dead)
        return jobs

    def _jobs(
        self, connector: str, rows: Sequence[Any], dead: list[tuple[int, str, str]]
    ) -> list[Job]:
        """The jobs of :meth:`_claim_one_statement`'s rows; those whose document no longer
        reads are added to ``dead`` (delivery id, document id, reason) instead."""
        documents: dict[str, Document] = {}
        unreadable: dict[str, str] = {}
        jobs = []
        width = len(_DOCUMENT_COLUMNS)
        for row in rows:
            delivery_id, target, key, attempt = row[:4]
            values = row[4 : 4 + width]
            document_id = values[0]
            document = documents.get(document_id)
            if document is None and document_id not in unreadable:
                refs = [
                    AttachmentRef(filename=f, content_type=t, sha256=h, size=n)
                    for f, t, h, n in row[4 + width] or ()
                ]
                document = self._hot.readable(values, refs, unreadable)
                if document is not None:
                    documents[document_id] = document
            if document is None:
                dead.append((delivery_id, document_id, unreadable[document_id]))
                continue
            jobs.append(
                Job(
                    delivery_id=delivery_id,
                    connector=connector,
                    idempotency_key=key,
                    attempt=attempt,
                    document=document,
                    target=target,
                )
            )
        return jobs

    def _load_documents(
        self, conn: Any, ids: Iterable[str], unreadable: dict[str, str] | None = None
    ) -> dict[str, Document]:
        """The documents of ``ids``. With ``unreadable``, one that no longer reads as a
        :class:`Document` is left out and its reason recorded there instead of raising."""
        hot = self._hot
        id_set = hot.ids(ids)
        refs: dict[str, list[AttachmentRef]] = {}
        for document_id, filename, content_type, sha256, size in conn.exec_driver_sql(
            hot.select_attachment_refs, (id_set,)
        ):
            refs.setdefault(document_id, []).append(
                AttachmentRef(
                    filename=filename, content_type=content_type, size=size, sha256=sha256
                )
            )
        rows = conn.exec_driver_sql(hot.select_documents, (id_set,))
        if unreadable is None:
            return {row[0]: hot.document(row, refs.get(row[0], [])) for row in rows}
        docs = {}
        for row in rows:
            if (doc := hot.readable(row, refs.get(row[0], []), unreadable)) is not None:
                docs[row[0]] = doc
        return docs

    def record_outcomes(self, outcomes: Sequence[Outcome]) -> int:
        """Record attempts and move deliveries on, in one transaction. Returns how many
        dependent deliveries were released (so the dispatcher can wake their lanes)."""
        if not outcomes:
            return 0
        now = self.clock()
        if not self.sqlite:
            return self._record_one_statement(outcomes, now)
        released = 0
        hot = self._hot
        with self._bookkeeping() as conn:
            # The fence: only the attempt that holds the delivery now may move it. A stale
            # outcome (its lease expired and another attempt was claimed) keeps its attempt row
            # as history but changes no state, writes no event and releases nothing.
            current: dict[int, int] = dict(
                conn.exec_driver_sql(hot.held, (hot.ids(o.delivery_id for o in outcomes),)).all()
            )
            hot.insert_rows(conn, "attempts", [_attempt_row(o) for o in outcomes])
            # The first outcome per delivery: one batch holding two for the same attempt (a
            # caller's mistake; the dispatcher records each attempt once) moves it once, as the
            # update of that row by the first of them would have.
            first: dict[int, Outcome] = {}
            for o in outcomes:
                if current.get(o.delivery_id) == o.attempt:
                    first.setdefault(o.delivery_id, o)
            fresh = list(first.values())
            if not fresh:
                return 0
            delivered_state = DeliveryState.DELIVERED.value
            hot.finish(conn, [_finish_row(o, now) for o in fresh])
            in_flight = DeliveryState.IN_FLIGHT.value
            ev = [
                (
                    now,
                    o.document_id,
                    o.delivery_id,
                    o.worker,
                    str(o.state),
                    in_flight,
                    str(o.state),
                    o.reason,
                )
                for o in fresh
            ]
            delivered = [o for o in fresh if o.state == delivered_state]
            if delivered:
                released = self._after_delivered(conn, delivered, now, ev)
            hot.insert_rows(conn, "events", ev)
        return released

    def _record_one_statement(self, outcomes: Sequence[Outcome], now: float) -> int:
        """PostgreSQL: :meth:`record_outcomes` in one statement (:func:`_pg_record`), outside
        a transaction block. The first outcome per delivery and attempt moves it (one batch
        holding two is a caller's mistake), as on SQLite."""
        first: dict[tuple[int, int], Outcome] = {}
        for o in outcomes:
            first.setdefault((o.delivery_id, o.attempt), o)
        delivered_state = DeliveryState.DELIVERED.value
        registrations = [
            (o.delivery_id, o.attempt, *registration)
            for o in first.values()
            if o.state == delivered_state and (registration := _registration(o, now))
        ]
        with self._one_statement() as conn:
            return self._hot.record(
                conn,
                [_attempt_row(o) for o in outcomes],
                [(*_finish_row(o, now), o.worker) for o in first.values()],
                registrations,
                now,
            )

    def _after_delivered(
        self, conn: Any, delivered: list[Outcome], now: float, ev: list[tuple[Any, ...]]
    ) -> int:
        # Receipts that carry a registration number are written onto the document.
        updates = []
        for o in delivered:
            if (registration := _registration(o, now)) is not None:
                number, at = registration
                updates.append({"b_doc": o.document_id, "b_num": number, "b_at": at})
        if updates:
            conn.execute(
                update(documents)
                .where(documents.c.id == bindparam("b_doc"))
                .values(
                    registration_number=bindparam("b_num"),
                    registered_at=bindparam("b_at"),
                    status="registered",
                ),
                updates,
            )
        # Deliveries that waited for one of these are now due.
        done = {(o.document_id, o.connector) for o in delivered}
        waiting = conn.exec_driver_sql(
            self._hot.waiting, (self._hot.ids({d for d, _ in done}),)
        ).all()
        ready = [w for w in waiting if (w.document_id, w.depends_on) in done]
        if ready:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id.in_([w.id for w in ready]))
                .values(state=DeliveryState.PENDING, next_attempt_at=now, updated_at=now)
            )
            ev.extend(
                (
                    now,
                    w.document_id,
                    w.id,
                    "hub",
                    "released",
                    DeliveryState.WAITING.value,
                    DeliveryState.PENDING.value,
                    f"{w.depends_on} delivered",
                )
                for w in ready
            )
        return len(ready)

    def recover_expired_leases(self, actor: str = "hub") -> int:
        """Deliveries whose worker died mid-attempt become due again (same idempotency key)."""
        now = self.clock()
        expired = and_(
            deliveries.c.state == DeliveryState.IN_FLIGHT, deliveries.c.lease_until < now
        )
        with self._bookkeeping() as conn:
            # Locked as read (PostgreSQL; SQLite has one writer): an outcome and a new claim
            # of another process cannot slip in between, so a lease taken meanwhile is never
            # expired, and an event is written only for what this update moves. Rows another
            # transaction holds are left to the next round.
            rows = conn.execute(
                select(deliveries.c.id, deliveries.c.document_id, deliveries.c.lease_owner)
                .where(expired)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return 0
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id.in_([r.id for r in rows]), expired)
                .values(
                    state=DeliveryState.RETRY_SCHEDULED,
                    next_attempt_at=now,
                    lease_owner=None,
                    lease_until=None,
                    updated_at=now,
                )
            )
            self._hot.insert_rows(
                conn,
                "events",
                [
                    (
                        now,
                        r.document_id,
                        r.id,
                        actor,
                        "lease_expired",
                        DeliveryState.IN_FLIGHT.value,
                        DeliveryState.RETRY_SCHEDULED.value,
                        f"lease of {r.lease_owner} expired",
                    )
                    for r in rows
                ],
            )
        return len(rows)

    def release_leases(self, owner: str, ids: Sequence[int]) -> int:
        """Give back claims that never started (no attempt was made): the hub stopped, or the
        circuit opened, between the claim and the attempt, or one claimed ahead waited too long
        for a slot (:mod:`hub.dispatcher`). Each writes a ``claim_released`` event, so the
        trail shows why the delivery is pending again, and keeps its place in line (its
        ``next_attempt_at``, which a claim does not change)."""
        if not ids:
            return 0
        now = self.clock()
        held = and_(
            deliveries.c.id.in_(list(ids)),
            deliveries.c.lease_owner == owner,
            deliveries.c.state == DeliveryState.IN_FLIGHT,
        )
        with self._bookkeeping() as conn:
            rows = conn.execute(
                select(deliveries.c.id, deliveries.c.document_id).where(held).with_for_update()
            ).all()
            if not rows:
                return 0
            conn.execute(
                update(deliveries)
                .where(held)
                .values(
                    state=DeliveryState.PENDING,
                    attempts=deliveries.c.attempts - 1,
                    lease_owner=None,
                    lease_until=None,
                    updated_at=now,
                )
            )
            in_flight, pending = DeliveryState.IN_FLIGHT.value, DeliveryState.PENDING.value
            self._hot.insert_rows(
                conn,
                "events",
                [
                    (
                        now,
                        r.document_id,
                        r.id,
                        owner,
                        "claim_released",
                        in_flight,
                        pending,
                        "claimed but not attempted",
                    )
                    for r in rows
                ],
            )
            return len(rows)

    def next_due_at(self, connector: str) -> float | None:
        with self.reader.connect() as conn:
            value = conn.execute(
                select(func.min(deliveries.c.next_attempt_at)).where(
                    deliveries.c.connector == connector, deliveries.c.state.in_(DUE_STATES)
                )
            ).scalar()
        return float(value) if value is not None else None

    # --- operator actions ---------------------------------------------------------------------

    def select_delivery_ids(self, flt: DeliveryFilter, limit: int | None = None) -> list[int]:
        q = select(deliveries.c.id).where(flt.where()).order_by(deliveries.c.id)
        if limit is not None:
            q = q.limit(limit)
        with self.reader.connect() as conn:
            return [int(r[0]) for r in conn.execute(q)]

    def _transition(
        self,
        ids: Sequence[int],
        from_states: Sequence[str],
        to_state: str,
        actor: str,
        action: str,
        reason: str | None,
        extra: dict[str, Any],
    ) -> int:
        if not ids:
            return 0
        now = self.clock()
        with self.writer.begin() as conn:
            rows = conn.execute(
                select(deliveries.c.id, deliveries.c.document_id, deliveries.c.state).where(
                    deliveries.c.id.in_(list(ids)), deliveries.c.state.in_(list(from_states))
                )
            ).all()
            if not rows:
                return 0
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id.in_([r.id for r in rows]))
                .values(state=to_state, updated_at=now, **extra)
            )
            self._hot.insert_rows(
                conn,
                "events",
                [
                    (now, r.document_id, r.id, actor, action, r.state, str(to_state), reason)
                    for r in rows
                ],
            )
            return len(rows)

    def replay(self, ids: Sequence[int], actor: str, reason: str | None = None) -> int:
        """Dead (or cancelled) deliveries go back to pending with a fresh attempt budget."""
        return self._transition(
            ids,
            (DeliveryState.DEAD.value, DeliveryState.CANCELLED.value),
            DeliveryState.PENDING.value,
            actor,
            "replayed",
            reason,
            {"attempts": 0, "next_attempt_at": self.clock(), "last_error": None},
        )

    def cancel(self, ids: Sequence[int], actor: str, reason: str | None = None) -> int:
        return self._transition(
            ids,
            (
                DeliveryState.PENDING.value,
                DeliveryState.RETRY_SCHEDULED.value,
                DeliveryState.WAITING.value,
                DeliveryState.DEAD.value,
            ),
            DeliveryState.CANCELLED.value,
            actor,
            "cancelled",
            reason,
            {},
        )

    def complete_deliveries(
        self, ids: Sequence[int], receipt: dict[str, Any], actor: str, reason: str
    ) -> int:
        """Close open deliveries that something outside the dispatcher completed (a paper act
        handed over against signature): delivered with ``receipt``, one ``completed`` event
        each, and the deliveries waiting for them released. In-flight ones are left alone."""
        if not ids:
            return 0
        now = self.clock()
        with self.writer.begin() as conn:
            rows = conn.execute(
                select(
                    deliveries.c.id,
                    deliveries.c.document_id,
                    deliveries.c.connector,
                    deliveries.c.state,
                ).where(
                    deliveries.c.id.in_(list(ids)),
                    deliveries.c.state.in_(
                        [
                            DeliveryState.PENDING.value,
                            DeliveryState.RETRY_SCHEDULED.value,
                            DeliveryState.WAITING.value,
                            DeliveryState.DEAD.value,
                        ]
                    ),
                )
            ).all()
            if not rows:
                return 0
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id.in_([r.id for r in rows]))
                .values(
                    state=DeliveryState.DELIVERED,
                    receipt=receipt,
                    delivered_at=now,
                    last_error=None,
                    next_attempt_at=now,
                    updated_at=now,
                )
            )
            ev: list[Any] = [
                (now, r.document_id, r.id, actor, "completed", r.state, "delivered", reason)
                for r in rows
            ]
            done = [
                Outcome(r.id, r.document_id, r.connector, 0, DeliveryState.DELIVERED, now, 0, actor)
                for r in rows
            ]
            self._after_delivered(conn, done, now, ev)
            conn.execute(
                insert(events),
                [
                    e if isinstance(e, dict) else dict(zip(_EVENT_COLUMNS, e, strict=True))
                    for e in ev
                ],
            )
        return len(rows)

    # --- reads --------------------------------------------------------------------------------

    def connector_stats(self) -> dict[str, dict[str, Any]]:
        """Per connector: count per state, and the age of the oldest open delivery."""
        now = self.clock()
        out: dict[str, dict[str, Any]] = {}
        with self.reader.connect() as conn:
            for row in conn.execute(
                select(
                    deliveries.c.connector,
                    deliveries.c.state,
                    func.count(),
                    func.min(deliveries.c.created_at),
                ).group_by(deliveries.c.connector, deliveries.c.state)
            ):
                st = out.setdefault(
                    row[0], {s.value: 0 for s in DeliveryState} | {"oldest_open_age": 0.0}
                )
                st[row[1]] = int(row[2])
                if row[1] in OPEN_STATES and row[3] is not None:
                    st["oldest_open_age"] = max(st["oldest_open_age"], now - float(row[3]))
        return out

    def get_document(self, document_id: str) -> Document | None:
        with self.reader.connect() as conn:
            return self._load_documents(conn, [document_id]).get(document_id)

    def find_documents(
        self,
        *,
        registration_number: str | None = None,
        external_id: str | None = None,
        kind: str | None = None,
        limit: int = 50,
    ) -> list[Document]:
        q = select(documents.c.id).order_by(documents.c.created_at.desc()).limit(limit)
        if registration_number:
            q = q.where(documents.c.registration_number == registration_number)
        if external_id:
            q = q.where(documents.c.external_id == external_id)
        if kind:
            q = q.where(documents.c.kind == kind)
        with self.reader.connect() as conn:
            ids = [r[0] for r in conn.execute(q)]
            found = self._load_documents(conn, ids)
        return [found[i] for i in ids if i in found]

    def attachment_content(self, sha256: str) -> bytes | None:
        with self.reader.connect() as conn:
            value = conn.execute(
                select(attachments.c.content).where(attachments.c.sha256 == sha256)
            ).scalar()
        return bytes(value) if value is not None else None

    def deliveries_of(self, document_id: str) -> list[dict[str, Any]]:
        with self.reader.connect() as conn:
            return [
                dict(r)
                for r in conn.execute(
                    select(deliveries)
                    .where(deliveries.c.document_id == document_id)
                    .order_by(deliveries.c.id)
                ).mappings()
            ]

    def list_deliveries(
        self,
        *,
        state: str | None = None,
        connector: str | None = None,
        limit: int = 100,
        after_id: int = 0,
    ) -> list[dict[str, Any]]:
        q = (
            select(
                deliveries.c.id,
                deliveries.c.document_id,
                deliveries.c.connector,
                deliveries.c.target,
                deliveries.c.state,
                deliveries.c.attempts,
                deliveries.c.next_attempt_at,
                deliveries.c.last_error,
                deliveries.c.last_error_type,
                deliveries.c.created_at,
                deliveries.c.updated_at,
            )
            .where(deliveries.c.id > after_id)
            .order_by(deliveries.c.id)
            .limit(limit)
        )
        if state:
            q = q.where(deliveries.c.state == state)
        if connector:
            q = q.where(deliveries.c.connector == connector)
        with self.reader.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def get_delivery(self, delivery_id: int) -> dict[str, Any] | None:
        with self.reader.connect() as conn:
            row = (
                conn.execute(select(deliveries).where(deliveries.c.id == delivery_id))
                .mappings()
                .first()
            )
        return dict(row) if row else None

    def timeline(self, document_id: str) -> dict[str, list[dict[str, Any]]]:
        with self.reader.connect() as conn:
            ev = [
                dict(r)
                for r in conn.execute(
                    select(events).where(events.c.document_id == document_id).order_by(events.c.id)
                ).mappings()
            ]
            att = [
                dict(r)
                for r in conn.execute(
                    select(attempts)
                    .join(deliveries, deliveries.c.id == attempts.c.delivery_id)
                    .where(deliveries.c.document_id == document_id)
                    .order_by(attempts.c.id)
                ).mappings()
            ]
        return {"events": ev, "attempts": att}

    def count_documents(self) -> int:
        with self.reader.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(documents)).scalar() or 0)

    def record_event(
        self,
        action: str,
        actor: str,
        reason: str | None = None,
        *,
        document_id: str | None = None,
        delivery_id: int | None = None,
    ) -> None:
        with self.writer.begin() as conn:
            conn.execute(
                insert(events).values(
                    at=self.clock(),
                    document_id=document_id,
                    delivery_id=delivery_id,
                    actor=actor,
                    action=action,
                    reason=reason,
                )
            )

    # --- dashboard (issue #9) -----------------------------------------------------------------

    def attempt_counts(
        self, since: float, bucket_seconds: float
    ) -> list[tuple[str, int, bool, int]]:
        """Attempts since ``since`` as ``(connector, bucket, delivered, count)``; bucket ``n``
        covers ``[since + n*bucket_seconds, since + (n+1)*bucket_seconds)``. Feeds the
        overview's rates and its 24-hour chart."""
        bucket = func.round((attempts.c.started_at - since) / bucket_seconds - 0.5)
        ok = attempts.c.outcome == DeliveryState.DELIVERED.value
        q = (
            select(deliveries.c.connector, bucket, ok, func.count())
            .join(deliveries, deliveries.c.id == attempts.c.delivery_id)
            .where(attempts.c.started_at >= since)
            .group_by(deliveries.c.connector, bucket, ok)
        )
        with self.reader.connect() as conn:
            return [(r[0], int(r[1]), bool(r[2]), int(r[3])) for r in conn.execute(q)]

    def search_documents(
        self,
        *,
        registration_number: str | None = None,
        external_id: str | None = None,
        kind: str | None = None,
        department: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
    ) -> list[Document]:
        """Newest first; every given criterion must match (``since`` ≤ created_at < ``until``)."""
        q = select(documents.c.id).order_by(documents.c.created_at.desc()).limit(limit)
        for column, value in (
            (documents.c.registration_number, registration_number),
            (documents.c.external_id, external_id),
            (documents.c.kind, kind),
            (documents.c.department, department),
            (documents.c.status, status),
        ):
            if value:
                q = q.where(column == value)
        if since is not None:
            q = q.where(documents.c.created_at >= since)
        if until is not None:
            q = q.where(documents.c.created_at < until)
        with self.reader.connect() as conn:
            ids = [r[0] for r in conn.execute(q)]
            found = self._load_documents(conn, ids)
        return [found[i] for i in ids if i in found]

    def deliveries_matching(
        self, flt: DeliveryFilter, *, limit: int = 100, after_id: int = 0
    ) -> list[dict[str, Any]]:
        """Deliveries an operator action with ``flt`` would touch, by id, one page at a time."""
        q = (
            select(deliveries)
            .where(flt.where(), deliveries.c.id > after_id)
            .order_by(deliveries.c.id)
            .limit(limit)
        )
        with self.reader.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def count_deliveries(self, flt: DeliveryFilter) -> int:
        with self.reader.connect() as conn:
            q = select(func.count()).select_from(deliveries).where(flt.where())
            return int(conn.execute(q).scalar() or 0)

    @staticmethod
    def _overdue(today: date) -> ColumnElement[bool]:
        return and_(documents.c.due_date < today, documents.c.closed_at.is_(None))

    def overdue_by_kind(self, today: date) -> dict[str, int]:
        """Open documents (not closed) whose due date is before ``today``, per kind."""
        q = (
            select(documents.c.kind, func.count())
            .where(self._overdue(today))
            .group_by(documents.c.kind)
        )
        with self.reader.connect() as conn:
            return {str(r[0]): int(r[1]) for r in conn.execute(q)}

    def overdue_documents(
        self, today: date, *, department: str | None = None, limit: int = 200
    ) -> list[Document]:
        """Open documents past their due date, the most overdue first."""
        q = (
            select(documents.c.id)
            .where(self._overdue(today))
            .order_by(documents.c.due_date, documents.c.created_at)
            .limit(limit)
        )
        if department:
            q = q.where(documents.c.department == department)
        with self.reader.connect() as conn:
            ids = [r[0] for r in conn.execute(q)]
            found = self._load_documents(conn, ids)
        return [found[i] for i in ids if i in found]

    def set_source_paused(self, source: str, paused: bool) -> None:
        """An operator's pause (or resume): the source runner skips a paused source's polls."""
        with self.writer.begin() as conn:
            stmt = self._insert(source_state).values(
                source=source, documents_total=0, paused=paused
            )
            conn.execute(
                stmt.on_conflict_do_update(index_elements=["source"], set_={"paused": paused})
            )

    def source_paused(self, source: str) -> bool:
        with self.reader.connect() as conn:
            value = conn.execute(
                select(source_state.c.paused).where(source_state.c.source == source)
            ).scalar()
        return bool(value)

    # --- sources ------------------------------------------------------------------------------

    def get_cursor(self, source: str) -> dict[str, Any] | None:
        with self.reader.connect() as conn:
            value = conn.execute(
                select(source_state.c.cursor).where(source_state.c.source == source)
            ).scalar()
        return dict(value) if value else None

    def _save_cursor(
        self, conn: Any, source: str, cursor: dict[str, Any] | None, count: int
    ) -> None:
        now = self.clock()
        stmt = self._insert(source_state).values(
            source=source,
            cursor=cursor,
            last_poll_at=now,
            last_success_at=now,
            last_error=None,
            documents_total=count,
            paused=False,
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["source"],
                set_={
                    "cursor": stmt.excluded.cursor,
                    "last_poll_at": now,
                    "last_success_at": now,
                    "last_error": None,
                    "documents_total": source_state.c.documents_total + count,
                },
            )
        )

    def source_failed(self, source: str, error: str, pause_until: float | None = None) -> None:
        now = self.clock()
        with self.writer.begin() as conn:
            stmt = self._insert(source_state).values(
                source=source,
                last_poll_at=now,
                last_error=error,
                documents_total=0,
                paused=False,
                paused_until=pause_until,
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["source"],
                    set_={"last_poll_at": now, "last_error": error, "paused_until": pause_until},
                )
            )

    def source_states(self) -> list[dict[str, Any]]:
        with self.reader.connect() as conn:
            return [dict(r) for r in conn.execute(select(source_state)).mappings()]

    # --- API tokens ---------------------------------------------------------------------------

    @staticmethod
    def _hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def create_token(self, name: str, scopes: Sequence[str], unit: str | None = None) -> str:
        """Create a token; the plaintext is returned once and only its hash is stored.
        ``unit`` binds a ``unit``-scope token to one receiving unit's items."""
        token = "hub_" + secrets.token_urlsafe(32)
        with self.writer.begin() as conn:
            conn.execute(
                insert(api_tokens).values(
                    name=name,
                    scopes=",".join(sorted(set(scopes))),
                    token_hash=self._hash_token(token),
                    created_at=self.clock(),
                    unit=unit,
                )
            )
        return token

    def verify_token(self, token: str) -> tuple[str, frozenset[str]] | None:
        found = self.resolve_token(token)
        return None if found is None else (found[0], found[1])

    def resolve_token(self, token: str) -> tuple[str, frozenset[str], str | None] | None:
        """Name, scopes and bound unit (None for tokens not bound to a unit) of a live token."""
        with self.reader.connect() as conn:
            row = conn.execute(
                select(api_tokens.c.name, api_tokens.c.scopes, api_tokens.c.unit).where(
                    api_tokens.c.token_hash == self._hash_token(token),
                    api_tokens.c.revoked_at.is_(None),
                )
            ).first()
        if row is None:
            return None
        return row.name, frozenset(s for s in row.scopes.split(",") if s), row.unit

    def revoke_token(self, name: str) -> bool:
        with self.writer.begin() as conn:
            res = conn.execute(
                update(api_tokens)
                .where(api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=self.clock())
            )
        return bool(res.rowcount)

    def list_tokens(self) -> list[dict[str, Any]]:
        with self.reader.connect() as conn:
            return [
                dict(r)
                for r in conn.execute(
                    select(
                        api_tokens.c.name,
                        api_tokens.c.scopes,
                        api_tokens.c.created_at,
                        api_tokens.c.revoked_at,
                        api_tokens.c.unit,
                    ).order_by(api_tokens.c.name)
                ).mappings()
            ]


def today() -> date:
    return datetime.now(UTC).date()
