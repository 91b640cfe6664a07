"""The daily handover list (centralizator) of one receiving department, and its handover.

The list holds the paper acts — documents of ``centralizator_kinds`` not brought by the portal
feed — registered (created) on one local day with that addressee department: registration
number, issuer, case number, act, and a column to sign in. It is printed (PDF, A4 landscape)
or exported (CSV, ``;``-separated UTF-8 with a BOM, as Romanian spreadsheets expect). Once the
department has signed for the acts, the handover is recorded — who received them and when —
which closes the ``handover`` connector's deliveries of those documents
(:meth:`hub.documents.DocumentStore.complete_deliveries`).
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert, select

from hub.db.schema import documents
from hub.pdf import PdfDocument
from hub_courts.db import handover_items, handovers
from hub_courts.documents import SOURCE as FEED_SOURCE
from hub_courts.paper import act_label

__all__ = ["Act", "Handover", "handover_pdf", "list_acts", "record_handover", "to_csv", "to_pdf"]


@dataclass(frozen=True, slots=True)
class Act:
    document_id: str
    registration_number: str
    registered_at: datetime
    department: str
    issuer: str
    case_number: str
    act: str
    subject: str
    received_by: str = ""
    received_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Handover:
    id: int | None
    day: date
    department: str
    received_by: str
    received_at: datetime
    documents: int


def _bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(tz)
    start = datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone).astimezone(UTC)
    return start, end


def list_acts(
    engine: Engine, day: date, *, kinds: list[str], tz: str, department: str | None = None
) -> list[Act]:
    """The day's acts, per department then registration order."""
    start, end = _bounds(day, tz)
    q = (
        select(
            documents.c.id,
            documents.c.registration_number,
            documents.c.created_at,
            documents.c.department,
            documents.c.kind,
            documents.c.subject,
            documents.c.meta,
            handovers.c.received_by,
            handovers.c.received_at,
        )
        .select_from(
            documents.outerjoin(
                handover_items, handover_items.c.document_id == documents.c.id
            ).outerjoin(handovers, handovers.c.id == handover_items.c.handover_id)
        )
        .where(
            documents.c.created_at >= start,
            documents.c.created_at < end,
            documents.c.kind.in_(kinds),
            documents.c.department.is_not(None),
            # The portal feed's documents are electronic: nothing to hand over on paper.
            documents.c.source != FEED_SOURCE,
        )
        .order_by(documents.c.department, documents.c.created_at, documents.c.id)
    )
    if department:
        q = q.where(documents.c.department == department)
    zone = ZoneInfo(tz)
    out = []
    with engine.connect() as conn:
        for r in conn.execute(q):
            meta = dict(r.meta or {})
            created = r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC)
            out.append(
                Act(
                    document_id=r.id,
                    registration_number=r.registration_number or "",
                    registered_at=created.astimezone(zone),
                    department=r.department,
                    issuer=str(meta.get("issuer") or ""),
                    case_number=str(meta.get("case_number") or ""),
                    act=act_label(meta.get("act_type"), r.kind),
                    subject=r.subject or "",
                    received_by=r.received_by or "",
                    received_at=(
                        datetime.fromtimestamp(r.received_at, UTC).astimezone(zone)
                        if r.received_at
                        else None
                    ),
                )
            )
    return out


def record_handover(
    engine: Engine,
    day: date,
    department: str,
    *,
    received_by: str,
    received_at: datetime,
    actor: str,
    kinds: list[str],
    tz: str,
) -> tuple[Handover, list[str]]:
    """Record that ``received_by`` received the day's acts not handed over yet. Returns the
    handover (id None when there was nothing new) and every document id handed over for that
    day and department so far (the deliveries to close)."""
    acts = list_acts(engine, day, kinds=kinds, tz=tz, department=department)
    new = [a.document_id for a in acts if not a.received_by]
    when = received_at if received_at.tzinfo else received_at.replace(tzinfo=UTC)
    handover = Handover(None, day, department, received_by, when, 0)
    if new:
        with engine.begin() as conn:
            hid = conn.execute(
                insert(handovers)
                .values(
                    day=day,
                    department=department,
                    received_by=received_by,
                    received_at=when.timestamp(),
                    recorded_by=actor,
                    recorded_at=time.time(),
                    documents=len(new),
                )
                .returning(handovers.c.id)
            ).scalar_one()
            conn.execute(
                insert(handover_items), [{"document_id": d, "handover_id": hid} for d in new]
            )
        handover = Handover(int(hid), day, department, received_by, when, len(new))
    return handover, [a.document_id for a in acts]


CSV_COLUMNS = (
    "Nr. crt.",
    "Nr. înregistrare",
    "Data înregistrării",
    "Compartiment",
    "Emitent",
    "Nr. dosar",
    "Act",
    "Conținut pe scurt",
    "Primit de",
    "Data primirii",
    "Semnătură",
)


def to_csv(acts: list[Act]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for i, a in enumerate(acts, 1):
        writer.writerow(
            [
                i,
                a.registration_number,
                f"{a.registered_at:%d.%m.%Y %H:%M}",
                a.department,
                a.issuer,
                a.case_number,
                a.act,
                a.subject,
                a.received_by,
                f"{a.received_at:%d.%m.%Y %H:%M}" if a.received_at else "",
                "",
            ]
        )
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_pdf(acts: list[Act], day: date, department: str | None, *, now: datetime) -> bytes:
    """One section per department: the table with a signature column, then the signatures."""
    departments = sorted({a.department for a in acts}) or [department or "—"]
    pdf = PdfDocument(
        "Centralizator acte de procedură primite",
        subtitle=f"Data înregistrării: {day:%d.%m.%Y}",
        landscape=True,
        generated_at=now,
    )
    for n, dept in enumerate(departments):
        rows = [a for a in acts if a.department == dept]
        if n:
            pdf.fpdf.add_page()
        pdf.heading(f"Compartiment destinatar: {dept}  —  {len(rows)} acte")
        if not rows:
            pdf.paragraph(
                "Nu au fost înregistrate acte pentru acest compartiment în ziua respectivă."
            )
        else:
            pdf.table(
                (
                    "Nr. crt.",
                    "Nr. înreg.",
                    "Data",
                    "Emitent",
                    "Nr. dosar",
                    "Act",
                    "Conținut",
                    "Semnătură primire",
                ),
                [
                    (
                        str(i),
                        a.registration_number or "—",
                        f"{a.registered_at:%d.%m.%Y %H:%M}",
                        a.issuer or "—",
                        a.case_number or "—",
                        a.act,
                        a.subject[:160],
                        f"{a.received_by}, {a.received_at:%d.%m.%Y %H:%M}" if a.received_at else "",
                    )
                    for i, a in enumerate(rows, 1)
                ],
                widths=(5, 10, 10, 16, 11, 14, 24, 16),
            )
        received = sorted(
            {(a.received_by, a.received_at) for a in rows if a.received_at is not None},
            key=lambda x: x[1] or now,
        )
        for who, at in received:
            assert at is not None
            pdf.paragraph(f"Predare înregistrată: primit de {who} la {at:%d.%m.%Y %H:%M}.")
        pending = sum(1 for a in rows if a.received_at is None)
        if received and pending:
            pdf.paragraph(f"Acte nepredate încă: {pending}.")
        pdf.signatures(["Am predat (Registratură)", f"Am primit ({dept})"])
    return pdf.render()


def handover_pdf(acts: list[Act], day: date, department: str, *, now: datetime) -> bytes:
    return to_pdf(acts, day, department, now=now)


def as_json(acts: list[Act]) -> list[dict[str, Any]]:
    return [
        {
            "document_id": a.document_id,
            "registration_number": a.registration_number,
            "registered_at": a.registered_at.isoformat(),
            "department": a.department,
            "issuer": a.issuer,
            "case_number": a.case_number,
            "act": a.act,
            "subject": a.subject,
            "received_by": a.received_by or None,
            "received_at": a.received_at.isoformat() if a.received_at else None,
        }
        for a in acts
    ]
