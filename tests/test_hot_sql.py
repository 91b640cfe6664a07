"""The dispatcher's hand-written statements (hub.db.ledger._HotSql) match the schema."""

from __future__ import annotations

import re

import pytest

from hub.db.ledger import _ATTEMPT_COLUMNS, _EVENT_COLUMNS, _HotSql
from hub.db.schema import attempts, deliveries, events


def test_insert_columns_are_every_column_but_the_key() -> None:
    assert set(_EVENT_COLUMNS) == {c.name for c in events.columns} - {"id"}
    assert set(_ATTEMPT_COLUMNS) == {c.name for c in attempts.columns} - {"id"}


@pytest.mark.parametrize(("sqlite", "mark"), [(True, "?"), (False, "%s")])
def test_statements_use_the_driver_paramstyle_and_real_columns(sqlite: bool, mark: str) -> None:
    hot = _HotSql(sqlite)
    assert hot.insert_events.count(mark) == len(_EVENT_COLUMNS)
    assert hot.insert_attempts.count(mark) == len(_ATTEMPT_COLUMNS)
    assigned = re.findall(r"(\w+) = ", hot.finish_delivery)
    assert assigned and set(assigned) <= {c.name for c in deliveries.columns}
    assert hot.finish_delivery.count(mark) == 9
