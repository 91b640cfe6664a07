"""Receipts for petitioners: the registration number, the term and an access code.

When a document is registered (the registering connector — WEBCON — wrote its number onto it),
the ``receipt`` connector (:mod:`hub.builtin.receipt`) e-mails the petitioner, when they gave
an address, a short Romanian message with the number and date, the term and an *access code*,
plus the printable receipt ("recipisă") as a PDF whose QR code links to the public status page.
At the counter the same PDF is printed through ``POST /api/v1/documents/{id}/recipisa``.

Access codes are random (10 characters from an alphabet of 27 without look-alikes, ~47
bits), shown once and stored only as a salted SHA-256 (``citizens_access_codes``). Issuing a
code again replaces the previous one: the last receipt handed out is the one that works.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import segno
from sqlalchemy import Column, Float, ForeignKey, MetaData, String, Table, delete, insert, select

from hub.models import Document
from hub.pdf import PdfDocument
from hub.templating import templates
from hub.terms import local_date

if TYPE_CHECKING:
    from hub.db.ledger import Ledger

__all__ = [
    "CODE_ALPHABET",
    "LEGAL_BASIS",
    "access_codes",
    "build_receipt_message",
    "find_by_code",
    "format_code",
    "issue_code",
    "normalize_code",
    "recipisa_pdf",
    "status_url",
]

citizens_metadata = MetaData()

access_codes = Table(
    "citizens_access_codes",
    citizens_metadata,
    Column("document_id", String(36), ForeignKey("documents.id"), primary_key=True),
    Column("salt", String(32), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
)

#: No 0/O, 1/I/L, 5/S, 8/B: read aloud at a counter and typed on a phone without doubt.
CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXYZ234679"
CODE_LENGTH = 10

#: Kind → the law that sets its term, as printed on receipts.
LEGAL_BASIS: dict[str, str] = {
    "petitie": "OG nr. 27/2002",
    "cerere_544": "Legea nr. 544/2001",
    "autorizatie": "OUG nr. 27/2003",
}


# --- codes -----------------------------------------------------------------------------------


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def format_code(code: str) -> str:
    """``ACDEF-GHJKM``: how a code is printed."""
    return f"{code[:5]}-{code[5:]}"


def normalize_code(raw: str) -> str:
    """What a person typed, upper-cased, without spaces and dashes."""
    return "".join(ch for ch in raw.upper() if ch.isalnum())


def _hash(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def issue_code(ledger: Ledger, document_id: str) -> str:
    """A new access code for the document (replacing any earlier one). Runs on a DB thread."""
    code = new_code()
    salt = secrets.token_hex(16)
    with ledger.writer.begin() as conn:
        conn.execute(delete(access_codes).where(access_codes.c.document_id == document_id))
        conn.execute(
            insert(access_codes).values(
                document_id=document_id,
                salt=salt,
                code_hash=_hash(salt, code),
                created_at=ledger.clock(),
            )
        )
    return code


_DUMMY_SALT = secrets.token_hex(16)


def find_by_code(ledger: Ledger, registration_number: str, code: str) -> dict[str, Any] | None:
    """What the status page may show of the document with this number whose access code is
    ``code``, else None — the same None, after the same work, for an unknown number and for a
    wrong code. Runs on a DB thread."""
    from hub.db.schema import documents

    wanted = normalize_code(code)
    with ledger.reader.connect() as conn:
        rows = (
            conn.execute(
                select(
                    access_codes.c.salt,
                    access_codes.c.code_hash,
                    documents.c.registration_number,
                    documents.c.registered_at,
                    documents.c.created_at,
                    documents.c.kind,
                    documents.c.status,
                    documents.c.department,
                    documents.c.due_date,
                    documents.c.closed_at,
                    documents.c.meta,
                )
                .join(access_codes, access_codes.c.document_id == documents.c.id)
                .where(documents.c.registration_number == registration_number.strip())
                .limit(5)
            )
            .mappings()
            .all()
        )
    candidates: list[tuple[str, str, dict[str, Any] | None]] = [
        (r["salt"], r["code_hash"], dict(r)) for r in rows
    ] or [(_DUMMY_SALT, "0" * 64, None)]
    match: dict[str, Any] | None = None
    for salt, code_hash, row in candidates:
        if hmac.compare_digest(_hash(salt, wanted), code_hash) and row is not None:
            match = row
    if match is not None:
        match.pop("salt")
        match.pop("code_hash")
    return match


# --- what the petitioner receives ------------------------------------------------------------


def status_url(public_url: str, registration_number: str) -> str:
    return f"{public_url.rstrip('/')}/status?nr={quote(registration_number, safe='')}"


def _ro(day: date | None) -> str:
    return f"{day:%d.%m.%Y}" if day else ""


@dataclass(frozen=True, slots=True)
class ReceiptFacts:
    """What a receipt says, formatted (no personal data beyond the number and the code)."""

    number: str
    registered: str
    due: str
    legal: str
    code: str
    status_url: str

    @classmethod
    def of(cls, doc: Document, code: str, public_url: str) -> ReceiptFacts:
        assert doc.registration_number is not None
        registered = doc.registered_at or doc.created_at
        return cls(
            number=doc.registration_number,
            registered=_ro(local_date(registered)),
            due=_ro(doc.due_date),
            legal=LEGAL_BASIS.get(doc.kind, ""),
            code=format_code(code),
            status_url=status_url(public_url, doc.registration_number),
        )


def qr_png(url: str) -> bytes:
    """A QR code (PNG) of ``url``, large enough to scan from paper."""
    from io import BytesIO

    out = BytesIO()
    segno.make(url, error="m").save(out, kind="png", scale=8, border=2)
    return out.getvalue()


def recipisa_pdf(facts: ReceiptFacts, *, generated_at: datetime | None = None) -> bytes:
    """The printable receipt: number, date, term, access code and a QR code to the status
    page. It names no person: it is handed over or mailed to the one it belongs to."""
    pdf = PdfDocument(
        "Recipisă de înregistrare",
        subtitle=f"Nr. {facts.number} din {facts.registered}",
        generated_at=generated_at,
    )
    pdf.fields(
        [
            ("Număr de înregistrare", facts.number),
            ("Data înregistrării", facts.registered),
            (
                "Termen de răspuns",
                f"{facts.due}" + (f" ({facts.legal})" if facts.legal else "")
                if facts.due
                else "fără termen legal de răspuns",
            ),
            ("Cod de acces", facts.code),
        ]
    )
    pdf.paragraph(
        "Stadiul soluționării documentului îl puteți afla la adresa de mai jos sau scanând "
        "codul QR, introducând numărul de înregistrare și codul de acces. Păstrați codul de "
        "acces pentru dumneavoastră."
    )
    pdf.paragraph(facts.status_url)
    pdf.image(qr_png(facts.status_url), width_mm=40)
    return pdf.render()


def build_receipt_message(
    facts: ReceiptFacts,
    *,
    to: str,
    in_reply_to: str | None = None,
    message_key: str | None = None,
) -> EmailMessage:
    """The receipt e-mail, with the PDF attached. ``Auto-Submitted: auto-replied`` (RFC 3834)
    tells the petitioner's auto-responder not to answer it, so two robots never loop."""
    msg = EmailMessage()
    msg["To"] = to
    msg["Subject"] = f"Recipisă de înregistrare nr. {facts.number} din {facts.registered}"
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["Message-ID"] = make_msgid(idstring=message_key, domain="registry-hub")
    if in_reply_to:
        ref = in_reply_to if in_reply_to.startswith("<") else f"<{in_reply_to}>"
        msg["In-Reply-To"] = ref
        msg["References"] = ref
    text = (
        templates()
        .get_template("email/receipt.txt")
        .render(
            number=facts.number,
            registered=facts.registered,
            due=facts.due,
            legal=facts.legal,
            code=facts.code,
            status_url=facts.status_url,
        )
    )
    msg.set_content(text, charset="utf-8")
    msg.add_attachment(
        recipisa_pdf(facts),
        maintype="application",
        subtype="pdf",
        filename=f"recipisa-{facts.number.replace('/', '-')}.pdf",
    )
    return msg
