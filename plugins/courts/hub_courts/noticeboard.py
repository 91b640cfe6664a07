"""The notice board (avizier): acts posted at the city hall, and when they come down.

A citation the bailiff or the court's agent could not hand over is posted at the city hall;
under the Civil Procedure Code (art. 163) the addressee then has ``notice_board.days`` (7) days
to collect it. The hub records the posting (date, clerk), computes the removal date —
``posted_on + days``, moved to the next working day when it falls on a weekend or a Romanian
public holiday (art. 181 alin. (2)), both configurable — lists what is up
(``GET /api/v1/notice-board``), records the removal, and prints the *proces-verbal de afișare*
and *de dezafișare*. The ``courts-notice-board`` source looks every
``reminder_interval_seconds`` for acts due to come down and writes one audit event
(``posting_due_removal``) per posting, once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import Engine, insert, select, update

from hub.db.schema import events
from hub.log import get_logger
from hub.pdf import PdfDocument
from hub.sources import PollResult, Source, SourceSettings
from hub.terms import next_working_day
from hub_courts.db import postings
from hub_courts.settings import CourtsSettings, NoticeBoardSettings

__all__ = [
    "NoticeBoardSource",
    "Posting",
    "add_posting",
    "get_posting",
    "list_postings",
    "pv_afisare",
    "pv_dezafisare",
    "record_removal",
    "removal_date",
]

log = get_logger("hub_courts.noticeboard")
REMINDER_ACTION = "posting_due_removal"


def removal_date(posted_on: date, rule: NoticeBoardSettings) -> date:
    """When a posted act comes down under ``rule``."""
    due = posted_on + timedelta(days=rule.days)
    return next_working_day(due) if rule.extend_to_working_day else due


@dataclass(frozen=True, slots=True)
class Posting:
    id: int
    document_id: str | None
    act: str
    issuer: str
    case_number: str
    addressee: str
    posted_on: date
    removal_due: date
    posted_by: str
    removed_on: date | None
    removed_by: str | None
    reminded: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "document_id": self.document_id,
            "act": self.act,
            "issuer": self.issuer,
            "case_number": self.case_number,
            "addressee": self.addressee,
            "posted_on": self.posted_on.isoformat(),
            "removal_due": self.removal_due.isoformat(),
            "posted_by": self.posted_by,
            "removed_on": self.removed_on.isoformat() if self.removed_on else None,
            "removed_by": self.removed_by,
        }


def _posting(r: Any) -> Posting:
    return Posting(
        id=int(r.id),
        document_id=r.document_id,
        act=r.act,
        issuer=r.issuer,
        case_number=r.case_number,
        addressee=r.addressee,
        posted_on=r.posted_on,
        removal_due=r.removal_due,
        posted_by=r.posted_by,
        removed_on=r.removed_on,
        removed_by=r.removed_by,
        reminded=r.reminded_at is not None,
    )


def add_posting(
    engine: Engine,
    *,
    act: str,
    posted_on: date,
    posted_by: str,
    rule: NoticeBoardSettings,
    actor: str,
    document_id: str | None = None,
    issuer: str = "",
    case_number: str = "",
    addressee: str = "",
) -> Posting:
    due = removal_date(posted_on, rule)
    now = time.time()
    with engine.begin() as conn:
        pid = conn.execute(
            insert(postings)
            .values(
                document_id=document_id,
                act=act,
                issuer=issuer,
                case_number=case_number,
                addressee=addressee,
                posted_on=posted_on,
                removal_due=due,
                posted_by=posted_by,
                created_at=now,
                created_by=actor,
            )
            .returning(postings.c.id)
        ).scalar_one()
        conn.execute(
            insert(events).values(
                at=now,
                document_id=document_id,
                actor=actor,
                action="posted",
                reason=f"notice board posting {pid}: {posted_on:%Y-%m-%d}, due down {due:%Y-%m-%d}",
            )
        )
    found = get_posting(engine, int(pid))
    assert found is not None
    return found


def get_posting(engine: Engine, posting_id: int) -> Posting | None:
    with engine.connect() as conn:
        row = conn.execute(select(postings).where(postings.c.id == posting_id)).first()
    return _posting(row) if row else None


def list_postings(engine: Engine, *, current: bool = True) -> list[Posting]:
    """What is up (``current``), or every posting; by removal date."""
    q = select(postings).order_by(postings.c.removal_due, postings.c.id)
    if current:
        q = q.where(postings.c.removed_on.is_(None))
    with engine.connect() as conn:
        return [_posting(r) for r in conn.execute(q)]


def record_removal(
    engine: Engine, posting_id: int, *, removed_on: date, removed_by: str, actor: str
) -> Posting | None:
    """Record the removal once; a second call answers the first removal unchanged."""
    with engine.begin() as conn:
        row = conn.execute(select(postings).where(postings.c.id == posting_id)).first()
        if row is None:
            return None
        if row.removed_on is None:
            if removed_on < row.posted_on:
                raise ValueError("the removal date is before the posting date")
            conn.execute(
                update(postings)
                .where(postings.c.id == posting_id)
                .values(removed_on=removed_on, removed_by=removed_by)
            )
            conn.execute(
                insert(events).values(
                    at=time.time(),
                    document_id=row.document_id,
                    actor=actor,
                    action="removed_from_notice_board",
                    reason=f"notice board posting {posting_id}: removed {removed_on:%Y-%m-%d}",
                )
            )
    return get_posting(engine, posting_id)


def remind_due(engine: Engine, today: date, actor: str) -> list[int]:
    """One ``posting_due_removal`` event per posting due today or earlier, not removed and not
    reminded yet; marks them reminded in the same transaction."""
    now = time.time()
    with engine.begin() as conn:
        rows = conn.execute(
            select(postings.c.id, postings.c.document_id, postings.c.removal_due).where(
                postings.c.removed_on.is_(None),
                postings.c.reminded_at.is_(None),
                postings.c.removal_due <= today,
            )
        ).all()
        if not rows:
            return []
        conn.execute(
            update(postings)
            .where(postings.c.id.in_([r.id for r in rows]), postings.c.reminded_at.is_(None))
            .values(reminded_at=now)
        )
        conn.execute(
            insert(events),
            [
                {
                    "at": now,
                    "document_id": r.document_id,
                    "delivery_id": None,
                    "actor": actor,
                    "action": REMINDER_ACTION,
                    "from_state": None,
                    "to_state": None,
                    "reason": f"notice board posting {r.id} is due to come down "
                    f"({r.removal_due:%Y-%m-%d})",
                }
                for r in rows
            ],
        )
    return [int(r.id) for r in rows]


def _record(p: Posting, title: str, *, removal: bool, now: datetime) -> bytes:
    pdf = PdfDocument(
        title,
        subtitle=f"Nr. {p.id} / {(p.removed_on if removal else p.posted_on):%d.%m.%Y}",
        generated_at=now,
    )
    day = p.removed_on if removal and p.removed_on else p.posted_on
    clerk = (p.removed_by if removal else p.posted_by) or "—"
    if removal:
        text = (
            f"Subsemnatul/subsemnata {clerk}, funcționar în cadrul Serviciului Relații cu "
            f"Publicul și Registratură, am procedat astăzi, {day:%d.%m.%Y}, la dezafișarea de "
            f"la avizierul Primăriei Municipiului Timișoara a actului de mai jos, afișat la "
            f"data de {p.posted_on:%d.%m.%Y}, termenul de afișare fiind împlinit."
        )
    else:
        text = (
            f"Subsemnatul/subsemnata {clerk}, funcționar în cadrul Serviciului Relații cu "
            f"Publicul și Registratură, am procedat astăzi, {day:%d.%m.%Y}, la afișarea la "
            f"avizierul Primăriei Municipiului Timișoara a actului de mai jos, conform art. 163 "
            f"din Codul de procedură civilă. Actul rămâne afișat până la data de "
            f"{p.removal_due:%d.%m.%Y}."
        )
    pdf.paragraph(text)
    pdf.fields(
        [
            ("Actul", p.act),
            ("Emitent", p.issuer or "—"),
            ("Număr dosar", p.case_number or "—"),
            ("Destinatar", p.addressee or "—"),
            ("Data afișării", f"{p.posted_on:%d.%m.%Y}"),
            (
                "Data dezafișării" if removal else "Data dezafișării prevăzută",
                f"{(p.removed_on or p.removal_due):%d.%m.%Y}",
            ),
            ("Funcționar", clerk),
        ]
    )
    pdf.paragraph("Drept pentru care s-a încheiat prezentul proces-verbal, într-un exemplar.")
    pdf.signatures(["Funcționar", "Șef serviciu"])
    return pdf.render()


def pv_afisare(p: Posting, *, now: datetime | None = None) -> bytes:
    return _record(p, "Proces-verbal de afișare", removal=False, now=now or datetime.now(UTC))


def pv_dezafisare(p: Posting, *, now: datetime | None = None) -> bytes:
    if p.removed_on is None:
        raise ValueError("the act has not been removed yet")
    return _record(p, "Proces-verbal de dezafișare", removal=True, now=now or datetime.now(UTC))


class NoticeBoardSource(Source):
    """Looks for postings due to come down; writes one reminder event each (no documents)."""

    name = "courts-notice-board"
    settings_section = "courts"
    settings_model: ClassVar[type[Any]] = CourtsSettings
    description = "Notice board: reminds once when a posted act is due to come down"

    def __init__(self, settings: Any, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        courts: CourtsSettings = settings
        super().__init__(
            SourceSettings(
                enabled=True, interval_seconds=courts.notice_board.reminder_interval_seconds
            ),
            transport=transport,
        )
        self.courts = courts

    def today(self) -> date:
        return datetime.now(ZoneInfo(self.courts.timezone)).date()

    async def poll(self, cursor: dict[str, Any] | None) -> PollResult:
        store = self.documents
        if store is None:
            raise RuntimeError("the notice board source runs inside a hub (no ledger)")
        due = await store.runner.write(
            remind_due, store.ledger.writer, self.today(), f"source:{self.name}"
        )
        for pid in due:
            log.warning("hub_courts.posting_due_removal", posting_id=pid)
        total = int((cursor or {}).get("reminded", 0)) + len(due)
        up = await store.runner.read(list_postings, store.ledger.reader, current=True)
        today = self.today()
        status = {
            "posted": len(up),
            "due_for_removal": sum(1 for p in up if p.removal_due <= today),
            "reminders_sent": total,
        }
        return PollResult(
            cursor={
                "reminded": total,
                "last_round": datetime.now(UTC).isoformat(),
                "status": status,
            }
        )
