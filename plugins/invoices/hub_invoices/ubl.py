"""Safe unpacking of an e-Factura ZIP and parsing of its UBL 2.1 Invoice / CreditNote (CIUS-RO).

Everything here treats the ZIP as hostile:

* the ZIP: size, entry count, per-entry and total uncompressed size, compression ratio (a ZIP
  bomb), names (``<id>.xml`` and ``semnatura_<id>.xml`` must be there; no paths);
* the XML: any ``<!DOCTYPE`` / ``<!ENTITY`` is refused before parsing (XML bombs, XXE), and lxml
  parses with ``resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False``;
* the content: UBL namespaces exactly, CUIs and IBAN validated with python-stdnum, amounts with
  at most two decimals and totals that add up.

Each problem is an :class:`InvoiceParseError` whose message says what is wrong and never repeats
the content (it may hold personal data).
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree  # type: ignore[import-untyped]
from stdnum import iban as std_iban
from stdnum.exceptions import ValidationError as StdnumValidationError

from hub_invoices.settings import ParseLimits, normalize_cui

__all__ = [
    "ErrorReport",
    "InvoiceData",
    "InvoiceLine",
    "InvoiceParseError",
    "Unpacked",
    "parse_error_report",
    "parse_invoice",
    "parse_xml",
    "supplier_from_detalii",
    "unpack",
]

NS = {
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
}
INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
ERROR_NS = "mfp:anaf:dgti:efactura:raspunsValidare:v1"
DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
CIUS_RO = "urn:efactura.mfinante.ro:CIUS-RO"

_DANGEROUS = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_DETALII = re.compile(r"cif_emitent\s*=\s*(?:RO)?\s*(\d{2,10})", re.IGNORECASE)
_PARSER_OPTS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}


class InvoiceParseError(ValueError):
    """What is wrong with one message's content; the message is recorded with this text."""


@dataclass(frozen=True, slots=True)
class Unpacked:
    """The two entries of an e-Factura ZIP."""

    xml: bytes
    xml_name: str
    signature: bytes


@dataclass(slots=True)
class InvoiceLine:
    id: str
    name: str
    quantity: str
    unit: str
    amount: str


@dataclass(slots=True)
class InvoiceData:
    """What the registry needs from one invoice or credit note."""

    document_type: str  # "Invoice" | "CreditNote"
    customization_id: str
    number: str
    type_code: str
    issue_date: str
    due_date: str | None
    currency: str
    supplier_name: str
    supplier_cui: str
    buyer_cui: str
    total_without_vat: str
    vat_total: str
    total_with_vat: str
    payable: str
    payee_iban: str | None
    order_reference: str | None
    contract_reference: str | None
    lines: list[InvoiceLine] = field(default_factory=list)
    line_count: int = 0

    def as_metadata(self) -> dict[str, Any]:
        out = asdict(self)
        out["lines"] = [asdict(line) for line in self.lines]
        return out


@dataclass(slots=True)
class ErrorReport:
    """ANAF's validation report for an invoice that was not accepted ("ERORI FACTURA")."""

    upload_index: str | None
    errors: list[str]


# --- ZIP --------------------------------------------------------------------------------------


def unpack(content: bytes, message_id: str, limits: ParseLimits) -> Unpacked:
    """Check the ZIP and return its invoice (or error report) and ANAF's signature."""
    if len(content) > limits.max_zip_bytes:
        raise InvoiceParseError(f"ZIP is larger than {limits.max_zip_bytes} bytes")
    try:
        zf = zipfile.ZipFile(io.BytesIO(content))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise InvoiceParseError("download is not a valid ZIP archive") from None
    if len(infos) > limits.max_entries:
        raise InvoiceParseError(f"ZIP has {len(infos)} entries (at most {limits.max_entries})")
    by_name: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        name = info.filename
        if "/" in name or "\\" in name or name.startswith(".") or ".." in name:
            raise InvoiceParseError("ZIP entry with a path in its name")
        if info.file_size > limits.max_xml_bytes:
            raise InvoiceParseError(
                f"ZIP entry {name[:60]!r} unpacks to {info.file_size} bytes "
                f"(at most {limits.max_xml_bytes})"
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 64 * 1024 and ratio > limits.max_ratio:
            raise InvoiceParseError(
                f"ZIP entry {name[:60]!r} has compression ratio {ratio:.0f} (ZIP bomb?)"
            )
        total += info.file_size
        by_name[name] = info
    if total > limits.max_xml_bytes * 2:
        raise InvoiceParseError("ZIP unpacks to too many bytes")
    xml_name, sig_name = f"{message_id}.xml", f"semnatura_{message_id}.xml"
    if xml_name not in by_name:
        # ANAF names the invoice after the upload index in some answers: accept one other .xml.
        others = [n for n in by_name if n.endswith(".xml") and not n.startswith("semnatura_")]
        if len(others) != 1:
            raise InvoiceParseError(f"ZIP has no {xml_name} entry")
        xml_name = others[0]
    sigs = [n for n in by_name if n.startswith("semnatura_") and n.endswith(".xml")]
    if sig_name not in by_name and len(sigs) != 1:
        raise InvoiceParseError(f"ZIP has no {sig_name} entry (ANAF's seal)")
    sig_name = sig_name if sig_name in by_name else sigs[0]
    xml = _read(zf, by_name[xml_name], limits)
    signature = _read(zf, by_name[sig_name], limits)
    return Unpacked(xml=xml, xml_name=xml_name, signature=signature)


def _read(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ParseLimits) -> bytes:
    """Read at most the declared size (+1 to notice a lying header)."""
    try:
        with zf.open(info) as fh:
            data = fh.read(limits.max_xml_bytes + 1)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError):
        raise InvoiceParseError(f"ZIP entry {info.filename[:60]!r} cannot be read") from None
    if len(data) > limits.max_xml_bytes:
        raise InvoiceParseError(f"ZIP entry {info.filename[:60]!r} unpacks to too many bytes")
    return data


# --- XML --------------------------------------------------------------------------------------


def parse_xml(data: bytes) -> etree._Element:
    """Parse without DTDs, entities or network; refuse any DOCTYPE/ENTITY outright."""
    if _DANGEROUS.search(data):
        raise InvoiceParseError("XML declares a DOCTYPE or ENTITY (refused: XML bomb / XXE)")
    parser = etree.XMLParser(**_PARSER_OPTS)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        line = getattr(exc, "lineno", None)
        raise InvoiceParseError(f"malformed XML (line {line})") from None
    if root is None:
        raise InvoiceParseError("empty XML")
    return root


def _text(node: etree._Element, path: str) -> str | None:
    found = node.find(path, NS)
    if found is None or found.text is None:
        return None
    value = found.text.strip()
    return value or None


def _required(node: etree._Element, path: str, what: str) -> str:
    value = _text(node, path)
    if value is None:
        raise InvoiceParseError(f"{what} is missing ({path})")
    return value


def _amount(node: etree._Element, path: str, what: str, currency: str | None = None) -> Decimal:
    found = node.find(path, NS)
    if found is None or not (found.text or "").strip():
        raise InvoiceParseError(f"{what} is missing ({path})")
    raw = (found.text or "").strip()
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise InvoiceParseError(f"{what} is not a number") from None
    if not value.is_finite():
        raise InvoiceParseError(f"{what} is not a number")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise InvoiceParseError(f"{what} has more than 2 decimals (BR-DEC)")
    cur = found.get("currencyID")
    if currency is not None and cur is not None and cur != currency:
        raise InvoiceParseError(f"{what} is in {cur[:3]}, not in the invoice currency")
    return value


def _cui(value: str | None, what: str) -> str:
    if not value:
        raise InvoiceParseError(f"{what} is missing")
    try:
        return normalize_cui(value)
    except ValueError:
        raise InvoiceParseError(f"{what} is not a valid CUI") from None


def _party_cui(party: etree._Element, what: str) -> str:
    for path in (
        "cac:PartyTaxScheme/cbc:CompanyID",
        "cac:PartyLegalEntity/cbc:CompanyID",
        "cac:PartyIdentification/cbc:ID",
    ):
        value = _text(party, path)
        if value and re.fullmatch(r"(?i)\s*(RO)?\s*\d{2,10}\s*", value):
            return _cui(value, what)
    return _cui(_text(party, "cac:PartyTaxScheme/cbc:CompanyID"), what)


def parse_invoice(data: bytes, limits: ParseLimits) -> InvoiceData:
    """An Invoice or CreditNote (UBL 2.1, CIUS-RO) → :class:`InvoiceData`."""
    root = parse_xml(data)
    tag = etree.QName(root)
    if tag.namespace == INVOICE_NS and tag.localname == "Invoice":
        kind, line_tag, qty_tag, type_tag = (
            "Invoice",
            "cac:InvoiceLine",
            "cbc:InvoicedQuantity",
            "cbc:InvoiceTypeCode",
        )
    elif tag.namespace == CREDIT_NOTE_NS and tag.localname == "CreditNote":
        kind, line_tag, qty_tag, type_tag = (
            "CreditNote",
            "cac:CreditNoteLine",
            "cbc:CreditedQuantity",
            "cbc:CreditNoteTypeCode",
        )
    elif tag.localname in ("Invoice", "CreditNote"):
        raise InvoiceParseError(f"{tag.localname} in a wrong namespace (not UBL 2.1)")
    else:
        raise InvoiceParseError(f"not a UBL invoice (root element {tag.localname[:40]!r})")
    customization = _required(root, "cbc:CustomizationID", "CustomizationID")
    if CIUS_RO not in customization:
        raise InvoiceParseError("CustomizationID is not CIUS-RO")
    number = _required(root, "cbc:ID", "invoice number")
    if len(number) > 200:
        raise InvoiceParseError("invoice number is longer than 200 characters")
    issue_date = _date(_required(root, "cbc:IssueDate", "issue date"), "issue date")
    due_raw = _text(root, "cbc:DueDate") or _text(root, "cac:PaymentMeans/cbc:PaymentDueDate")
    due_date = _date(due_raw, "due date") if due_raw else None
    type_code = _required(root, type_tag, "type code")
    currency = _required(root, "cbc:DocumentCurrencyCode", "currency")
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise InvoiceParseError("currency is not an ISO 4217 code")

    supplier = root.find("cac:AccountingSupplierParty/cac:Party", NS)
    if supplier is None:
        raise InvoiceParseError("supplier (AccountingSupplierParty) is missing")
    supplier_name = _required(
        supplier, "cac:PartyLegalEntity/cbc:RegistrationName", "supplier name"
    )
    supplier_cui = _party_cui(supplier, "supplier CUI")
    buyer = root.find("cac:AccountingCustomerParty/cac:Party", NS)
    if buyer is None:
        raise InvoiceParseError("buyer (AccountingCustomerParty) is missing")
    buyer_cui = _party_cui(buyer, "buyer CUI")

    totals = root.find("cac:LegalMonetaryTotal", NS)
    if totals is None:
        raise InvoiceParseError("LegalMonetaryTotal is missing")
    without_vat = _amount(totals, "cbc:TaxExclusiveAmount", "total without VAT", currency)
    with_vat = _amount(totals, "cbc:TaxInclusiveAmount", "total with VAT", currency)
    payable = _amount(totals, "cbc:PayableAmount", "payable amount", currency)
    vat = Decimal(0)
    for tax_total in root.findall("cac:TaxTotal", NS):
        amount = tax_total.find("cbc:TaxAmount", NS)
        if amount is not None and amount.get("currencyID", currency) == currency:
            vat = _amount(tax_total, "cbc:TaxAmount", "VAT total", currency)
            break
    if without_vat + vat != with_vat:
        raise InvoiceParseError("totals do not add up (without VAT + VAT ≠ with VAT)")

    iban_raw = _text(root, "cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID")
    iban = None
    if iban_raw:
        try:
            iban = str(std_iban.validate(iban_raw))
        except StdnumValidationError:
            raise InvoiceParseError("payee IBAN is not valid") from None

    lines: list[InvoiceLine] = []
    all_lines = root.findall(line_tag, NS)
    if not all_lines:
        raise InvoiceParseError("invoice has no lines")
    for node in all_lines[: limits.max_lines]:
        qty = node.find(qty_tag, NS)
        lines.append(
            InvoiceLine(
                id=_text(node, "cbc:ID") or "",
                name=(_text(node, "cac:Item/cbc:Name") or "")[:300],
                quantity=(qty.text or "").strip() if qty is not None else "",
                unit=qty.get("unitCode", "") if qty is not None else "",
                amount=str(_amount(node, "cbc:LineExtensionAmount", "line amount", currency)),
            )
        )
    return InvoiceData(
        document_type=kind,
        customization_id=customization,
        number=number,
        type_code=type_code,
        issue_date=issue_date,
        due_date=due_date,
        currency=currency,
        supplier_name=supplier_name[:300],
        supplier_cui=supplier_cui,
        buyer_cui=buyer_cui,
        total_without_vat=str(without_vat),
        vat_total=str(vat),
        total_with_vat=str(with_vat),
        payable=str(payable),
        payee_iban=iban,
        order_reference=_text(root, "cac:OrderReference/cbc:ID"),
        contract_reference=_text(root, "cac:ContractDocumentReference/cbc:ID"),
        lines=lines,
        line_count=len(all_lines),
    )


def _date(value: str, what: str) -> str:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise InvoiceParseError(f"{what} is not a date (YYYY-MM-DD)")
    return value


def parse_error_report(data: bytes) -> ErrorReport:
    """The report ANAF puts in an "ERORI FACTURA" message instead of an invoice."""
    root = parse_xml(data)
    tag = etree.QName(root)
    if tag.localname != "header" or tag.namespace != ERROR_NS:
        raise InvoiceParseError("not an ANAF validation report (raspunsValidare)")
    errors = [
        (e.get("errorMessage") or "").strip()[:1000]
        for e in root.iter(f"{{{ERROR_NS}}}Error")
        if (e.get("errorMessage") or "").strip()
    ]
    return ErrorReport(upload_index=root.get("Index_incarcare"), errors=errors)


def check_signature(data: bytes) -> None:
    """ANAF's seal must be a well-formed XML-DSig ``Signature`` (it is archived, not verified:
    the hub does not hold ANAF's certificate chain)."""
    root = parse_xml(data)
    if etree.QName(root).localname != "Signature" or etree.QName(root).namespace != DSIG_NS:
        raise InvoiceParseError("signature entry is not an XML-DSig Signature")


def supplier_from_detalii(detalii: str | None) -> str | None:
    """``… emisa de cif_emitent=X pentru cif_beneficiar=Y`` → X (digits), else None."""
    if not detalii:
        return None
    found = _DETALII.search(detalii)
    return found.group(1) if found else None
