"""The daily mailing manifest (borderou de expediere): PDF to hand over at the post office with
the items, and CSV for the operator's import. One manifest per day, network and service; a later
closing of the same day is a numbered supplement (``/2``).

The manifest lists addressees: it is printed for the post office, never logged.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from hub.pdf import PdfDocument
from hub_postal.address import Address
from hub_postal.settings import NETWORK_LABELS, SERVICE_LABELS, PostalSettings
from hub_postal.store import LOCAL_TZ

__all__ = ["CSV_COLUMNS", "manifest_csv", "manifest_pdf", "manifest_title"]

CSV_COLUMNS = (
    "nr_crt",
    "numar_s10",
    "destinatar",
    "adresa",
    "cod_postal",
    "judet",
    "greutate_g",
    "serviciu",
    "nr_inregistrare",
    "compartiment",
    "tarif_lei",
)


def _lei(bani: int) -> str:
    return f"{bani / 100:.2f}".replace(".", ",")


def manifest_title(head: dict[str, Any]) -> str:
    suffix = f"/{head['sequence']}" if int(head["sequence"]) > 1 else ""
    return f"Borderou de expediere nr. {head['id']}{suffix}"


def _rows(items: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for i, item in enumerate(items, start=1):
        addressee = item["addressee"]
        address = Address.model_validate(addressee["address"])
        street, place = address.lines()
        rows.append(
            [
                str(i),
                item.get("tracking_number") or "—",
                addressee["name"],
                street,
                address.postal_code,
                address.county,
                str(item["weight_grams"]),
                SERVICE_LABELS.get(item["service"], item["service"]),
                item.get("registration_number") or "—",
                item.get("department") or "—",
                _lei(int(item["cost_bani"])),
                place,
            ]
        )
    return rows


def manifest_csv(head: dict[str, Any], items: list[dict[str, Any]]) -> str:
    """Semicolon-separated, UTF-8 (the caller adds a BOM for spreadsheet programs)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in _rows(items):
        place = row.pop()
        row[3] = f"{row[3]}, {place}"
        writer.writerow(row)
    return out.getvalue()


def manifest_pdf(
    settings: PostalSettings,
    head: dict[str, Any],
    items: list[dict[str, Any]],
    *,
    generated_at: datetime | None = None,
) -> bytes:
    generated = generated_at or datetime.fromtimestamp(float(head["created_at"]), LOCAL_TZ)
    day = head["day"]
    doc = PdfDocument(
        manifest_title(head),
        subtitle=f"{SERVICE_LABELS.get(head['service'], head['service'])} — "
        f"{NETWORK_LABELS.get(head['network'], head['network'])} — {day:%d.%m.%Y}",
        landscape=True,
        generated_at=generated,
    )
    s = settings.sender
    doc.fields(
        [
            ("Expeditor", s.name),
            (
                "Adresa expeditorului",
                f"{s.street} nr. {s.number}, {s.postal_code} {s.locality}, jud. {s.county}",
            ),
            ("Contract", settings.contract.number or "—"),
            ("Număr de trimiteri", str(head["items"])),
            ("Valoare totală", f"{_lei(int(head['total_bani']))} lei"),
        ]
    )
    rows = [[*r[:3], f"{r[3]}, {r[11]}", *r[5:11]] for r in _rows(items)]
    doc.table(
        [
            "Nr.",
            "Număr S10",
            "Destinatar",
            "Adresa",
            "Județ",
            "Greutate (g)",
            "Serviciu",
            "Nr. înregistrare",
            "Compartiment",
            "Tarif (lei)",
        ],
        rows,
        widths=(4, 13, 18, 34, 5, 7, 14, 12, 10, 7),
        size=7,
    )
    doc.paragraph(
        "Subsemnații confirmăm predarea și primirea trimiterilor de mai sus, în număr de "
        f"{head['items']}."
    )
    doc.signatures(["Predat (registratură)", "Primit (oficiul poștal)"])
    return doc.render()
