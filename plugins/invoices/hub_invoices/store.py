"""The plugin's ledger: messages and their states, the ZIP archive, invoice keys, daily quotas.

Synchronous SQLAlchemy Core on the hub's engine; the source calls it through the hub's
:class:`~hub.db.runner.DbRunner` (writes on the single writer thread). Each method is one
transaction, and a batch of messages is one method call, so a backlog of thousands costs a few
hundred transactions, not tens of thousands.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from hub.db.schema import documents
from hub_invoices.client import Message, QuotaExceeded
from hub_invoices.tables import archive, invoices, messages, quota

__all__ = ["InvoiceStore", "Outcome"]

#: Emissions of a ready message the ledger never took before it is marked as refused.
MAX_EMISSIONS = 3


@dataclass(slots=True)
class Outcome:
    """What parsing one downloaded message came to."""

    message_id: str
    state: str  # ready | error | anaf_error
    error: str | None = None
    supplier_cui: str | None = None
    invoice_number: str | None = None
    issue_date: str | None = None


class InvoiceStore:
    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock
        self._insert = sqlite.insert if engine.dialect.name == "sqlite" else postgresql.insert

    # --- quotas -------------------------------------------------------------------------------

    def take_quota(self, cif: str, day: str, kind: str, limit: int) -> int:
        """Count one call; raise :class:`QuotaExceeded` (nothing counted) at the limit."""
        with self.engine.begin() as conn:
            stmt = self._insert(quota).values(cif=cif, day=day, kind=kind, calls=0)
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["cif", "day", "kind"]))
            done = conn.execute(
                update(quota)
                .where(
                    and_(quota.c.cif == cif, quota.c.day == day, quota.c.kind == kind),
                    quota.c.calls < limit,
                )
                .values(calls=quota.c.calls + 1)
            )
            if done.rowcount == 0:
                raise QuotaExceeded(
                    f"local daily limit of {limit} {kind} list calls for this CUI reached"
                )
            calls = conn.execute(
                select(quota.c.calls).where(
                    and_(quota.c.cif == cif, quota.c.day == day, quota.c.kind == kind)
                )
            ).scalar_one()
        return int(calls)

    def quota_used(self, cif: str, day: str) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(quota.c.kind, quota.c.calls).where(
                    and_(quota.c.cif == cif, quota.c.day == day)
                )
            )
            return {r.kind: int(r.calls) for r in rows}

    # --- messages -----------------------------------------------------------------------------

    def record_listed(self, listed: Sequence[Message]) -> int:
        """Insert messages not seen before (state ``listed``); returns how many were new."""
        if not listed:
            return 0
        now = self.clock()
        rows = [
            {
                "id": m.id,
                "cif": m.cif,
                "tip": m.tip,
                "id_solicitare": m.id_solicitare,
                "detalii": m.detalii,
                "data_creare": m.data_creare,
                "state": "listed",
                "downloads": 0,
                "emissions": 0,
                "listed_at": now,
                "updated_at": now,
            }
            for m in {m.id: m for m in listed}.values()
        ]
        with self.engine.begin() as conn:
            known = set(
                conn.execute(
                    select(messages.c.id).where(messages.c.id.in_([r["id"] for r in rows]))
                ).scalars()
            )
            new = [r for r in rows if r["id"] not in known]
            if new:
                stmt = self._insert(messages).on_conflict_do_nothing(index_elements=["id"])
                conn.execute(stmt, new)
        return len(new)

    def pending(self, limit: int, day: str) -> list[dict[str, Any]]:
        """Messages still to download or parse, oldest first; a message whose download ANAF
        refused today for its daily limit waits for tomorrow."""
        with self.engine.connect() as conn:
            q = (
                select(messages)
                .where(messages.c.state.in_(["listed", "downloaded"]))
                .where(
                    (messages.c.error.is_(None))
                    | (messages.c.download_day.is_(None))
                    | (messages.c.download_day != day)
                )
                .order_by(messages.c.data_creare, messages.c.id)
                .limit(limit)
            )
            return [dict(r) for r in conn.execute(q).mappings()]

    def archive_downloads(
        self, day: str, downloaded: dict[str, bytes], failed: dict[str, tuple[str, bool]]
    ) -> dict[str, str]:
        """Archive ZIPs (content-addressed) and mark them ``downloaded``; record failed
        downloads (``(error, final)``: final → state ``error``, else retried tomorrow).
        Returns message id → sha256."""
        now = self.clock()
        shas: dict[str, str] = {}
        with self.engine.begin() as conn:
            blobs = {}
            for mid, content in downloaded.items():
                sha = hashlib.sha256(content).hexdigest()
                shas[mid] = sha
                blobs[sha] = content
            if blobs:
                stmt = self._insert(archive).on_conflict_do_nothing(index_elements=["sha256"])
                conn.execute(
                    stmt,
                    [
                        {"sha256": s, "size": len(c), "content": c, "created_at": now}
                        for s, c in blobs.items()
                    ],
                )
            for mid, sha in shas.items():
                conn.execute(
                    update(messages)
                    .where(messages.c.id == mid)
                    .values(
                        state="downloaded",
                        zip_sha256=sha,
                        error=None,
                        downloads=messages.c.downloads + 1,
                        download_day=day,
                        updated_at=now,
                    )
                )
            for mid, (error, final) in failed.items():
                conn.execute(
                    update(messages)
                    .where(messages.c.id == mid)
                    .values(
                        state="error" if final else "listed",
                        error=error[:1000],
                        downloads=messages.c.downloads + 1,
                        download_day=day,
                        updated_at=now,
                    )
                )
        return shas

    def zip_content(self, sha256: str) -> bytes | None:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(archive.c.content).where(archive.c.sha256 == sha256)
            ).scalar()
        return bytes(value) if value is not None else None

    def apply_outcomes(self, outcomes: Sequence[Outcome]) -> dict[str, str]:
        """Write parse results. A ready invoice claims its key (supplier CUI, number, issue
        date); when another message holds it, this one is a ``duplicate``. Returns the
        message ids that became duplicates → the message holding the key."""
        now = self.clock()
        dups: dict[str, str] = {}
        with self.engine.begin() as conn:
            for o in outcomes:
                values: dict[str, Any] = {
                    "state": o.state,
                    "error": o.error[:1000] if o.error else None,
                    "supplier_cui": o.supplier_cui,
                    "invoice_number": o.invoice_number,
                    "issue_date": o.issue_date,
                    "updated_at": now,
                }
                if o.state == "ready":
                    assert o.supplier_cui and o.invoice_number and o.issue_date
                    holder = conn.execute(
                        select(invoices.c.message_id).where(
                            and_(
                                invoices.c.supplier_cui == o.supplier_cui,
                                invoices.c.number == o.invoice_number,
                                invoices.c.issue_date == o.issue_date,
                            )
                        )
                    ).scalar()
                    if holder is None:
                        try:
                            with conn.begin_nested():
                                conn.execute(
                                    invoices.insert().values(
                                        supplier_cui=o.supplier_cui,
                                        number=o.invoice_number,
                                        issue_date=o.issue_date,
                                        message_id=o.message_id,
                                        created_at=now,
                                    )
                                )
                        except IntegrityError:
                            holder = conn.execute(
                                select(invoices.c.message_id).where(
                                    and_(
                                        invoices.c.supplier_cui == o.supplier_cui,
                                        invoices.c.number == o.invoice_number,
                                        invoices.c.issue_date == o.issue_date,
                                    )
                                )
                            ).scalar()
                    if holder is not None and holder != o.message_id:
                        values["state"] = "duplicate"
                        values["duplicate_of"] = holder
                        values["error"] = (
                            f"duplicate of message {holder} (same supplier CUI, number and "
                            "issue date): not registered again"
                        )
                        dups[o.message_id] = holder
                conn.execute(update(messages).where(messages.c.id == o.message_id).values(**values))
        return dups

    # --- registration -------------------------------------------------------------------------

    def ready(self, limit: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            q = (
                select(messages)
                .where(messages.c.state == "ready")
                .order_by(messages.c.data_creare, messages.c.id)
                .limit(limit)
            )
            return [dict(r) for r in conn.execute(q).mappings()]

    def mark_emitted(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        with self.engine.begin() as conn:
            conn.execute(
                update(messages)
                .where(messages.c.id.in_(list(ids)))
                .values(emissions=messages.c.emissions + 1)
            )

    def confirm_registered(self, source: str) -> tuple[int, int]:
        """Ready messages the ledger now holds become ``registered``; those emitted
        :data:`MAX_EMISSIONS` times without reaching the ledger become ``error``."""
        now = self.clock()
        with self.engine.begin() as conn:
            emitted = list(
                conn.execute(
                    select(messages.c.id, messages.c.emissions).where(
                        and_(messages.c.state == "ready", messages.c.emissions > 0)
                    )
                )
            )
            if not emitted:
                return 0, 0
            registered: set[str] = set()
            ids = [r.id for r in emitted]
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                registered.update(
                    conn.execute(
                        select(documents.c.external_id).where(
                            and_(documents.c.source == source, documents.c.external_id.in_(chunk))
                        )
                    ).scalars()
                )
            refused = [
                r.id for r in emitted if r.id not in registered and r.emissions >= MAX_EMISSIONS
            ]
            if registered:
                conn.execute(
                    update(messages)
                    .where(messages.c.id.in_(list(registered)))
                    .values(state="registered", error=None, updated_at=now)
                )
            if refused:
                conn.execute(
                    update(messages)
                    .where(messages.c.id.in_(refused))
                    .values(
                        state="error",
                        error="not accepted at intake (see `hub events` / rejected)",
                        updated_at=now,
                    )
                )
        return len(registered), len(refused)

    # --- reading ------------------------------------------------------------------------------

    def list_messages(
        self, state: str | None = None, limit: int = 50, before: str | None = None
    ) -> list[dict[str, Any]]:
        q = select(
            messages.c.id,
            messages.c.tip,
            messages.c.id_solicitare,
            messages.c.data_creare,
            messages.c.state,
            messages.c.error,
            messages.c.supplier_cui,
            messages.c.invoice_number,
            messages.c.issue_date,
            messages.c.duplicate_of,
            messages.c.zip_sha256,
            messages.c.downloads,
            messages.c.updated_at,
        ).order_by(messages.c.id.desc())
        if state:
            q = q.where(messages.c.state == state)
        if before:
            q = q.where(messages.c.id < before)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q.limit(limit)).mappings()]

    def get_message(self, message_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(messages).where(messages.c.id == message_id)).mappings().first()
            )
        return dict(row) if row else None

    def counts(self, since: float) -> dict[str, Any]:
        """Messages per state, and those that reached a final state since ``since``."""
        with self.engine.connect() as conn:
            by_state = {
                r[0]: int(r[1])
                for r in conn.execute(
                    select(messages.c.state, func.count()).group_by(messages.c.state)
                )
            }
            recent = {
                r[0]: int(r[1])
                for r in conn.execute(
                    select(messages.c.state, func.count())
                    .where(messages.c.updated_at >= since)
                    .group_by(messages.c.state)
                )
            }
            oldest = conn.execute(
                select(func.min(messages.c.listed_at)).where(
                    messages.c.state.in_(["listed", "downloaded", "ready"])
                )
            ).scalar()
        return {"by_state": by_state, "since": recent, "oldest_open_listed_at": oldest}
