"""The plugin's reads and writes of its own tables, on the hub's database threads.

Built from the hub's :class:`~hub.documents.DocumentStore` (its ledger and runner): the postal
tables live in the same database as the ledger, so a dispatch and the delivery that sends it are
committed in one transaction (:meth:`DocumentStore.add_delivery` with ``also=``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from hub.db.ledger import Ledger
from hub.db.runner import DbRunner
from hub.db.schema import deliveries
from hub_postal.tables import (
    postal_attachments,
    postal_counters,
    postal_dispatches,
    postal_events,
    postal_manifests,
)

__all__ = [
    "FINAL_STATES",
    "LOCAL_TZ",
    "EventIn",
    "PostalStore",
    "S10Exhausted",
    "local_day",
]

LOCAL_TZ = ZoneInfo("Europe/Bucharest")
#: States after which nothing more happens to a shipment.
FINAL_STATES = frozenset({"delivered", "refused", "returned", "lost", "cancelled"})
#: States of a courier shipment the tracking source still follows.
TRACKED_STATES = ("registered", "picked_up", "in_transit", "out_for_delivery")


def local_day(ts: float) -> date:
    return datetime.fromtimestamp(ts, LOCAL_TZ).date()


def _day_bounds(day: date) -> tuple[float, float]:
    start = datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ)
    end = datetime.fromordinal(day.toordinal() + 1).replace(tzinfo=LOCAL_TZ)
    return start.timestamp(), end.timestamp()


class S10Exhausted(Exception):
    """The configured S10 range has no serial left: a new range must be configured."""


@dataclass(slots=True)
class EventIn:
    """One tracking event as the courier reported it."""

    code: str
    description: str
    location: str
    occurred_at: datetime | None
    state: str | None


class PostalStore:
    def __init__(self, ledger: Ledger, runner: DbRunner) -> None:
        self.ledger = ledger
        self.runner = runner

    @property
    def clock(self) -> Callable[[], float]:
        return self.ledger.clock

    # --- dispatches -----------------------------------------------------------------------------

    def insert_dispatch(
        self,
        conn: Connection,
        row: dict[str, Any],
        attachments: Sequence[dict[str, Any]],
        s10: tuple[str, int, int, Callable[[int], str]] | None = None,
    ) -> None:
        """Write one dispatch (inside the caller's transaction). ``s10`` = (counter, first,
        last, format): a registered post item gets the next serial of its range here."""
        if s10 is not None:
            name, first, last, fmt = s10
            row["tracking_number"] = fmt(self._next_serial(conn, name, first, last))
        conn.execute(insert(postal_dispatches).values(**row))
        if attachments:
            conn.execute(
                insert(postal_attachments),
                [{"dispatch_id": row["id"], "position": i, **a} for i, a in enumerate(attachments)],
            )
        conn.execute(
            insert(postal_events).values(
                dispatch_id=row["id"],
                at=row["created_at"],
                code="REQ",
                state=row["state"],
                description="Cerere de expediere înregistrată",
                actor=row["created_by"],
            )
        )

    def _next_serial(self, conn: Connection, name: str, first: int, last: int) -> int:
        q = select(postal_counters.c.value).where(postal_counters.c.name == name)
        if not self.ledger.sqlite:
            q = q.with_for_update()
        current = conn.execute(q).scalar()
        if current is None:
            serial = first
            try:
                with conn.begin_nested():
                    conn.execute(insert(postal_counters).values(name=name, value=serial))
            except IntegrityError:
                # Another process created the counter first: take the next one after it.
                return self._next_serial(conn, name, first, last)
        else:
            serial = max(int(current) + 1, first)
            conn.execute(
                update(postal_counters).where(postal_counters.c.name == name).values(value=serial)
            )
        if serial > last:
            raise S10Exhausted(f"the S10 range of {name} is used up (last serial {last})")
        return serial

    async def insert_post_dispatch(
        self,
        row: dict[str, Any],
        attachments: Sequence[dict[str, Any]],
        s10: tuple[str, int, int, Callable[[int], str]] | None,
    ) -> None:
        def write() -> None:
            with self.ledger.writer.begin() as conn:
                self.insert_dispatch(conn, row, attachments, s10)

        await self.runner.write(write)

    async def get(self, dispatch_id: str) -> dict[str, Any] | None:
        return await self.runner.read(self._get, dispatch_id)

    def _get(self, dispatch_id: str) -> dict[str, Any] | None:
        with self.ledger.reader.connect() as conn:
            row = (
                conn.execute(select(postal_dispatches).where(postal_dispatches.c.id == dispatch_id))
                .mappings()
                .first()
            )
        return dict(row) if row else None

    async def find(
        self, *, idempotency_key: str | None = None, tracking_number: str | None = None
    ) -> dict[str, Any] | None:
        def read() -> dict[str, Any] | None:
            q = select(postal_dispatches)
            if idempotency_key is not None:
                q = q.where(postal_dispatches.c.idempotency_key == idempotency_key)
            elif tracking_number is not None:
                q = q.where(postal_dispatches.c.tracking_number == tracking_number)
            else:
                return None
            with self.ledger.reader.connect() as conn:
                row = conn.execute(q).mappings().first()
            return dict(row) if row else None

        return await self.runner.read(read)

    async def detail(self, dispatch_id: str) -> dict[str, Any] | None:
        """The dispatch, its events, its attachments' metadata and its delivery's state."""

        def read() -> dict[str, Any] | None:
            with self.ledger.reader.connect() as conn:
                row = (
                    conn.execute(
                        select(postal_dispatches).where(postal_dispatches.c.id == dispatch_id)
                    )
                    .mappings()
                    .first()
                )
                if row is None:
                    return None
                out = dict(row)
                out["events"] = [
                    dict(e)
                    for e in conn.execute(
                        select(postal_events)
                        .where(postal_events.c.dispatch_id == dispatch_id)
                        .order_by(postal_events.c.id)
                    ).mappings()
                ]
                out["attachments"] = [
                    dict(a)
                    for a in conn.execute(
                        select(
                            postal_attachments.c.filename,
                            postal_attachments.c.content_type,
                            postal_attachments.c.size,
                            postal_attachments.c.sha256,
                        )
                        .where(postal_attachments.c.dispatch_id == dispatch_id)
                        .order_by(postal_attachments.c.position)
                    ).mappings()
                ]
                delivery = conn.execute(
                    select(deliveries.c.state, deliveries.c.last_error).where(
                        deliveries.c.connector == "postal", deliveries.c.target == dispatch_id
                    )
                ).first()
                out["delivery_state"] = delivery.state if delivery else None
                out["delivery_error"] = delivery.last_error if delivery else None
            return out

        return await self.runner.read(read)

    async def search(
        self,
        *,
        state: str | None = None,
        stuck: bool | None = None,
        document_id: str | None = None,
        after: str = "",
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Dispatches by id (keyset paging: pass the last id as ``after``)."""

        def read() -> list[dict[str, Any]]:
            q = (
                select(postal_dispatches)
                .where(postal_dispatches.c.id > after)
                .order_by(postal_dispatches.c.id)
                .limit(limit)
            )
            if state:
                q = q.where(postal_dispatches.c.state == state)
            if stuck is not None:
                flag = postal_dispatches.c.stuck_flagged_at
                q = q.where(flag.is_not(None) if stuck else flag.is_(None))
            if document_id:
                q = q.where(postal_dispatches.c.document_id == document_id)
            with self.ledger.reader.connect() as conn:
                return [dict(r) for r in conn.execute(q).mappings()]

        return await self.runner.read(read)

    async def attachment(self, dispatch_id: str, position: int) -> dict[str, Any] | None:
        """One file to print, with its content."""

        def read() -> dict[str, Any] | None:
            with self.ledger.reader.connect() as conn:
                row = (
                    conn.execute(
                        select(postal_attachments).where(
                            postal_attachments.c.dispatch_id == dispatch_id,
                            postal_attachments.c.position == position,
                        )
                    )
                    .mappings()
                    .first()
                )
            return dict(row) if row else None

        return await self.runner.read(read)

    async def count(self) -> int:
        def read() -> int:
            with self.ledger.reader.connect() as conn:
                return int(
                    conn.execute(select(func.count()).select_from(postal_dispatches)).scalar() or 0
                )

        return await self.runner.read(read)

    async def set_awb(
        self, dispatch_id: str, awb: str, actor: str, cost_bani: int | None = None
    ) -> None:
        """The courier accepted the shipment: its AWB, state ``registered``."""

        def write() -> None:
            now = self.clock()
            with self.ledger.writer.begin() as conn:
                row = conn.execute(
                    select(postal_dispatches.c.tracking_number).where(
                        postal_dispatches.c.id == dispatch_id
                    )
                ).first()
                if row is None or row.tracking_number == awb:
                    return
                values: dict[str, Any] = {
                    "tracking_number": awb,
                    "state": "registered",
                    "state_since": now,
                    "updated_at": now,
                }
                if cost_bani is not None:
                    values["cost_bani"] = cost_bani
                conn.execute(
                    update(postal_dispatches)
                    .where(postal_dispatches.c.id == dispatch_id)
                    .values(**values)
                )
                conn.execute(
                    insert(postal_events).values(
                        dispatch_id=dispatch_id,
                        at=now,
                        code="AWB",
                        state="registered",
                        description=f"AWB {awb} emis de curier",
                        actor=actor,
                    )
                )

        await self.runner.write(write)

    # --- tracking -------------------------------------------------------------------------------

    async def open_shipments(self, *, after: str = "", limit: int = 50) -> list[dict[str, Any]]:
        """Courier shipments with an AWB that have not ended, by id after ``after``."""

        def read() -> list[dict[str, Any]]:
            q = (
                select(
                    postal_dispatches.c.id,
                    postal_dispatches.c.document_id,
                    postal_dispatches.c.tracking_number,
                    postal_dispatches.c.state,
                    postal_dispatches.c.state_since,
                    postal_dispatches.c.stuck_flagged_at,
                )
                .where(
                    postal_dispatches.c.network == "courier",
                    postal_dispatches.c.tracking_number.is_not(None),
                    postal_dispatches.c.state.in_(TRACKED_STATES),
                    postal_dispatches.c.id > after,
                )
                .order_by(postal_dispatches.c.id)
                .limit(limit)
            )
            with self.ledger.reader.connect() as conn:
                return [dict(r) for r in conn.execute(q).mappings()]

        return await self.runner.read(read)

    async def apply_events(
        self, dispatch_id: str, events: Sequence[EventIn], actor: str
    ) -> tuple[str, str] | None:
        """Record the events not seen before; move the state to the newest mapped event's.
        Returns (old state, new state) when the state changed."""

        def write() -> tuple[str, str] | None:
            now = self.clock()
            with self.ledger.writer.begin() as conn:
                row = conn.execute(
                    select(postal_dispatches.c.state).where(postal_dispatches.c.id == dispatch_id)
                ).first()
                if row is None:
                    return None
                seen = {
                    (r.code, r.occurred_at)
                    for r in conn.execute(
                        select(postal_events.c.code, postal_events.c.occurred_at).where(
                            postal_events.c.dispatch_id == dispatch_id
                        )
                    )
                }
                fresh = [e for e in events if (e.code, e.occurred_at) not in seen]
                if fresh:
                    conn.execute(
                        insert(postal_events),
                        [
                            {
                                "dispatch_id": dispatch_id,
                                "at": now,
                                "code": e.code[:16],
                                "state": e.state,
                                "description": e.description[:500],
                                "location": e.location[:100],
                                "occurred_at": e.occurred_at,
                                "actor": actor,
                            }
                            for e in fresh
                        ],
                    )
                mapped = [e for e in events if e.state]
                if not mapped:
                    return None
                # The courier lists events oldest first; equal times keep that order.
                _, newest = max(
                    enumerate(mapped),
                    key=lambda p: (p[1].occurred_at or datetime.min.replace(tzinfo=UTC), p[0]),
                )
                assert newest.state is not None
                if newest.state == row.state or row.state in FINAL_STATES:
                    return None
                conn.execute(
                    update(postal_dispatches)
                    .where(postal_dispatches.c.id == dispatch_id)
                    .values(
                        state=newest.state,
                        state_since=now,
                        stuck_flagged_at=None,
                        updated_at=now,
                    )
                )
                return str(row.state), newest.state

        return await self.runner.write(write)

    async def flag_stuck(self, dispatch_id: str, state: str) -> bool:
        """Flag a shipment stuck in ``state`` (once: until its state changes)."""

        def write() -> bool:
            now = self.clock()
            with self.ledger.writer.begin() as conn:
                res = conn.execute(
                    update(postal_dispatches)
                    .where(
                        postal_dispatches.c.id == dispatch_id,
                        postal_dispatches.c.state == state,
                        postal_dispatches.c.stuck_flagged_at.is_(None),
                    )
                    .values(stuck_flagged_at=now, updated_at=now)
                )
                if not res.rowcount:
                    return False
                conn.execute(
                    insert(postal_events).values(
                        dispatch_id=dispatch_id,
                        at=now,
                        code="STUCK",
                        state=state,
                        description=f"Blocată în starea {state}",
                        actor="source:postal-tracking",
                    )
                )
                return True

        return await self.runner.write(write)

    async def stale(self, older_than: float) -> list[dict[str, Any]]:
        """Open dispatches (courier or AR post) whose state has not moved since ``older_than``
        and that are not flagged yet."""

        def read() -> list[dict[str, Any]]:
            q = select(
                postal_dispatches.c.id,
                postal_dispatches.c.document_id,
                postal_dispatches.c.state,
                postal_dispatches.c.state_since,
            ).where(
                postal_dispatches.c.state.in_((*TRACKED_STATES, "posted")),
                postal_dispatches.c.state_since < older_than,
                postal_dispatches.c.stuck_flagged_at.is_(None),
                postal_dispatches.c.service.in_(("courier_pod", "registered_ar")),
            )
            with self.ledger.reader.connect() as conn:
                return [dict(r) for r in conn.execute(q).mappings()]

        return await self.runner.read(read)

    async def record_outcome(
        self, dispatch_id: str, state: str, outcome: dict[str, Any], actor: str, code: str
    ) -> None:
        """A final state with its outcome (date, signer, proof); merges into what is there."""

        def write() -> None:
            now = self.clock()
            with self.ledger.writer.begin() as conn:
                row = conn.execute(
                    select(postal_dispatches.c.state, postal_dispatches.c.outcome).where(
                        postal_dispatches.c.id == dispatch_id
                    )
                ).first()
                if row is None:
                    return
                merged = {**(row.outcome or {}), **outcome}
                values: dict[str, Any] = {"outcome": merged, "updated_at": now}
                if row.state != state:
                    values.update(state=state, state_since=now, stuck_flagged_at=None)
                conn.execute(
                    update(postal_dispatches)
                    .where(postal_dispatches.c.id == dispatch_id)
                    .values(**values)
                )
                if row.state != state:
                    conn.execute(
                        insert(postal_events).values(
                            dispatch_id=dispatch_id,
                            at=now,
                            code=code,
                            state=state,
                            description="Rezultat înregistrat",
                            actor=actor,
                        )
                    )

        await self.runner.write(write)

    async def proofs_pending(self, limit: int = 200) -> list[dict[str, Any]]:
        """Ended courier shipments whose proof document is not confirmed in the ledger yet
        (a lost one is ``closed`` once the answered document knows)."""

        def read() -> list[dict[str, Any]]:
            q = (
                select(postal_dispatches)
                .where(
                    postal_dispatches.c.network == "courier",
                    postal_dispatches.c.state.in_(("delivered", "refused", "returned", "lost")),
                    postal_dispatches.c.outcome.is_not(None),
                )
                .order_by(postal_dispatches.c.updated_at)
            )
            with self.ledger.reader.connect() as conn:
                rows = [dict(r) for r in conn.execute(q).mappings()]
            done = ("proof_document_id", "closed")
            return [r for r in rows if not any((r["outcome"] or {}).get(k) for k in done)][:limit]

        return await self.runner.read(read)

    # --- manifests ------------------------------------------------------------------------------

    async def close_day(self, day: date, network: str, actor: str) -> list[int]:
        """Put every queued post item of ``network`` requested up to the end of ``day`` on
        that day's manifests (one per service; a later closing adds a numbered supplement).
        Returns the ids of the manifests written now (none when nothing was queued)."""

        def write() -> list[int]:
            now = self.clock()
            _, end = _day_bounds(day)
            created: list[int] = []
            with self.ledger.writer.begin() as conn:
                queued = conn.execute(
                    select(
                        postal_dispatches.c.id,
                        postal_dispatches.c.service,
                        postal_dispatches.c.cost_bani,
                    ).where(
                        postal_dispatches.c.network == network,
                        postal_dispatches.c.state == "queued",
                        postal_dispatches.c.created_at < end,
                    )
                ).all()
                by_service: dict[str, list[Any]] = {}
                for r in queued:
                    by_service.setdefault(r.service, []).append(r)
                for service, items in sorted(by_service.items()):
                    seq = conn.execute(
                        select(func.coalesce(func.max(postal_manifests.c.sequence), 0)).where(
                            postal_manifests.c.day == day,
                            postal_manifests.c.network == network,
                            postal_manifests.c.service == service,
                        )
                    ).scalar_one()
                    manifest_id = conn.execute(
                        insert(postal_manifests)
                        .values(
                            day=day,
                            network=network,
                            service=service,
                            sequence=int(seq) + 1,
                            items=len(items),
                            total_bani=sum(int(i.cost_bani) for i in items),
                            created_at=now,
                            created_by=actor,
                        )
                        .returning(postal_manifests.c.id)
                    ).scalar_one()
                    ids = [i.id for i in items]
                    conn.execute(
                        update(postal_dispatches)
                        .where(
                            postal_dispatches.c.id.in_(ids), postal_dispatches.c.state == "queued"
                        )
                        .values(
                            manifest_id=manifest_id, state="posted", state_since=now, updated_at=now
                        )
                    )
                    conn.execute(
                        insert(postal_events),
                        [
                            {
                                "dispatch_id": i,
                                "at": now,
                                "code": "MAN",
                                "state": "posted",
                                "description": f"Pe borderoul nr. {manifest_id}",
                                "actor": actor,
                            }
                            for i in ids
                        ],
                    )
                    created.append(int(manifest_id))
            return created

        return await self.runner.write(write)

    async def manifests(
        self, day: date | None = None, network: str | None = None
    ) -> list[dict[str, Any]]:
        def read() -> list[dict[str, Any]]:
            q = select(postal_manifests).order_by(postal_manifests.c.id)
            if day is not None:
                q = q.where(postal_manifests.c.day == day)
            if network is not None:
                q = q.where(postal_manifests.c.network == network)
            with self.ledger.reader.connect() as conn:
                return [dict(r) for r in conn.execute(q).mappings()]

        return await self.runner.read(read)

    async def manifest(
        self, manifest_id: int
    ) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """A manifest and its items (with the addressees: it is printed for the post office)."""

        def read() -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
            with self.ledger.reader.connect() as conn:
                head = (
                    conn.execute(
                        select(postal_manifests).where(postal_manifests.c.id == manifest_id)
                    )
                    .mappings()
                    .first()
                )
                if head is None:
                    return None
                items = [
                    dict(r)
                    for r in conn.execute(
                        select(postal_dispatches)
                        .where(postal_dispatches.c.manifest_id == manifest_id)
                        .order_by(postal_dispatches.c.created_at, postal_dispatches.c.id)
                    ).mappings()
                ]
            return dict(head), items

        return await self.runner.read(read)

    # --- contract follow-up ---------------------------------------------------------------------

    async def spending(self, since: float, until: float) -> list[dict[str, Any]]:
        """Per service and department: items and cost of dispatches requested in [since, until).
        Dispatches whose courier delivery was cancelled are not counted."""

        def read() -> list[dict[str, Any]]:
            q = (
                select(
                    postal_dispatches.c.service,
                    postal_dispatches.c.department,
                    func.count().label("items"),
                    func.coalesce(func.sum(postal_dispatches.c.cost_bani), 0).label("bani"),
                )
                .where(
                    and_(
                        postal_dispatches.c.created_at >= since,
                        postal_dispatches.c.created_at < until,
                        postal_dispatches.c.state != "cancelled",
                    )
                )
                .group_by(postal_dispatches.c.service, postal_dispatches.c.department)
            )
            with self.ledger.reader.connect() as conn:
                return [dict(r) for r in conn.execute(q).mappings()]

        return await self.runner.read(read)
