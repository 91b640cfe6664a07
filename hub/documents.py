"""What plugins may read and change of the ledger beyond their own deliveries.

Connectors and sources get one :class:`DocumentStore` from the hub (their ``documents``
attribute, set before ``start()``). It is deliberately narrow:

* :meth:`~DocumentStore.attachment_content` — a job carries attachment *metadata*
  (:class:`~hub.models.AttachmentRef`); a connector that uploads files reads their bytes here;
* :meth:`~DocumentStore.open_documents` — documents a connector delivered whose case is not
  closed yet, with that connector's receipt (e.g. the WEBCON element id), for status sync;
* :meth:`~DocumentStore.update_statuses` — set status and closing date, one audit event each;
* :meth:`~DocumentStore.record_release` — the answer was handed to the petitioner (date, mode);
* :meth:`~DocumentStore.add_delivery` — one more delivery for an existing document (a plugin's
  own rows written in the same transaction), e.g. a courier dispatch of the answer;
* :meth:`~DocumentStore.merge_metadata` — set one key of a document's metadata (e.g. the proof
  of delivery of the answer), with an audit event;
* :meth:`~DocumentStore.get` and :meth:`~DocumentStore.receipt` — look-ups for plugin endpoints;
* :meth:`~DocumentStore.attempt_count` — attempts recorded for a delivery, across replays (a
  replay starts the count of ``Job.attempt`` again; a connector without idempotency on the
  remote side checks here whether an earlier life of the delivery may have sent it).

Every change is an ``events`` row (actor, reason), like every other change in the ledger. The
calls run on the hub's database threads (:class:`~hub.db.runner.DbRunner`), never on the loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, func, insert, select, update

from hub.db.ledger import Ledger, delivery_key
from hub.db.runner import DbRunner
from hub.db.schema import attempts, deliveries, documents, events
from hub.models import DeliveryState, Document

__all__ = ["DocumentStore", "OpenDocument", "StatusUpdate"]


@dataclass(frozen=True, slots=True)
class OpenDocument:
    """A document whose case is open, as one connector knows it."""

    document_id: str
    status: str
    registration_number: str | None
    #: The connector's receipt (``remote_id``, ``data`` …) from its delivery.
    receipt: dict[str, Any]

    @property
    def remote_id(self) -> str | None:
        value = self.receipt.get("remote_id")
        return str(value) if value is not None else None


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A new status (None: unchanged) and closing date (None: still open) for one document."""

    document_id: str
    status: str | None = None
    closed_at: datetime | None = None
    reason: str = ""


class DocumentStore:
    def __init__(self, ledger: Ledger, runner: DbRunner) -> None:
        self.ledger = ledger
        self.runner = runner

    # --- reads --------------------------------------------------------------------------------

    async def attachment_content(self, sha256: str) -> bytes | None:
        return await self.runner.read(self.ledger.attachment_content, sha256)

    async def get(self, document_id: str) -> Document | None:
        return await self.runner.read(self.ledger.get_document, document_id)

    async def receipt(self, document_id: str, connector: str) -> dict[str, Any] | None:
        """The receipt of ``connector``'s delivered delivery of the document, if any."""
        return await self.runner.read(self._receipt, document_id, connector)

    def _receipt(self, document_id: str, connector: str) -> dict[str, Any] | None:
        with self.ledger.reader.connect() as conn:
            value = conn.execute(
                select(deliveries.c.receipt)
                .where(
                    deliveries.c.document_id == document_id,
                    deliveries.c.connector == connector,
                    deliveries.c.state == DeliveryState.DELIVERED,
                )
                .order_by(deliveries.c.id)
                .limit(1)
            ).scalar()
        return dict(value) if value else None

    async def attempt_count(self, delivery_id: int) -> int:
        """Attempts recorded for the delivery so far, replays included."""
        return await self.runner.read(self._attempt_count, delivery_id)

    def _attempt_count(self, delivery_id: int) -> int:
        with self.ledger.reader.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(attempts)
                    .where(attempts.c.delivery_id == delivery_id)
                ).scalar()
                or 0
            )

    async def open_documents(
        self, connector: str, *, after: str = "", limit: int = 200
    ) -> list[OpenDocument]:
        """Documents delivered by ``connector`` and not closed, ordered by id, after ``after``
        (keyset paging: pass the last id of the previous page)."""
        return await self.runner.read(self._open_documents, connector, after, limit)

    def _open_documents(self, connector: str, after: str, limit: int) -> list[OpenDocument]:
        q = (
            select(
                documents.c.id,
                documents.c.status,
                documents.c.registration_number,
                deliveries.c.receipt,
            )
            .join(deliveries, deliveries.c.document_id == documents.c.id)
            .where(
                deliveries.c.connector == connector,
                deliveries.c.state == DeliveryState.DELIVERED,
                documents.c.closed_at.is_(None),
                documents.c.id > after,
            )
            .order_by(documents.c.id)
            .limit(limit)
        )
        with self.ledger.reader.connect() as conn:
            return [
                OpenDocument(r.id, r.status, r.registration_number, dict(r.receipt or {}))
                for r in conn.execute(q)
            ]

    # --- changes ------------------------------------------------------------------------------

    async def update_statuses(self, updates: Sequence[StatusUpdate], actor: str) -> int:
        """Apply the updates that change something, in one transaction; return how many did."""
        if not updates:
            return 0
        return await self.runner.write(self._update_statuses, list(updates), actor)

    def _update_statuses(self, updates: list[StatusUpdate], actor: str) -> int:
        now = self.ledger.clock()
        changed = 0
        with self.ledger.writer.begin() as conn:
            current = {
                r.id: r
                for r in conn.execute(
                    select(documents.c.id, documents.c.status, documents.c.closed_at).where(
                        documents.c.id.in_([u.document_id for u in updates])
                    )
                )
            }
            rows = []
            for u in updates:
                row = current.get(u.document_id)
                if row is None:
                    continue
                values: dict[str, Any] = {}
                if u.status is not None and u.status != row.status:
                    values["status"] = u.status
                if u.closed_at is not None and row.closed_at is None:
                    values["closed_at"] = u.closed_at
                if not values:
                    continue
                conn.execute(update(documents).where(documents.c.id == u.document_id), values)
                change = f"{row.status} → {values.get('status', row.status)}"
                if "closed_at" in values:
                    change += f", closed {u.closed_at:%Y-%m-%d}"
                rows.append(
                    {
                        "at": now,
                        "document_id": u.document_id,
                        "delivery_id": None,
                        "actor": actor,
                        "action": "status_changed",
                        "from_state": None,
                        "to_state": None,
                        "reason": f"{change}: {u.reason}" if u.reason else change,
                    }
                )
                changed += 1
            if rows:
                conn.execute(insert(events), rows)
        return changed

    async def record_release(
        self,
        document_id: str,
        *,
        released_at: datetime,
        mode: str,
        actor: str,
        status: str = "released",
        extra: dict[str, Any] | None = None,
    ) -> bool:
        """Record that the answer was handed to the petitioner: ``metadata.release`` holds
        date, mode and ``extra``; the status becomes ``status``. False if no such document."""
        return await self.runner.write(
            self._record_release, document_id, released_at, mode, actor, status, extra or {}
        )

    def _record_release(
        self,
        document_id: str,
        released_at: datetime,
        mode: str,
        actor: str,
        status: str,
        extra: dict[str, Any],
    ) -> bool:
        when = released_at if released_at.tzinfo else released_at.replace(tzinfo=UTC)
        with self.ledger.writer.begin() as conn:
            meta = conn.execute(
                select(documents.c.meta).where(documents.c.id == document_id)
            ).first()
            if meta is None:
                return False
            merged = dict(meta[0] or {})
            merged["release"] = {"released_at": when.isoformat(), "mode": mode, **extra}
            conn.execute(
                update(documents)
                .where(and_(documents.c.id == document_id))
                .values(meta=merged, status=status)
            )
            conn.execute(
                insert(events).values(
                    at=self.ledger.clock(),
                    document_id=document_id,
                    actor=actor,
                    action="document_released",
                    reason=f"released {when:%Y-%m-%d} ({mode})",
                )
            )
        return True

    async def complete_deliveries(
        self,
        connector: str,
        document_ids: Sequence[str],
        receipt: dict[str, Any],
        *,
        actor: str,
        reason: str,
    ) -> int:
        """Close ``connector``'s open deliveries of these documents as delivered with
        ``receipt`` — for deliveries completed outside the dispatcher (a paper act handed over
        against signature). One ``completed`` event each; returns how many closed."""
        if not document_ids:
            return 0
        return await self.runner.write(
            self._complete_deliveries, connector, list(document_ids), receipt, actor, reason
        )

    def _complete_deliveries(
        self,
        connector: str,
        document_ids: list[str],
        receipt: dict[str, Any],
        actor: str,
        reason: str,
    ) -> int:
        with self.ledger.reader.connect() as conn:
            ids = [
                int(r[0])
                for r in conn.execute(
                    select(deliveries.c.id).where(
                        deliveries.c.connector == connector,
                        deliveries.c.document_id.in_(document_ids),
                    )
                )
            ]
        return self.ledger.complete_deliveries(ids, receipt, actor, reason)

    async def add_delivery(
        self,
        document_id: str,
        connector: str,
        *,
        target: str | None = None,
        actor: str,
        reason: str = "",
        also: Callable[[Connection], None] | None = None,
    ) -> int | None:
        """Add a pending delivery of an existing document to ``connector`` (and ``target``).

        ``also`` runs in the same transaction (a plugin's own rows: the delivery and what it
        delivers are committed together or not at all). Idempotent: the delivery's key is
        derived from document, connector and target, so adding it again returns the existing
        delivery's id and runs nothing. None when the document does not exist. The caller wakes
        the dispatcher (``hub.dispatcher.wake()``) if it wants the delivery tried at once.
        """
        return await self.runner.write(
            self._add_delivery, document_id, connector, target, actor, reason, also
        )

    def _add_delivery(
        self,
        document_id: str,
        connector: str,
        target: str | None,
        actor: str,
        reason: str,
        also: Callable[[Connection], None] | None,
    ) -> int | None:
        now = self.ledger.clock()
        key = delivery_key(document_id, connector, target)
        with self.ledger.writer.begin() as conn:
            if (
                conn.execute(select(documents.c.id).where(documents.c.id == document_id)).first()
                is None
            ):
                return None
            existing = conn.execute(
                select(deliveries.c.id).where(deliveries.c.idempotency_key == key)
            ).scalar()
            if existing is not None:
                return int(existing)
            if also is not None:
                also(conn)
            delivery_id = self.ledger.insert_pending_delivery(
                conn, document_id, connector, target, now
            )
            conn.execute(
                insert(events).values(
                    at=now,
                    document_id=document_id,
                    delivery_id=delivery_id,
                    actor=actor,
                    action="delivery_added",
                    to_state=DeliveryState.PENDING.value,
                    reason=reason or f"→ {connector}" + (f"[{target}]" if target else ""),
                )
            )
        return int(delivery_id)

    async def merge_metadata(
        self, document_id: str, key: str, value: Any, *, actor: str, action: str, reason: str
    ) -> bool:
        """Set ``metadata[key]`` of a document (a dict merges into a dict already there) and
        record ``action`` in its audit trail (keep ``reason`` free of personal data). False if
        no such document."""
        return await self.runner.write(
            self._merge_metadata, document_id, key, value, actor, action, reason
        )

    def _merge_metadata(
        self, document_id: str, key: str, value: Any, actor: str, action: str, reason: str
    ) -> bool:
        with self.ledger.writer.begin() as conn:
            row = conn.execute(
                select(documents.c.meta).where(documents.c.id == document_id).with_for_update()
            ).first()
            if row is None:
                return False
            merged = dict(row[0] or {})
            current = merged.get(key)
            # Two dicts merge (one plugin's entries per record under one key); else replace.
            if isinstance(current, dict) and isinstance(value, dict):
                merged[key] = {**current, **value}
            else:
                merged[key] = value
            conn.execute(update(documents).where(documents.c.id == document_id).values(meta=merged))
            conn.execute(
                insert(events).values(
                    at=self.ledger.clock(),
                    document_id=document_id,
                    actor=actor,
                    action=action,
                    reason=reason,
                )
            )
        return True
