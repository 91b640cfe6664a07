"""Items: what a receiving unit got from the registry, and what it did with it.

An *item* is not a new record. It is a delivery of the ``webhook`` or ``email`` connector whose
target is a unit of the directory (:mod:`hub.units`), plus the audit events the unit wrote about
it. So the ledger stays the one source of truth and every step is an ``events`` row:

============  ==================  =================================================
status        how it is known      what it means
============  ==================  =================================================
pending       delivery not done    the hub is still delivering it
queued        digest receipt       kept for the unit's daily e-mail digest
delivered     delivery delivered   the unit has it and has not answered yet
acknowledged  ``item_acknowledged``  the unit took it (``POST /items/{id}/ack``)
returned      ``item_returned``      sent back as not competent: in the registry's queue
rerouted      ``item_rerouted``      the registry sent it on to another unit
============  ==================  =================================================

A return starts the redirection term of OG 27/2002 art. 6¹: a petition sent to the wrong
compartment is forwarded to the competent one within 5 days. The term (``redirect_due``) is
kept on the document (``metadata.redirection``) and shown with the item.

``item_reminded`` marks the one reminder the follow-up sends for an item not acknowledged in
time; an item that has one is never reminded again, however often the follow-up runs.

Every method here is synchronous SQLAlchemy Core on the ledger's engines, for
:class:`hub.db.runner.DbRunner`; writes check and change in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update

from hub.db.ledger import Ledger, delivery_key
from hub.db.schema import deliveries, documents, events
from hub.models import DeliveryState
from hub.terms import local_date, next_working_day
from hub.units import Unit, UnitDirectory

__all__ = [
    "ITEM_CONNECTORS",
    "REDIRECT_DAYS",
    "Item",
    "ItemConflict",
    "ItemStore",
    "redirect_due",
    "unit_connector",
]

#: Connectors whose deliveries to a unit are items.
ITEM_CONNECTORS = ("webhook", "email")
#: OG 27/2002 art. 6¹: a misdirected petition is forwarded within 5 days.
REDIRECT_DAYS = 5

ACK, RETURN, REROUTE, REMIND = (
    "item_acknowledged",
    "item_returned",
    "item_rerouted",
    "item_reminded",
)
#: The item went out in its unit's daily digest (units with ``digest = true``).
DIGESTED = "item_digested"
#: Receipt status the email connector gives an item it keeps for the digest.
QUEUED_FOR_DIGEST = "queued_for_digest"
_ACTIONS = (ACK, RETURN, REROUTE, REMIND, DIGESTED)
_STATUS_OF = {ACK: "acknowledged", RETURN: "returned", REROUTE: "rerouted"}


class ItemConflict(Exception):
    """The item is not in a state that allows the step (e.g. acknowledging a returned item)."""


def redirect_due(returned_at: datetime, days: int = REDIRECT_DAYS) -> date:
    """The last day to forward a returned item: ``days`` calendar days after the day of the
    return (that day not counted), moved to the next working day when it is a Saturday, Sunday
    or Romanian public holiday."""
    return next_working_day(local_date(returned_at) + timedelta(days=days))


def unit_connector(unit: Unit) -> tuple[str, str]:
    """How the hub reaches ``unit``: its webhook if it has one, else e-mail (connector, target)."""
    if unit.webhook_target:
        return "webhook", unit.webhook_target
    return "email", unit.code


@dataclass(frozen=True, slots=True)
class Item:
    """One delivery to a unit, as the unit and the registry see it."""

    id: int
    document_id: str
    unit: str
    connector: str
    target: str | None
    delivery_state: str
    status: str
    delivered_at: datetime | None
    acknowledged_at: datetime | None
    returned_at: datetime | None
    return_reason: str | None
    redirect_due: date | None
    rerouted_to: str | None
    reminded_at: datetime | None
    kind: str
    subject: str
    registration_number: str | None

    def view(self) -> dict[str, Any]:
        return asdict(self)


def _dt(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


class ItemStore:
    """Reads and writes items on the ledger, given the unit directory."""

    def __init__(self, ledger: Ledger, units: UnitDirectory) -> None:
        self.ledger = ledger
        self.units = units
        # (connector, TARGET) → unit code. Webhook targets are matched case-insensitively, as
        # the webhook connector matches its endpoints.
        self._by_target: dict[tuple[str, str], str] = {}
        for unit in units.units:
            self._by_target[("email", unit.code.upper())] = unit.code
            self._by_target[("webhook", (unit.webhook_target or unit.code).upper())] = unit.code

    def unit_of(self, connector: str, target: str | None) -> str | None:
        return self._by_target.get((connector, (target or "").upper()))

    def _targets(self, unit: str) -> list[str]:
        return [t for (_, t), code in self._by_target.items() if code == unit]

    # --- reads --------------------------------------------------------------------------------

    def list_items(
        self,
        *,
        unit: str | None = None,
        status: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[Item]:
        """Items newest-last by id; ``unit`` None means every unit of the directory."""
        q = (
            select(deliveries.c.id)
            .where(deliveries.c.connector.in_(ITEM_CONNECTORS), deliveries.c.id > after_id)
            .order_by(deliveries.c.id)
        )
        if unit is not None:
            q = q.where(func.upper(deliveries.c.target).in_(self._targets(unit)))
        with self.ledger.reader.connect() as conn:
            ids = [int(r[0]) for r in conn.execute(q)]
            out: list[Item] = []
            # Read in pages so that a status filter still fills ``limit``.
            for start in range(0, len(ids), 500):
                for item in self._load(conn, ids[start : start + 500]):
                    if unit is not None and item.unit != unit:
                        continue
                    if status is None or item.status == status:
                        out.append(item)
                        if len(out) >= limit:
                            return out
        return out

    def get(self, item_id: int) -> Item | None:
        with self.ledger.reader.connect() as conn:
            found = self._load(conn, [item_id])
        return found[0] if found else None

    def _load(self, conn: Any, ids: Sequence[int]) -> list[Item]:
        if not ids:
            return []
        rows = conn.execute(
            select(
                deliveries.c.id,
                deliveries.c.document_id,
                deliveries.c.connector,
                deliveries.c.target,
                deliveries.c.state,
                deliveries.c.delivered_at,
                deliveries.c.receipt,
                documents.c.kind,
                documents.c.subject,
                documents.c.registration_number,
                documents.c.meta,
            )
            .join(documents, documents.c.id == deliveries.c.document_id)
            .where(deliveries.c.id.in_(list(ids)), deliveries.c.connector.in_(ITEM_CONNECTORS))
            .order_by(deliveries.c.id)
        ).all()
        history: dict[int, list[Any]] = {}
        for ev in conn.execute(
            select(events.c.delivery_id, events.c.action, events.c.at, events.c.reason)
            .where(events.c.delivery_id.in_([r.id for r in rows]), events.c.action.in_(_ACTIONS))
            .order_by(events.c.id)
        ):
            history.setdefault(int(ev.delivery_id), []).append(ev)
        items = []
        for r in rows:
            unit = self.unit_of(r.connector, r.target)
            if unit is None:
                continue
            items.append(self._item(r, unit, history.get(int(r.id), [])))
        return items

    def _item(self, r: Any, unit: str, history: Iterable[Any]) -> Item:
        status = "delivered" if r.state == DeliveryState.DELIVERED else "pending"
        if status == "delivered" and (r.receipt or {}).get("status") == QUEUED_FOR_DIGEST:
            status = "queued"
        acked = returned = reminded = None
        reason = rerouted_to = None
        for ev in history:
            if ev.action == REMIND:
                reminded = _dt(ev.at)
                continue
            if ev.action == DIGESTED:
                status = "delivered" if status == "queued" else status
                continue
            status = _STATUS_OF[ev.action]
            if ev.action == ACK:
                acked = _dt(ev.at)
            elif ev.action == RETURN:
                returned, reason = _dt(ev.at), ev.reason
            elif ev.action == REROUTE:
                rerouted_to = (ev.reason or "").removeprefix("rerouted to ").split(" ")[0] or None
        return Item(
            id=int(r.id),
            document_id=r.document_id,
            unit=unit,
            connector=r.connector,
            target=r.target,
            delivery_state=r.state,
            status=status,
            delivered_at=_dt(r.delivered_at),
            acknowledged_at=acked,
            returned_at=returned,
            return_reason=reason,
            redirect_due=redirect_due(returned) if returned else None,
            rerouted_to=rerouted_to,
            reminded_at=reminded,
            kind=r.kind,
            subject=r.subject,
            registration_number=r.registration_number,
        )

    def overdue(
        self, older_than: float, *, unreminded_only: bool = False, limit: int = 500
    ) -> list[Item]:
        """Delivered, neither acknowledged nor returned, delivered more than ``older_than``
        seconds ago (and, with ``unreminded_only``, never reminded)."""
        cutoff = self.ledger.clock() - older_than
        q = (
            select(deliveries.c.id)
            .where(
                deliveries.c.connector.in_(ITEM_CONNECTORS),
                deliveries.c.state == DeliveryState.DELIVERED,
                deliveries.c.delivered_at <= cutoff,
            )
            .order_by(deliveries.c.id)
        )
        with self.ledger.reader.connect() as conn:
            ids = [int(r[0]) for r in conn.execute(q)]
            found: list[Item] = []
            for start in range(0, len(ids), 500):
                for item in self._load(conn, ids[start : start + 500]):
                    if item.status == "delivered" and not (
                        unreminded_only and item.reminded_at is not None
                    ):
                        found.append(item)
                        if len(found) >= limit:
                            return found
        return found

    # --- changes ------------------------------------------------------------------------------

    def _locked(self, conn: Any, item_id: int) -> Item:
        """The item, its delivery row locked until the transaction ends (PostgreSQL; SQLite
        has one writer), so two concurrent answers cannot both pass the status check."""
        if not self.ledger.sqlite:
            conn.execute(
                select(deliveries.c.id).where(deliveries.c.id == item_id).with_for_update()
            )
        return self._current(conn, item_id)

    def _current(self, conn: Any, item_id: int) -> Item:
        found = self._load(conn, [item_id])
        if not found:
            raise LookupError(item_id)
        return found[0]

    def _event(self, conn: Any, item: Item, action: str, actor: str, reason: str | None) -> None:
        conn.execute(
            insert(events).values(
                at=self.ledger.clock(),
                document_id=item.document_id,
                delivery_id=item.id,
                actor=actor,
                action=action,
                reason=reason,
            )
        )

    def acknowledge(self, item_id: int, actor: str) -> tuple[Item, bool]:
        """Record the unit's acknowledgment. Returns the item and whether anything changed
        (acknowledging twice is answered with the first acknowledgment)."""
        with self.ledger.writer.begin() as conn:
            item = self._locked(conn, item_id)
            if item.status == "acknowledged":
                return item, False
            if item.status != "delivered":
                raise ItemConflict(
                    f"item {item_id} is {item.status}; only a delivered item can be acknowledged"
                )
            self._event(conn, item, ACK, actor, f"acknowledged by {item.unit}")
            return self._current(conn, item_id), True

    def return_item(self, item_id: int, actor: str, reason: str) -> Item:
        """Send the item back as not competent: the document goes back to the registry's
        queue (status ``de_redirectionat``) with the 5-day redirection term."""
        with self.ledger.writer.begin() as conn:
            item = self._locked(conn, item_id)
            if item.status not in ("delivered", "acknowledged"):
                raise ItemConflict(f"item {item_id} is {item.status}; it cannot be returned")
            self._event(conn, item, RETURN, actor, reason)
            returned = self._current(conn, item_id)
            assert returned.returned_at is not None and returned.redirect_due is not None
            self._set_redirection(
                conn,
                item.document_id,
                "de_redirectionat",
                {
                    "item_id": item.id,
                    "returned_by": item.unit,
                    "returned_at": returned.returned_at.isoformat(),
                    "reason": reason,
                    "due": returned.redirect_due.isoformat(),
                    "legal_basis": "OG 27/2002 art. 6¹",
                },
            )
            return returned

    def reroute(self, item_id: int, unit: Unit, actor: str) -> tuple[Item, int]:
        """Send a returned item on to ``unit``: a new delivery (webhook or e-mail, as the unit
        is reached), the document's department changed. Returns the old item and the new
        delivery's id."""
        connector, target = unit_connector(unit)
        now = self.ledger.clock()
        with self.ledger.writer.begin() as conn:
            item = self._locked(conn, item_id)
            if item.status != "returned":
                raise ItemConflict(
                    f"item {item_id} is {item.status}; only a returned item is re-routed"
                )
            if unit.code == item.unit:
                raise ItemConflict(
                    f"item {item_id} was returned by {unit.code}; choose another unit"
                )
            key = delivery_key(item.document_id, connector, target)
            if conn.execute(
                select(deliveries.c.id).where(deliveries.c.idempotency_key == key)
            ).first():
                raise ItemConflict(
                    f"document of item {item_id} was already delivered to {unit.code}"
                )
            new_id = self.ledger.insert_pending_delivery(
                conn, item.document_id, connector, target, now
            )
            due = item.redirect_due
            self._event(
                conn,
                item,
                REROUTE,
                actor,
                f"rerouted to {unit.code} (delivery {new_id})"
                + (f", term {due.isoformat()}" if due else ""),
            )
            meta = conn.execute(
                select(documents.c.meta).where(documents.c.id == item.document_id)
            ).scalar_one()
            redirection = dict((meta or {}).get("redirection") or {})
            forwarded = datetime.fromtimestamp(now, UTC)
            redirection.update(
                rerouted_to=unit.code,
                rerouted_at=forwarded.isoformat(),
                within_term=bool(due and local_date(forwarded) <= due),
            )
            conn.execute(
                update(documents)
                .where(documents.c.id == item.document_id)
                .values(department=unit.code)
            )
            self._set_redirection(conn, item.document_id, "redirectionat", redirection)
            return self._current(conn, item_id), int(new_id)

    def _set_redirection(
        self, conn: Any, document_id: str, status: str, redirection: dict[str, Any]
    ) -> None:
        meta = conn.execute(
            select(documents.c.meta).where(documents.c.id == document_id)
        ).scalar_one()
        merged = dict(meta or {})
        merged["redirection"] = redirection
        conn.execute(
            update(documents)
            .where(documents.c.id == document_id)
            .values(meta=merged, status=status)
        )
        conn.execute(
            insert(events).values(
                at=self.ledger.clock(),
                document_id=document_id,
                actor="hub",
                action="status_changed",
                reason=f"→ {status} (OG 27/2002 art. 6¹, term {redirection.get('due', '-')})",
            )
        )

    def digest_queue(self, unit: str) -> list[Item]:
        """Items of ``unit`` kept for its daily digest and not sent yet."""
        return self.list_items(unit=unit, status="queued", limit=10_000)

    def mark_reminded(self, items: Sequence[Item], actor: str, reason: str) -> int:
        """Record the one reminder of each item that has none yet; return how many."""
        return self._mark_once(items, REMIND, actor, reason)

    def mark_digested(self, items: Sequence[Item], actor: str, reason: str) -> int:
        """Record that these items went out in a digest (each once); return how many."""
        return self._mark_once(items, DIGESTED, actor, reason)

    def _mark_once(self, items: Sequence[Item], action: str, actor: str, reason: str) -> int:
        if not items:
            return 0
        with self.ledger.writer.begin() as conn:
            already = {
                int(r[0])
                for r in conn.execute(
                    select(events.c.delivery_id).where(
                        events.c.delivery_id.in_([i.id for i in items]), events.c.action == action
                    )
                )
            }
            fresh = [i for i in items if i.id not in already]
            for item in fresh:
                self._event(conn, item, action, actor, reason)
        return len(fresh)
