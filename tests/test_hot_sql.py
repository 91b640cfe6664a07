"""The dispatcher's hand-written statements (hub.db.ledger._HotSql) match the schema."""

from __future__ import annotations

import re

import pytest

from hub.db.ledger import (
    _ATTEMPT_COLUMNS,
    _CLAIM_COLUMNS,
    _DOCUMENT_COLUMNS,
    _EVENT_COLUMNS,
    _HotSql,
)
from hub.db.schema import attempts, deliveries, documents, events
from hub.models import Document


def test_insert_columns_are_every_column_but_the_key() -> None:
    assert set(_EVENT_COLUMNS) == {c.name for c in events.columns} - {"id"}
    assert set(_ATTEMPT_COLUMNS) == {c.name for c in attempts.columns} - {"id"}


def test_claims_read_real_columns_and_every_field_of_a_document() -> None:
    assert set(_CLAIM_COLUMNS) <= {c.name for c in deliveries.columns}
    assert set(_DOCUMENT_COLUMNS) <= {c.name for c in documents.columns}
    # Every field a Document has comes from a column (metadata from "meta"), or is attachments.
    fields = {"meta" if f == "metadata" else f for f in Document.model_fields} - {"attachments"}
    assert set(_DOCUMENT_COLUMNS) == fields


@pytest.mark.parametrize(("sqlite", "mark"), [(True, "?"), (False, "%s")])
def test_statements_use_the_driver_paramstyle_and_real_columns(sqlite: bool, mark: str) -> None:
    hot = _HotSql(sqlite)
    assert hot.insert_events.count(mark) == len(_EVENT_COLUMNS)
    assert hot.insert_attempts.count(mark) == len(_ATTEMPT_COLUMNS)
    assigned = re.findall(r"(\w+) = ", hot.finish_delivery)
    assert assigned and set(assigned) <= {c.name for c in deliveries.columns}
    assert hot.finish_delivery.count(mark) == 9
    assert hot.select_due.count(mark) == 3
    assert ("FOR UPDATE SKIP LOCKED" in hot.select_due) is not sqlite
    for statement in (hot.lease, hot.select_documents, hot.select_attachment_refs):
        assert ("json_each(?)" if sqlite else "= ANY(%s)") in statement
