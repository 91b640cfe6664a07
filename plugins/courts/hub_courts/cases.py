"""The known cases (``courts_cases``) as the feed and the calendar read and write them.

The feed decides what is new against this table, but does not write it during a poll: a
poll's changes travel in the source's cursor (``pending``), which the hub commits in the same
transaction as the poll's documents. The next poll applies them first. So a case is never marked
seen unless its documents were committed, and a crash repeats at most one poll. Readers (the
calendar, ``hub courts hearings``) see the table with the committed cursor's ``pending`` on top.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select, tuple_, update

from hub_courts.db import cases

__all__ = [
    "CaseRow",
    "apply_pending",
    "committed_view",
    "known_cases",
    "row_for",
    "upcoming_hearings",
]

CaseRow = dict[str, Any]


def row_for(case: Any, events: list[str]) -> CaseRow:
    return {
        "court": case.court,
        "number": case.number,
        "subject": case.subject[:2000],
        "stage": str(case.stage)[:100],
        "modified": case.modified.isoformat() if case.modified else None,
        "hearings": case.hearings_json(),
        "events": sorted(events),
    }


def known_cases(engine: Engine, idents: list[tuple[str, str]]) -> dict[tuple[str, str], CaseRow]:
    out: dict[tuple[str, str], CaseRow] = {}
    with engine.connect() as conn:
        for i in range(0, len(idents), 400):
            chunk = idents[i : i + 400]
            q = select(cases).where(tuple_(cases.c.court, cases.c.number).in_(chunk))
            for r in conn.execute(q).mappings():
                out[(r["court"], r["number"])] = dict(r)
    return out


def apply_pending(engine: Engine, pending: dict[str, CaseRow]) -> int:
    """Upsert the cursor's pending rows; idempotent."""
    if not pending:
        return 0
    now = time.time()
    rows = list(pending.values())
    keys = [(r["court"], r["number"]) for r in rows]
    with engine.begin() as conn:
        existing: set[tuple[str, str]] = set()
        for i in range(0, len(keys), 400):
            chunk = keys[i : i + 400]
            existing.update(
                (r.court, r.number)
                for r in conn.execute(
                    select(cases.c.court, cases.c.number).where(
                        tuple_(cases.c.court, cases.c.number).in_(chunk)
                    )
                )
            )
        fresh = [
            r | {"first_seen": now, "updated_at": now}
            for r in rows
            if (r["court"], r["number"]) not in existing
        ]
        if fresh:
            conn.execute(insert(cases), fresh)
        for r in rows:
            if (r["court"], r["number"]) in existing:
                conn.execute(
                    update(cases)
                    .where(cases.c.court == r["court"], cases.c.number == r["number"])
                    .values(
                        {k: v for k, v in r.items() if k not in ("court", "number")}
                        | {"updated_at": now}
                    )
                )
    return len(rows)


def committed_view(engine: Engine, cursor: dict[str, Any] | None) -> list[CaseRow]:
    """Every known case: the table, with the committed cursor's pending rows on top."""
    with engine.connect() as conn:
        rows = {(r["court"], r["number"]): dict(r) for r in conn.execute(select(cases)).mappings()}
    for r in ((cursor or {}).get("pending") or {}).values():
        rows[(r["court"], r["number"])] = dict(r)
    return list(rows.values())


def upcoming_hearings(rows: list[CaseRow], start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Hearings in ``[start, end)`` (local times), soonest first, with their case."""
    out = []
    for r in rows:
        for h in r.get("hearings") or []:
            at = datetime.fromisoformat(h["at"])
            if start <= at < end:
                out.append(
                    {
                        "at": at,
                        "court": r["court"],
                        "number": r["number"],
                        "subject": r.get("subject") or "",
                        "panel": h.get("panel") or "",
                        "solution": h.get("solution") or "",
                    }
                )
    out.sort(key=lambda h: (h["at"], h["court"], h["number"]))
    return out
