"""The shared PDF builder: Romanian text survives a round trip through a PDF text extractor."""

from __future__ import annotations

from datetime import datetime
from io import BytesIO

from pypdf import PdfReader

from hub.pdf import PdfDocument

DIACRITICS = "Înregistrată: ședință, țară, ăla, mâine — ȘȚĂÂÎ"


def _text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(data)).pages)


def test_romanian_diacritics_are_extractable_from_every_part() -> None:
    doc = PdfDocument(
        "Centralizator acte",
        subtitle="Direcția Juridică",
        generated_at=datetime(2026, 11, 29, 9, 30),
    )
    doc.heading("Secțiunea întâi")
    doc.paragraph(DIACRITICS)
    doc.fields([("Număr înregistrare", "TM-2026-000123")])
    doc.table(
        ["Nr.", "Emitent", "Semnătură"], [["1", "Judecătoria Timișoara", ""]], widths=[1, 4, 3]
    )
    doc.signatures(["Predat", "Primit"])
    text = _text(doc.render())
    for fragment in (
        "Primăria Municipiului Timișoara",
        "Centralizator acte",
        "Direcția Juridică",
        "Secțiunea întâi",
        DIACRITICS,
        "TM-2026-000123",
        "Judecătoria Timișoara",
        "Semnătură",
        "Primit",
        "29.11.2026 09:30",
    ):
        assert fragment in text


def test_long_tables_break_across_pages_and_repeat_the_header() -> None:
    doc = PdfDocument("Borderou")
    rows = [[str(i), f"Destinatar {i}", "București"] for i in range(200)]
    doc.table(["Nr.", "Destinatar", "Localitate"], rows)
    reader = PdfReader(BytesIO(doc.render()))
    assert len(reader.pages) > 2
    assert all("Destinatar" in page.extract_text() for page in reader.pages)
    assert "Destinatar 199" in _text(doc.render())
