"""The two core methods this plugin added to :class:`hub.documents.DocumentStore`:
``add_delivery`` (a delivery for an existing document, with the plugin's rows in the same
transaction) and ``merge_metadata``."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Connection, insert, select

from hub.db.schema import events
from hub.runtime import Hub
from hub.testing.factories import make_document_in


async def test_add_delivery_is_idempotent_and_transactional(
    make_hub: Callable[..., Hub],
) -> None:
    hub = make_hub()
    doc = await hub.intake.submit(hub.intake.prepare(make_document_in()))
    calls = []

    def also(conn: Connection) -> None:
        calls.append(1)
        conn.execute(insert(events).values(at=0.0, actor="t", action="also_ran"))

    first = await hub.documents.add_delivery(
        doc.document_id, "noop", target="x1", actor="test", also=also
    )
    again = await hub.documents.add_delivery(
        doc.document_id, "noop", target="x1", actor="test", also=also
    )
    assert first is not None and again == first and calls == [1]
    assert await hub.documents.add_delivery("missing", "noop", actor="test") is None

    def boom(conn: Connection) -> None:
        conn.execute(insert(events).values(at=0.0, actor="t", action="must_roll_back"))
        raise RuntimeError("plugin row refused")

    with pytest.raises(RuntimeError):
        await hub.documents.add_delivery(
            doc.document_id, "noop", target="x2", actor="test", also=boom
        )
    rows = await hub.runner.read(hub.ledger.deliveries_of, doc.document_id)
    assert [(r["connector"], r["target"], r["state"]) for r in rows][-1] == (
        "noop",
        "x1",
        "pending",
    )
    assert "x2" not in [r["target"] for r in rows]

    def actions() -> list[str]:
        with hub.ledger.reader.connect() as conn:
            return [r[0] for r in conn.execute(select(events.c.action))]

    names = await hub.runner.read(actions)
    assert "must_roll_back" not in names and names.count("delivery_added") == 1


async def test_merge_metadata_merges_dicts_and_records_an_event(
    make_hub: Callable[..., Hub],
) -> None:
    hub = make_hub()
    doc = await hub.intake.submit(
        hub.intake.prepare(make_document_in(metadata={"keep": 1, "postal": {"a": {"n": 1}}}))
    )
    ok = await hub.documents.merge_metadata(
        doc.document_id, "postal", {"b": {"n": 2}}, actor="t", action="postal_proof", reason="r"
    )
    await hub.documents.merge_metadata(
        doc.document_id, "keep", 2, actor="t", action="postal_proof", reason="r"
    )
    assert ok
    stored = await hub.documents.get(doc.document_id)
    assert stored is not None
    assert stored.metadata == {"keep": 2, "postal": {"a": {"n": 1}, "b": {"n": 2}}}
    assert not await hub.documents.merge_metadata(
        "missing", "k", 1, actor="t", action="x", reason="r"
    )
    timeline = await hub.runner.read(hub.ledger.timeline, doc.document_id)
    assert [e["action"] for e in timeline["events"]].count("postal_proof") == 2
