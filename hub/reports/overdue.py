"""The monthly overdue report: what is not finished in time, per rank-I structure.

For a month ``YYYY-MM`` the report looks at the ledger as of its last day (or today, for the
current month) and lists, per rank-I structure of the unit directory (:mod:`hub.units`), the
documents registered more than ``days_open`` (30) days earlier and not finished, and those past
their legal term (``due_date``, :mod:`hub.terms`), oldest first. Documents of units that are not
rank I, or of no unit, are listed in the registry's copy under "Alte compartimente". A separate
list holds the authorization requests (kinds whose policy has ``tacit_approval``) whose term
ends within ``tacit_risk_days`` or has passed: their silence approves them (OUG 27/2003).

"Finished" means closed (``closed_at``, from WEBCON's status sync) or answered (``released``)
on or before that day. Anonymous petitions are filed without action and never listed.

Each head of a rank-I structure receives an HTML e-mail (Romanian) with a bar chart of the
overdue counts per structure (inline SVG, drawn here: no external service), the structure's
lists and a CSV attachment; the registry receives a copy with everything. No subjects and no
petitioners appear: registration numbers identify the documents.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from html import escape
from typing import Any

from sqlalchemy import or_, select

from hub.db.schema import documents
from hub.templating import templates
from hub.terms import LOCAL_TZ, TermEngine, local_date
from hub.units import Unit, UnitDirectory

__all__ = [
    "OverdueReport",
    "OverdueRow",
    "bar_chart_svg",
    "build_messages",
    "compute_overdue",
    "month_bounds",
    "render_csv",
    "render_html",
]

OTHER = "ALTELE"
OTHER_NAME = "Alte compartimente / nerepartizate"
FINISHED_STATUSES = frozenset({"closed", "released", "filed"})
NO_ACTION_KINDS = frozenset({"petitie_anonima"})
STATUS_RO: dict[str, str] = {
    "received": "primit",
    "registered": "înregistrat",
    "in_progress": "în lucru",
}
CSV_COLUMNS = (
    "Nr. înregistrare",
    "Data înregistrării",
    "Tip",
    "Compartiment",
    "Stadiu",
    "Termen legal",
    "Zile de la înregistrare",
    "Termen depășit",
)


@dataclass(frozen=True, slots=True)
class OverdueRow:
    number: str
    registered_on: date
    kind: str
    department: str
    status: str
    due_date: date | None
    days_open: int
    over_limit: bool
    past_term: bool

    @property
    def registered(self) -> str:
        return f"{self.registered_on:%d.%m.%Y}"

    @property
    def due(self) -> str:
        return f"{self.due_date:%d.%m.%Y}" if self.due_date else "—"


@dataclass(frozen=True, slots=True)
class TacitRow:
    code: str
    number: str
    registered: str
    department: str
    due: str
    days_left: int


@dataclass
class Section:
    code: str
    name: str
    unit: Unit | None
    rows: list[OverdueRow] = field(default_factory=list)

    @property
    def over(self) -> int:
        return sum(1 for r in self.rows if r.over_limit)

    @property
    def past(self) -> int:
        return sum(1 for r in self.rows if r.past_term)


@dataclass
class OverdueReport:
    month: str
    reference: date
    days_open: int
    sections: dict[str, Section]
    tacit: list[TacitRow]

    @property
    def rows(self) -> list[OverdueRow]:
        return sorted(
            (r for s in self.sections.values() for r in s.rows),
            key=lambda r: (r.registered_on, r.number),
        )


def month_bounds(month: str, today: date | None = None) -> tuple[date, date]:
    """First day of ``YYYY-MM`` and the report's reference day (its last day, or today)."""
    try:
        first = datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise ValueError("month must be YYYY-MM (e.g. 2026-11)") from None
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    last = following - timedelta(days=1)
    today = today or local_date(datetime.now(UTC))
    if first > today:
        raise ValueError(f"month {month} has not started yet")
    return first, min(last, today)


def _end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=LOCAL_TZ).astimezone(UTC)


def _finished(row: Any, reference: date) -> bool:
    if row.closed_at is not None and local_date(row.closed_at) <= reference:
        return True
    meta = row.meta if isinstance(row.meta, dict) else {}
    release = meta.get("release")
    if isinstance(release, dict) and release.get("released_at"):
        try:
            if local_date(datetime.fromisoformat(str(release["released_at"]))) <= reference:
                return True
        except ValueError:
            return True
    # Finished without a date we can place: finished (only the status says so).
    return row.closed_at is None and row.status in FINISHED_STATUSES and not release


def compute_overdue(
    ledger: Any,
    units: UnitDirectory,
    terms: TermEngine,
    month: str,
    *,
    days_open: int = 30,
    tacit_risk_days: int = 5,
    today: date | None = None,
) -> OverdueReport:
    """The report for ``month``. Runs on a DB thread (or in the CLI)."""
    _, reference = month_bounds(month, today)
    end = _end_of(reference)
    q = select(
        documents.c.registration_number,
        documents.c.id,
        documents.c.created_at,
        documents.c.registered_at,
        documents.c.kind,
        documents.c.department,
        documents.c.status,
        documents.c.due_date,
        documents.c.closed_at,
        documents.c.meta,
    ).where(
        documents.c.created_at < end,
        or_(documents.c.closed_at.is_(None), documents.c.closed_at >= end),
        documents.c.kind.not_in(sorted(NO_ACTION_KINDS)),
    )
    sections: dict[str, Section] = {u.code: Section(u.code, u.name, u) for u in units.rank_one}
    tacit: list[TacitRow] = []
    tacit_kinds = {k for k, p in terms.policies.items() if p.tacit_approval}
    with ledger.reader.connect() as conn:
        found = conn.execute(q).all()
    for r in found:
        if _finished(r, reference):
            continue
        registered_on = local_date(r.registered_at or r.created_at)
        age = (reference - registered_on).days
        over = age > days_open
        past = r.due_date is not None and r.due_date < reference
        number = r.registration_number or f"(neînregistrat, id {r.id[:8]})"
        dept = r.department or ""
        if r.kind in tacit_kinds and r.due_date is not None:
            left = (r.due_date - reference).days
            if left <= tacit_risk_days:
                unit = units.get(dept) if dept else None
                tacit.append(
                    TacitRow(
                        dept,
                        number,
                        f"{registered_on:%d.%m.%Y}",
                        unit.name if unit else (dept or "—"),
                        f"{r.due_date:%d.%m.%Y}",
                        left,
                    )
                )
        if not (over or past):
            continue
        section = sections.get(dept)
        if section is None:
            section = sections.setdefault(OTHER, Section(OTHER, OTHER_NAME, None))
        section.rows.append(
            OverdueRow(
                number=number,
                registered_on=registered_on,
                kind=r.kind,
                department=dept or "—",
                status=STATUS_RO.get(r.status, r.status),
                due_date=r.due_date,
                days_open=age,
                over_limit=over,
                past_term=past,
            )
        )
    for section in sections.values():
        section.rows.sort(key=lambda row: (row.registered_on, row.number))
    tacit.sort(key=lambda t: (t.days_left, t.number))
    return OverdueReport(month, reference, days_open, sections, tacit)


# --- rendering -------------------------------------------------------------------------------


def bar_chart_svg(bars: Sequence[tuple[str, int, int]], *, highlight: str | None = None) -> str:
    """Horizontal bars, one per structure: (label, overdue > 30 days, past the legal term).

    Plain SVG with the numbers written beside the bars, so it reads in any client that shows
    SVG and the table under it carries the same numbers for those that do not."""
    row_h, label_w, bar_w = 26, 260, 360
    peak = max([max(o, p) for _, o, p in bars] + [1])
    height = row_h * len(bars) + 30
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 60}" '
        f'height="{height}" role="img" aria-label="Documente nesoluționate pe compartimente">',
        '<g font-family="Arial, sans-serif" font-size="12">',
    ]
    for i, (label, over, past) in enumerate(bars):
        y = 10 + i * row_h
        weight = "bold" if label == highlight else "normal"
        w_over = round(bar_w * over / peak)
        w_past = round(bar_w * past / peak)
        out.append(
            f'<text x="0" y="{y + 14}" font-weight="{weight}">{escape(label[:40])}</text>'
            f'<rect class="over" data-value="{over}" x="{label_w}" y="{y}" width="{w_over}" '
            f'height="10" fill="#00457c"/>'
            f'<rect class="past" data-value="{past}" x="{label_w}" y="{y + 11}" '
            f'width="{w_past}" height="10" fill="#b10e1e"/>'
            f'<text x="{label_w + max(w_over, w_past) + 6}" y="{y + 16}">{over} / {past}</text>'
        )
    out.append(
        f'<text x="0" y="{height - 4}" fill="#4a4a4a">albastru: peste 30 de zile; '
        "roșu: termen legal depășit</text></g></svg>"
    )
    return "".join(out)


def _month_ro(month: str) -> str:
    names = [
        "ianuarie",
        "februarie",
        "martie",
        "aprilie",
        "mai",
        "iunie",
        "iulie",
        "august",
        "septembrie",
        "octombrie",
        "noiembrie",
        "decembrie",
    ]
    year, mon = month.split("-")
    return f"{names[int(mon) - 1]} {year}"


def render_html(report: OverdueReport, code: str | None = None) -> str:
    """The e-mail's HTML: every structure's section (``code`` None: the registry's copy)."""
    summary = [
        {"code": s.code, "name": s.name, "over": s.over, "past": s.past}
        for s in report.sections.values()
    ]
    chart = bar_chart_svg(
        [(s.name, s.over, s.past) for s in report.sections.values()],
        highlight=report.sections[code].name if code else None,
    )
    sections = [report.sections[code]] if code else list(report.sections.values())
    tacit = report.tacit
    if code:
        tacit = [t for t in tacit if t.code == code]
    return (
        templates()
        .get_template("email/overdue.html")
        .render(
            title=f"Documente nesoluționate în termen — {_month_ro(report.month)}",
            reference=f"{report.reference:%d.%m.%Y}",
            days_open=report.days_open,
            unit_name=report.sections[code].name if code else "",
            chart=chart,
            summary=summary,
            sections=sections,
            tacit=tacit,
        )
    )


def render_csv(rows: Sequence[OverdueRow]) -> bytes:
    """UTF-8 with a BOM and ``;`` separators: what Excel opens correctly in Romania."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            [
                r.number,
                r.registered,
                r.kind,
                r.department,
                r.status,
                r.due,
                r.days_open,
                "da" if r.past_term else "nu",
            ]
        )
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def build_messages(report: OverdueReport, registry_email: str) -> list[EmailMessage]:
    """One message per head of a rank-I structure with an address, plus the registry's copy."""
    subject = f"Documente nesoluționate în termen — {_month_ro(report.month)}"
    out: list[EmailMessage] = []
    targets: list[tuple[str, str | None]] = [
        (s.unit.head_email, s.code)
        for s in report.sections.values()
        if s.unit is not None and s.unit.head_email
    ]
    targets.append((registry_email, None))
    for address, code in targets:
        msg = EmailMessage()
        msg["To"] = address
        name = report.sections[code].name if code else "Registratura (copie)"
        msg["Subject"] = f"{subject} — {name}"
        msg["Auto-Submitted"] = "auto-generated"
        rows = report.sections[code].rows if code else report.rows
        msg.set_content(
            f"Raportul lunar al documentelor nesoluționate în termen ({_month_ro(report.month)})"
            f": {len(rows)} document(e). Deschideți mesajul în format HTML sau lista CSV "
            "atașată.\n",
            charset="utf-8",
        )
        msg.add_alternative(render_html(report, code), subtype="html", charset="utf-8")
        msg.add_attachment(
            render_csv(rows),
            maintype="text",
            subtype="csv",
            filename=f"nesolutionate-{report.month}-{(code or 'toate').lower()}.csv",
        )
        out.append(msg)
    return out
