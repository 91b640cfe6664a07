"""What the portal says about a case, as plain values, and the events the hub cares about.

A case (``Dosar``) has parties, hearings (``sedinte``: date, time, panel and — once ruled — a
solution) and appeals (``caiAtac``). The hub turns *changes* into documents for the legal
department; each change has a stable **event key** (the document's ``external_id``), so a case
read twice, by two spellings of the municipality's name or in two overlapping windows, makes
one document per change:

* ``<court>:<number>:dosar`` — a case the hub had not seen;
* ``<court>:<number>:termen:<YYYY-MM-DDTHH:MM>`` — a hearing date (a moved hearing is a new key);
* ``<court>:<number>:solutie:<YYYY-MM-DD>:<digest>`` — a solution pronounced at a hearing;
* ``<court>:<number>:cale_atac:<YYYY-MM-DD>:<digest>`` — an appeal declared.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from typing import Any

__all__ = ["Appeal", "Case", "Event", "Hearing", "case_from_soap"]


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:12]


def _hour(value: str | None) -> time:
    try:
        hh, _, mm = (value or "").strip().partition(":")
        return time(int(hh), int(mm or 0))
    except ValueError:
        return time(0, 0)


@dataclass(frozen=True, slots=True)
class Hearing:
    """One hearing (``DosarSedinta``). ``at`` is local time (date + ``ora``)."""

    at: datetime
    panel: str = ""
    solution: str = ""
    summary: str = ""
    pronounced_on: date | None = None
    document: str = ""
    document_number: str = ""

    @property
    def key(self) -> str:
        return self.at.strftime("%Y-%m-%dT%H:%M")


@dataclass(frozen=True, slots=True)
class Appeal:
    """One appeal (``DosarCaleAtac``)."""

    declared_on: date | None
    party: str = ""
    kind: str = ""


@dataclass(frozen=True, slots=True)
class Event:
    """A change on a case that becomes one document."""

    key: str
    kind: str  # document kind: act_procedura or termen_instanta
    type: str  # dosar, termen, solutie, cale_atac
    hearing: Hearing | None = None
    appeal: Appeal | None = None


@dataclass(frozen=True, slots=True)
class Case:
    number: str
    court: str
    filed_on: date | None = None
    modified: datetime | None = None
    subject: str = ""
    stage: str = ""
    category: str = ""
    department: str = ""
    parties: tuple[tuple[str, str], ...] = ()
    hearings: tuple[Hearing, ...] = ()
    appeals: tuple[Appeal, ...] = field(default_factory=tuple)

    @property
    def ident(self) -> str:
        return f"{self.court}:{self.number}"

    def events(self) -> list[Event]:
        """Every event key this state of the case implies (new or not)."""
        out = [Event(f"{self.ident}:dosar", "act_procedura", "dosar")]
        for h in self.hearings:
            out.append(Event(f"{self.ident}:termen:{h.key}", "termen_instanta", "termen", h))
            if h.solution.strip():
                digest = _digest(h.solution.strip(), h.summary.strip())
                out.append(
                    Event(
                        f"{self.ident}:solutie:{h.at:%Y-%m-%d}:{digest}",
                        "act_procedura",
                        "solutie",
                        h,
                    )
                )
        for a in self.appeals:
            digest = _digest(a.kind.strip(), a.party.strip())
            day = a.declared_on.isoformat() if a.declared_on else "-"
            out.append(
                Event(
                    f"{self.ident}:cale_atac:{day}:{digest}", "act_procedura", "cale_atac", appeal=a
                )
            )
        return out

    def hearings_json(self) -> list[dict[str, Any]]:
        """The hearings as stored for the calendar."""
        return [
            {
                "at": h.at.isoformat(),
                "panel": h.panel,
                "solution": h.summary or h.solution[:200],
            }
            for h in sorted(self.hearings, key=lambda h: h.at)
        ]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["filed_on"] = self.filed_on.isoformat() if self.filed_on else None
        data["modified"] = self.modified.isoformat() if self.modified else None
        return data


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return None


def _naive(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=None)


def _items(container: Any, name: str) -> list[Any]:
    if container is None:
        return []
    items = getattr(container, name, None) if not isinstance(container, list) else container
    return [i for i in (items or []) if i is not None]


def case_from_soap(dosar: Any) -> Case:
    """A :class:`Case` from a zeep ``Dosar`` object (or anything with the same attributes)."""
    hearings = []
    for s in _items(dosar.sedinte, "DosarSedinta"):
        day = _as_date(s.data)
        if day is None:
            continue
        hearings.append(
            Hearing(
                at=datetime.combine(day, _hour(s.ora)),
                panel=(s.complet or "").strip(),
                solution=(s.solutie or "").strip(),
                summary=(s.solutieSumar or "").strip(),
                pronounced_on=_as_date(s.dataPronuntare),
                document=s.documentSedinta or "",
                document_number=(s.numarDocument or "").strip(),
            )
        )
    appeals = [
        Appeal(
            declared_on=_as_date(a.dataDeclarare),
            party=(a.parteDeclaratoare or "").strip(),
            kind=(a.tipCaleAtac or "").strip(),
        )
        for a in _items(dosar.caiAtac, "DosarCaleAtac")
    ]
    parties = tuple(
        ((p.nume or "").strip(), (p.calitateParte or "").strip())
        for p in _items(dosar.parti, "DosarParte")
    )
    return Case(
        number=(dosar.numar or "").strip(),
        court=str(dosar.institutie),
        filed_on=_as_date(dosar.data),
        modified=_naive(dosar.dataModificare),
        subject=(dosar.obiect or "").strip(),
        stage=dosar.stadiuProcesualNume or dosar.stadiuProcesual or "",
        category=dosar.categorieCazNume or dosar.categorieCaz or "",
        department=(dosar.departament or "").strip(),
        parties=parties,
        hearings=tuple(hearings),
        appeals=tuple(appeals),
    )
