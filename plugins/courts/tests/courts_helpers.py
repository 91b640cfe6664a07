"""Shared by the courts tests: documents and deliveries as plain rows (the hub runs in
:func:`hub.testing.hubrun.dispatching`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from hub.db.schema import deliveries, documents
from hub.runtime import Hub

#: Court acts to the legal department (DJ), delivered by the no-op connector; paper acts also
#: wait for their handover.
RULES: dict[str, Any] = {
    "rule": [
        {
            "name": "paper acts",
            "kinds": ["act_procedura", "termen_instanta"],
            "channels": ["executor", "posta", "ghiseu"],
            "department": "DJ",
            "destinations": [
                {"connector": "noop", "target": "DJ"},
                {"connector": "handover", "target": "DJ"},
            ],
        },
        {
            "name": "court acts",
            "kinds": ["act_procedura", "termen_instanta"],
            "department": "DJ",
            "destinations": [{"connector": "noop", "target": "DJ"}],
        },
    ],
    "fallback": {"department": "REG", "destinations": [{"connector": "noop"}]},
}


def docs(hub: Hub, **where: Any) -> list[dict[str, Any]]:
    q = select(documents).order_by(documents.c.created_at, documents.c.id)
    for key, value in where.items():
        q = q.where(getattr(documents.c, key) == value)
    with hub.ledger.reader.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def delivery_rows(hub: Hub, document_id: str) -> list[dict[str, Any]]:
    with hub.ledger.reader.connect() as conn:
        q = select(deliveries).where(deliveries.c.document_id == document_id)
        return [dict(r) for r in conn.execute(q).mappings()]


async def settled(hub: Hub, document_id: str, timeout: float = 15.0) -> dict[str, dict[str, Any]]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        rows = delivery_rows(hub, document_id)
        if rows and all(
            r["state"] in ("delivered", "dead", "cancelled", "pending")
            and (r["state"] != "pending" or r["connector"] == "handover")
            for r in rows
        ):
            return {r["connector"]: r for r in rows}
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(
                f"deliveries still open: {[(r['connector'], r['state']) for r in rows]}"
            )
        await asyncio.sleep(0.02)


def registration_day(hub: Hub, document_id: str) -> date:
    """The local (Romanian) day a document was registered: the centralizator it is on."""
    (row,) = [d for d in docs(hub) if d["id"] == document_id]
    created = row["created_at"]
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return created.astimezone(ZoneInfo("Europe/Bucharest")).date()
