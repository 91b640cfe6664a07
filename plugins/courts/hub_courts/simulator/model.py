"""The simulated portal's data: cases of the Timiș courts, some with the municipality as a
party (spelled every way the courts spell it), hearings and appeals that change over time.

Times are local (Europe/Bucharest) and naive, as the portal's are. Text may carry the markers
:data:`BAD_REF` and :data:`BAD_BYTE`: the server writes them as an illegal character reference
(``&#x1;``) and a raw control byte, as the real portal sometimes does.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

__all__ = [
    "BAD_BYTE",
    "BAD_REF",
    "COURT_CODES",
    "MUNICIPALITY_SPELLINGS",
    "SimAppeal",
    "SimCase",
    "SimHearing",
    "Store",
    "local_now",
]

#: Private-use characters the server replaces by illegal XML on the wire.
BAD_REF = "\ue000"
BAD_BYTE = "\ue001"

#: Institutie code → the court's number in case numbers (nnnn/<code>/yyyy).
COURT_CODES = {
    "CurteadeApelTIMISOARA": 59,
    "TribunalulTIMIS": 30,
    "JudecatoriaTIMISOARA": 325,
    "JudecatoriaLUGOJ": 252,
    "TribunalulARAD": 108,
}

MUNICIPALITY_SPELLINGS = (
    "MUNICIPIUL TIMIŞOARA",  # cedilla
    "MUNICIPIUL TIMIȘOARA",  # comma below
    "MUNICIPIUL TIMISOARA",
    "PRIMĂRIA MUNICIPIULUI TIMIŞOARA",
    "PRIMĂRIA MUNICIPIULUI TIMIȘOARA",
    "PRIMARIA MUNICIPIULUI TIMISOARA",
    "MUNICIPIUL TIMIŞOARA PRIN PRIMAR",
)
_PEOPLE = (
    "POPESCU ION",
    "IONESCU MARIA",
    "SC ALFA CONSTRUCT SRL",
    "STAN GHEORGHE",
    "DUMITRESCU ANA",
    "SC BETA IMOBILIARE SA",
    "CONSILIUL LOCAL AL MUNICIPIULUI TIMIŞOARA",
    "RADU ȘTEFAN",
)
_SUBJECTS = (
    (
        "anulare act administrativ",
        "Contenciosadministrativsifiscal",
        "Contencios administrativ și fiscal",
    ),
    ("pretenții", "Civil", "Civil"),
    ("obligația de a face", "Civil", "Civil"),
    ("contestație la executare", "Civil", "Civil"),
    ("plângere contravențională", "Civil", "Civil"),
    ("drepturi bănești", "Litigiidemunca", "Litigii de muncă"),
    ("uzucapiune", "Civil", "Civil"),
)
_ROLES = ("Reclamant", "Pârât", "Intimat", "Contestator", "Petent")
_SOLUTIONS = (
    ("Admite acțiunea. Anulează actul administrativ contestat.", "Admisă"),
    ("Respinge acțiunea ca neîntemeiată.", "Respinsă"),
    ("Amână pronunțarea.", "Amânare pronunțare"),
    ("Admite excepția necompetenței teritoriale. Declină competența.", "Declinare"),
)


def local_now() -> datetime:
    return datetime.now(ZoneInfo("Europe/Bucharest")).replace(tzinfo=None, microsecond=0)


@dataclass
class SimHearing:
    at: datetime
    panel: str
    solution: str = ""
    summary: str = ""
    pronounced_on: date | None = None
    document: str | None = None
    document_number: str = ""


@dataclass
class SimAppeal:
    declared_on: date
    party: str
    kind: str


@dataclass
class SimCase:
    number: str
    court: str
    filed_on: datetime
    subject: str
    category: str
    category_name: str
    stage: str
    department: str
    parties: list[tuple[str, str]]
    hearings: list[SimHearing] = field(default_factory=list)
    appeals: list[SimAppeal] = field(default_factory=list)
    modified: datetime = field(default_factory=local_now)


class Store:
    """Every case the simulated portal knows, plus the changes a test or the demo makes."""

    def __init__(self, *, seed: int = 2026, now: datetime | None = None) -> None:
        self.rng = random.Random(seed)
        self.cases: dict[tuple[str, str], SimCase] = {}
        self._serial: dict[int, int] = {}
        self.now = now or local_now()

    # --- building ---------------------------------------------------------------------------

    def next_number(self, court: str, year: int | None = None) -> str:
        code = COURT_CODES.get(court, 999)
        self._serial[code] = self._serial.get(code, 1000) + 1
        return f"{self._serial[code]}/{code}/{year or self.now.year}"

    def add_case(
        self,
        court: str = "TribunalulTIMIS",
        *,
        municipality: str | None = "MUNICIPIUL TIMIȘOARA",
        modified: datetime | None = None,
        hearings: int = 1,
        dirty: bool = False,
        number: str | None = None,
    ) -> SimCase:
        """A case; ``municipality`` is how the municipality is spelled among its parties (None:
        a case of other people); ``dirty`` puts illegal characters in its text."""
        rng = self.rng
        subject, category, category_name = rng.choice(_SUBJECTS)
        other = rng.choice(_PEOPLE)
        parties = [(other, "Reclamant")]
        if municipality:
            parties.append((municipality, "Pârât"))
        else:
            parties.append((rng.choice([p for p in _PEOPLE if p != other]), "Pârât"))
        if dirty:
            subject = f"{subject}{BAD_REF}"
            parties[0] = (f"{other}{BAD_BYTE}", "Reclamant")
        base = modified or self.now - timedelta(hours=rng.randint(1, 48))
        filed = base - timedelta(days=rng.randint(10, 200))
        case = SimCase(
            number=number or self.next_number(court, filed.year),
            court=court,
            filed_on=filed.replace(hour=0, minute=0, second=0),
            subject=subject,
            category=category,
            category_name=category_name,
            stage="Fond",
            department="Secția a II-a civilă" if category == "Civil" else "Secția contencios",
            parties=parties,
            modified=base,
        )
        for i in range(hearings):
            day = (base + timedelta(days=14 * (i + 1))).date()
            case.hearings.append(
                SimHearing(
                    at=datetime.combine(day, datetime.min.time()).replace(hour=9 + i % 4),
                    panel=f"C{rng.randint(1, 12)}",
                )
            )
        self.cases[(court, case.number)] = case
        return case

    def seed(self, count: int = 40) -> None:
        """A realistic mix: most cases involve the municipality, spelled every way."""
        courts = list(COURT_CODES)[:4]
        for i in range(count):
            court = courts[i % len(courts)]
            spelling = (
                None if i % 5 == 4 else MUNICIPALITY_SPELLINGS[i % len(MUNICIPALITY_SPELLINGS)]
            )
            self.add_case(court, municipality=spelling, hearings=1 + i % 3, dirty=i % 7 == 3)

    # --- changes over time ------------------------------------------------------------------

    def _touch(self, case: SimCase) -> SimCase:
        case.modified = max(local_now(), case.modified)
        return case

    def get(self, court: str, number: str) -> SimCase:
        return self.cases[(court, number)]

    def move_hearing(self, court: str, number: str, days: int = 7) -> SimHearing:
        """The next unruled hearing moves ``days`` later (a new hearing date)."""
        case = self.get(court, number)
        h = next(h for h in case.hearings if not h.solution)
        h.at = h.at + timedelta(days=days)
        self._touch(case)
        return h

    def add_hearing(self, court: str, number: str, at: datetime) -> SimHearing:
        case = self.get(court, number)
        h = SimHearing(at=at, panel=f"C{self.rng.randint(1, 12)}")
        case.hearings.append(h)
        self._touch(case)
        return h

    def rule(self, court: str, number: str) -> SimHearing:
        """The first unruled hearing gets a solution (a judgment is pronounced)."""
        case = self.get(court, number)
        h = next(h for h in case.hearings if not h.solution)
        h.solution, h.summary = self.rng.choice(_SOLUTIONS[:2])
        h.pronounced_on = h.at.date()
        h.document = "Hotarare"
        h.document_number = str(self.rng.randint(100, 9999))
        self._touch(case)
        return h

    def appeal(self, court: str, number: str, kind: str = "Apel") -> SimAppeal:
        case = self.get(court, number)
        a = SimAppeal(declared_on=local_now().date(), party=case.parties[0][0], kind=kind)
        case.appeals.append(a)
        self._touch(case)
        return a

    def advance(self) -> str:
        """One random change (the demo calls it now and then); returns what changed."""
        mine = [c for c in self.cases.values() if any("TIMI" in p[0].upper() for p in c.parties)]
        case = self.rng.choice(mine)
        choice = self.rng.random()
        if choice < 0.3 and any(not h.solution for h in case.hearings):
            self.move_hearing(case.court, case.number, self.rng.randint(7, 35))
            return "hearing moved"
        if choice < 0.6 and any(not h.solution for h in case.hearings):
            self.rule(case.court, case.number)
            return "solution"
        if choice < 0.8:
            self.appeal(case.court, case.number)
            return "appeal"
        self.add_case(case.court, modified=local_now())
        return "new case"
