"""The dispatcher's hand-written statements (hub.db.ledger._HotSql) match the schema."""

from __future__ import annotations

import re

import orjson
import pytest
from sqlalchemy import create_engine

from hub.db.ledger import (
    _ATTEMPT_COLUMNS,
    _CLAIM_COLUMNS,
    _DOCUMENT_COLUMNS,
    _EVENT_COLUMNS,
    _NEW_DELIVERY_COLUMNS,
    _OUTCOME_COLUMNS,
    _HotSql,
)
from hub.db.schema import attempts, deliveries, documents, events, metadata
from hub.models import Document


def test_insert_columns_are_every_column_but_the_key() -> None:
    assert set(_EVENT_COLUMNS) == {c.name for c in events.columns} - {"id"}
    assert set(_ATTEMPT_COLUMNS) == {c.name for c in attempts.columns} - {"id"}
    # A new delivery: every column but the key and what only an attempt writes.
    attempt_only = {"id", "last_error", "last_error_type", "receipt", "delivered_at"}
    assert set(_NEW_DELIVERY_COLUMNS) == {c.name for c in deliveries.columns} - attempt_only


def test_claims_read_real_columns_and_every_field_of_a_document() -> None:
    assert set(_CLAIM_COLUMNS) <= {c.name for c in deliveries.columns}
    assert set(_DOCUMENT_COLUMNS) <= {c.name for c in documents.columns}
    # Every field a Document has comes from a column (metadata from "meta"), or is attachments.
    fields = {"meta" if f == "metadata" else f for f in Document.model_fields} - {"attachments"}
    assert set(_DOCUMENT_COLUMNS) == fields


@pytest.mark.parametrize(("sqlite", "mark"), [(True, "?"), (False, "%s")])
def test_statements_use_the_driver_paramstyle_and_real_columns(sqlite: bool, mark: str) -> None:
    hot = _HotSql(sqlite)
    for table, columns in (("events", _EVENT_COLUMNS), ("attempts", _ATTEMPT_COLUMNS)):
        assert hot._values[table] == (columns, "(" + ", ".join([mark] * len(columns)) + ")")
    lookups = (hot.select_documents, hot.select_attachment_refs, hot.waiting)
    lookups += (hot.known_by_external_id, hot.known_by_idempotency_key)
    for statement in lookups:
        assert ("json_each(?)" if sqlite else "= ANY(%s)") in statement
    if sqlite:  # the claim's and the outcome's steps
        assigned = re.findall(r"(\w+) = ", hot.finish_delivery)
        assert assigned and set(assigned) <= {c.name for c in deliveries.columns}
        assert hot.finish_delivery.count("?") == 9
        assert hot.select_due.count("?") == 3
        for statement in (hot.lease, hot.held):
            assert "json_each(?)" in statement
        assert hot.claim_one_statement == hot.record_one_statement == ""
        return
    # PostgreSQL's one statement each: every array typed, every column real.
    claim, record = hot.claim_one_statement, hot.record_one_statement
    assert "FOR UPDATE SKIP LOCKED" in claim and "%s" not in claim
    assert set(re.findall(r"%\((\w+)\)s", claim)) == {"connector", "now", "limit", "owner", "until"}
    assert record.count("%s") == len(_ATTEMPT_COLUMNS) + len(_OUTCOME_COLUMNS) + 4 + 2
    assert record.count("%s") == record.count("%s::") + 2  # the clock twice, untyped
    for statement, table in ((claim, deliveries), (record, deliveries)):
        assigned = re.findall(r"SET (\w+) = |, (\w+) = ", statement)
        names = {a or b for a, b in assigned} - {"registration_number", "registered_at"}
        assert names and names <= {c.name for c in table.columns} | {"status"}


def test_sqlite_looks_ids_up_by_index() -> None:
    """SQLite cannot size json_each(): without care it scans an index of states instead of
    looking the ids up. Every hot read and update of a set of ids searches by key."""
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    hot = _HotSql(sqlite=True)
    ids = orjson.dumps([1, 2]).decode()
    cases = {
        hot.held: ("deliveries", (ids,), "INTEGER PRIMARY KEY"),
        hot.waiting: ("deliveries", (ids,), "INDEX ix_deliveries_document_id"),
        hot.lease: ("deliveries", ("w", 1.0, 1.0, ids), "INTEGER PRIMARY KEY"),
        hot.select_documents: ("documents", (ids,), "INDEX"),
        hot.known_by_external_id: ("documents", ("api", ids), "INDEX"),
        hot.known_by_idempotency_key: ("documents", (ids,), "INDEX"),
        hot.select_due: ("deliveries", ("webhook", 1.0, 10), "INDEX ix_deliveries_claim"),
    }
    with engine.connect() as conn:
        for statement, (table, params, how) in cases.items():
            plan = " | ".join(
                row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)
            )
            assert f"SEARCH {table} USING" in plan and how in plan, (statement, plan)
            assert f"SCAN {table}" not in plan, (statement, plan)
