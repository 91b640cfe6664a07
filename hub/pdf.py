"""Printable A4 documents (handover lists, manifests, posting records, receipts) with fpdf2.

One place for how the hub's PDFs look: DejaVu Sans, bundled in ``hub/fonts`` (its licence is
beside it), so that ș, ț, ă, â, î render the same on every machine without system fonts. A
plugin builds a :class:`PdfDocument`, adds headings, paragraphs, tables and a signature block,
and calls :meth:`PdfDocument.render`. Text is Romanian and user-facing; nothing here logs it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fpdf import FPDF

__all__ = ["FONT_DIR", "PdfDocument"]

FONT_DIR = Path(__file__).parent / "fonts"
_FAMILY = "DejaVu"
INSTITUTION = "Primăria Municipiului Timișoara"
SERVICE = "Serviciul Relații cu Publicul și Registratură"


def _new_pdf(orientation: str, footer_text: str) -> FPDF:
    """An A4 fpdf2 document whose pages end with ``footer_text`` and the page number."""
    pdf: FPDF = _pdf_class()(orientation=orientation, format="A4")
    pdf.footer_text = footer_text  # type: ignore[attr-defined]
    return pdf


@functools.cache
def _pdf_class() -> Any:
    """fpdf2, imported on the first PDF: importing it costs ~0.8 s, which every CLI command and
    every `hub run` start paid because the API's routes import this module."""
    from fpdf import FPDF

    class _Pdf(FPDF):
        footer_text = ""

        def footer(self) -> None:
            self.set_y(-12)
            self.set_font(_FAMILY, size=8)
            self.cell(0, 6, f"{self.footer_text}    Pagina {self.page_no()}/{{nb}}", align="C")

    return _Pdf


class PdfDocument:
    """An A4 document: the institution's header, then whatever the caller adds, in order."""

    def __init__(
        self,
        title: str,
        *,
        subtitle: str | None = None,
        landscape: bool = False,
        generated_at: datetime | None = None,
        header: Sequence[str] = (INSTITUTION, SERVICE),
    ) -> None:
        footer = f"Generat la {generated_at:%d.%m.%Y %H:%M}" if generated_at is not None else ""
        pdf = _new_pdf("L" if landscape else "P", footer)
        pdf.set_auto_page_break(auto=True, margin=16)
        pdf.add_font(_FAMILY, style="", fname=str(FONT_DIR / "DejaVuSans.ttf"))
        pdf.add_font(_FAMILY, style="B", fname=str(FONT_DIR / "DejaVuSans-Bold.ttf"))
        pdf.set_title(title)
        pdf.set_creator("registry-hub")
        if generated_at is not None:
            pdf.set_creation_date(generated_at)
        pdf.add_page()
        pdf.set_font(_FAMILY, size=9)
        for line in header:
            pdf.cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
        pdf.set_font(_FAMILY, style="B", size=14)
        pdf.multi_cell(0, 8, title, align="C", new_x="LMARGIN", new_y="NEXT")
        if subtitle:
            pdf.set_font(_FAMILY, size=10)
            pdf.multi_cell(0, 6, subtitle, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
        self._pdf = pdf

    @property
    def fpdf(self) -> FPDF:
        """The underlying fpdf2 object, for layouts the helpers below do not cover."""
        return self._pdf

    def heading(self, text: str) -> None:
        self._pdf.set_font(_FAMILY, style="B", size=11)
        self._pdf.multi_cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")

    def paragraph(self, text: str, *, size: int = 10) -> None:
        self._pdf.set_font(_FAMILY, size=size)
        self._pdf.multi_cell(0, 5.5, text, new_x="LMARGIN", new_y="NEXT")
        self._pdf.ln(1.5)

    def fields(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Label: value lines (the label bold)."""
        for label, value in pairs:
            self._pdf.set_font(_FAMILY, style="B", size=10)
            self._pdf.write(5.5, f"{label}: ")
            self._pdf.set_font(_FAMILY, size=10)
            self._pdf.write(5.5, value)
            self._pdf.ln(6)
        self._pdf.ln(1.5)

    def table(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[str]],
        *,
        widths: Sequence[float] | None = None,
        size: int = 8,
    ) -> None:
        """A table with a repeated bold header row; ``widths`` are relative column widths."""
        from fpdf.fonts import FontFace

        self._pdf.set_font(_FAMILY, size=size)
        with self._pdf.table(
            col_widths=tuple(widths) if widths else None,
            headings_style=FontFace(emphasis="BOLD", fill_color=(230, 230, 230)),
            line_height=size * 0.6,
            repeat_headings=1,
        ) as table:
            table.row(list(columns))
            for row in rows:
                table.row([str(cell) for cell in row])
        self._pdf.ln(3)

    def signatures(self, labels: Sequence[str]) -> None:
        """Side-by-side signature boxes: a label, then a line to sign on."""
        pdf = self._pdf
        pdf.ln(8)
        width = (pdf.w - pdf.l_margin - pdf.r_margin) / max(len(labels), 1)
        pdf.set_font(_FAMILY, size=10)
        for label in labels:
            pdf.cell(width, 6, label, align="C")
        pdf.ln(14)
        for _ in labels:
            pdf.cell(width, 6, "…………………………………", align="C")
        pdf.ln(8)

    def image(self, data: bytes, *, width_mm: float = 40) -> None:
        """A PNG or SVG image (e.g. a QR code from segno) at the current position."""
        from io import BytesIO

        self._pdf.image(BytesIO(data), w=width_mm)
        self._pdf.ln(2)

    def render(self) -> bytes:
        return bytes(self._pdf.output())
