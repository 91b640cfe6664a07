"""Unit tests of the safe ZIP/UBL parsing: the fields the registry needs, and every hostile
input refused with a clear reason."""

from __future__ import annotations

import io
import zipfile

import hostile
import pytest
from hub_invoices.settings import ParseLimits
from hub_invoices.simulator.invoices import SUPPLIERS, make_zip, signature_xml
from hub_invoices.ubl import (
    InvoiceParseError,
    check_signature,
    parse_invoice,
    supplier_from_detalii,
    unpack,
)

LIMITS = ParseLimits()


def test_invoice_fields() -> None:
    data = parse_invoice(hostile.good_xml("TUT 9"), LIMITS)
    assert data.document_type == "Invoice" and data.type_code == "380"
    assert (data.number, data.issue_date, data.due_date) == ("TUT 9", "2026-11-20", "2026-12-20")
    assert data.supplier_cui == SUPPLIERS[0].cui and data.supplier_name == SUPPLIERS[0].name
    assert data.buyer_cui == hostile.BUYER and data.currency == "RON"
    assert data.payee_iban == SUPPLIERS[0].iban and data.contract_reference == "CTR-DE-1"
    from decimal import Decimal

    assert Decimal(data.total_without_vat) + Decimal(data.vat_total) == Decimal(data.total_with_vat)
    assert data.line_count == len(data.lines) >= 1
    assert sum(Decimal(line.amount) for line in data.lines) == Decimal(data.total_without_vat)


@pytest.mark.parametrize(
    ("xml", "reason"),
    [
        (hostile.MALFORMED, "malformed XML"),
        (hostile.XML_BOMB, "DOCTYPE or ENTITY"),
        (hostile.XXE, "DOCTYPE or ENTITY"),
        (hostile.NOT_UBL, "not a UBL invoice"),
        (hostile.wrong_namespace(), "wrong namespace"),
        (hostile.wrong_precision(), "more than 2 decimals"),
        (hostile.invalid_cui(), "supplier CUI is not a valid CUI"),
        (
            hostile.good_xml().replace(SUPPLIERS[0].iban.encode(), b"RO00XXXX0000000000000000"),
            "IBAN",
        ),
        (hostile.good_xml().replace(b"CIUS-RO", b"CIUS-XX"), "not CIUS-RO"),
        (b"", "malformed XML"),
    ],
)
def test_hostile_xml_is_refused_with_a_reason(xml: bytes, reason: str) -> None:
    with pytest.raises(InvoiceParseError, match=reason):
        parse_invoice(xml, LIMITS)


def test_totals_must_add_up() -> None:
    xml = hostile.good_xml()
    start = xml.index(b"<cbc:TaxInclusiveAmount")
    end = xml.index(b"</cbc:TaxInclusiveAmount>")
    broken = xml[:start] + b'<cbc:TaxInclusiveAmount currencyID="RON">1.00' + xml[end:]
    with pytest.raises(InvoiceParseError, match="do not add up"):
        parse_invoice(broken, LIMITS)


def test_zip_checks() -> None:
    xml = hostile.good_xml()
    ok = unpack(make_zip("42", xml), "42", LIMITS)
    assert ok.xml == xml and ok.xml_name == "42.xml"
    check_signature(ok.signature)
    with pytest.raises(InvoiceParseError, match="ZIP bomb"):
        unpack(hostile.zip_bomb("42"), "42", LIMITS)
    with pytest.raises(InvoiceParseError, match=r"ZIP has no 42\.xml"):
        unpack(hostile.zip_without_entries(), "42", LIMITS)
    with pytest.raises(InvoiceParseError, match="not a valid ZIP"):
        unpack(b"PK\x03\x04garbage", "42", LIMITS)
    with pytest.raises(InvoiceParseError, match="larger than"):
        unpack(make_zip("42", xml), "42", ParseLimits(max_zip_bytes=100))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("42.xml", xml)
        zf.writestr("../semnatura_42.xml", signature_xml(xml))
    with pytest.raises(InvoiceParseError, match="path"):
        unpack(buf.getvalue(), "42", LIMITS)
    many = io.BytesIO()
    with zipfile.ZipFile(many, "w") as zf:
        for i in range(12):
            zf.writestr(f"{i}.xml", b"<x/>")
    with pytest.raises(InvoiceParseError, match="entries"):
        unpack(many.getvalue(), "42", LIMITS)
    with pytest.raises(InvoiceParseError, match="XML-DSig"):
        check_signature(b"<Signature/>")


def test_detalii_cross_check_source() -> None:
    text = (
        "Factura cu id_incarcare=5001131297 emisa de cif_emitent=8000000000 pentru cif_beneficiar=3"
    )
    assert supplier_from_detalii(text) == "8000000000"
    assert supplier_from_detalii("Erori de validare identificate la factura primita") is None
