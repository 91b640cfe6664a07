"""Hostile and broken e-Factura content, shared by the unit and end-to-end tests."""

from __future__ import annotations

import io
import random
import zipfile
from datetime import date

from hub_invoices.simulator.invoices import SUPPLIERS, Supplier, invoice_xml

BUYER = "14756536"


def good_xml(number: str = "X 1", supplier: Supplier = SUPPLIERS[0]) -> bytes:
    return invoice_xml(
        supplier, BUYER, number, date(2026, 11, 20), random.Random(4), contract_ref="CTR-DE-1"
    )


MALFORMED = (
    b'<?xml version="1.0"?>'
    b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"><cbc:ID>'
)

XML_BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">&lol4;</Invoice>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Invoice [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
 xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
<cbc:ID>&xxe;</cbc:ID></Invoice>"""

NOT_UBL = (
    b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body>factura</body></html>'
)


def wrong_namespace() -> bytes:
    return good_xml("NS 1").replace(
        b"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
        b"urn:oasis:names:specification:ubl:schema:xsd:Invoice-3",
    )


def wrong_precision() -> bytes:
    xml = good_xml("PREC 1")
    start = xml.index(b"<cbc:PayableAmount")
    end = xml.index(b"</cbc:PayableAmount>")
    return xml[:start] + b'<cbc:PayableAmount currencyID="RON">100.125' + xml[end:]


def invalid_cui() -> bytes:
    bad = Supplier(
        "Firma Fără Cod S.R.L.",
        "31182124",  # check digit wrong
        False,
        SUPPLIERS[0].iban,
        "Timișoara",
        "Str. Fără Nume nr. 1",
        "RO-TM",
    )
    return good_xml("CUI 1", bad)


def zip_bomb(message_id: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{message_id}.xml", b"\0" * (8 * 1024 * 1024))
        zf.writestr(f"semnatura_{message_id}.xml", b"<x/>")
    return buf.getvalue()


def zip_without_entries() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", b"nimic aici")
    return buf.getvalue()
