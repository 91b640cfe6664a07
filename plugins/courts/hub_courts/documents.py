"""How a change on a case reads as a document for the legal department (Romanian text)."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.models import Channel, DocumentIn
from hub_courts.model import Case, Event
from hub_courts.names import court_label

__all__ = ["SOURCE", "event_document"]

SOURCE = "courts"


def _case_lines(case: Case) -> list[str]:
    lines = [
        f"Instanța: {court_label(case.court)}",
        f"Număr dosar: {case.number}",
        f"Obiect: {case.subject or '—'}",
        f"Stadiu procesual: {case.stage or '—'}",
        f"Materie: {case.category or '—'}",
    ]
    if case.department:
        lines.append(f"Secția: {case.department}")
    if case.parties:
        lines.append("Părți:")
        lines.extend(f"  - {name} ({role})" for name, role in case.parties)
    if case.hearings:
        lines.append("Termene:")
        for h in sorted(case.hearings, key=lambda h: h.at):
            ruled = f" — {h.summary or h.solution}" if h.solution else ""
            lines.append(f"  - {h.at:%d.%m.%Y %H:%M}, complet {h.panel or '—'}{ruled}")
    return lines


def event_document(case: Case, event: Event, *, now: datetime | None = None) -> DocumentIn:
    court = court_label(case.court)
    meta: dict[str, object] = {
        "case_number": case.number,
        "court": case.court,
        "issuer": court,
        "event": event.type,
        "event_key": event.key,
    }
    if case.modified:
        meta["portal_modified"] = case.modified.isoformat()
    h, a = event.hearing, event.appeal
    if event.type == "dosar":
        subject = f"Dosar nou {case.number} — {court}: {case.subject or 'fără obiect'}"
        lead = "Municipiul figurează ca parte într-un dosar nou pe portalul instanțelor."
    elif event.type == "termen" and h is not None:
        subject = f"Termen {h.at:%d.%m.%Y %H:%M} în dosarul {case.number} ({court})"
        lead = f"Termen de judecată: {h.at:%d.%m.%Y}, ora {h.at:%H:%M}, complet {h.panel or '—'}."
        meta |= {"hearing_at": h.at.isoformat(), "panel": h.panel}
    elif event.type == "solutie" and h is not None:
        subject = f"Soluție în dosarul {case.number} ({court}): {h.summary or 'pronunțată'}"
        lead = (
            f"Soluția pronunțată la termenul din {h.at:%d.%m.%Y}: {h.summary or '—'}\n{h.solution}"
        )
        if h.document or h.document_number:
            lead += f"\nDocument: {h.document or '—'} nr. {h.document_number or '—'}"
        meta |= {"hearing_at": h.at.isoformat(), "solution": h.summary or h.solution[:200]}
    else:
        kind = a.kind if a is not None else "cale de atac"
        declared = f"{a.declared_on:%d.%m.%Y}" if a is not None and a.declared_on else "—"
        subject = f"Cale de atac ({kind}) în dosarul {case.number} ({court})"
        lead = f"Cale de atac declarată: {kind}, la {declared}, de {a.party if a else '—'}."
        meta |= {"appeal": kind}
    body = "\n".join([lead, "", *_case_lines(case)])
    return DocumentIn(
        source=SOURCE,
        external_id=event.key[:200],
        channel=Channel.INSTANTA,
        kind=event.kind,
        subject=subject[:1000],
        body=body[:200_000],
        received_at=now or datetime.now(UTC),
        metadata=meta,
    )
