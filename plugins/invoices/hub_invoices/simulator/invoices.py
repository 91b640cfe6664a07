"""Invoices as suppliers send them to a city hall through RO e-Factura: CIUS-RO UBL 2.1
Invoice and CreditNote XML, ANAF's validation report for rejected ones, ANAF's seal, the ZIP.

Suppliers are fictitious but well-formed: CUIs with a correct check digit (python-stdnum's
algorithm), Romanian IBANs with correct check digits.
"""

from __future__ import annotations

import base64
import hashlib
import io
import random
import zipfile
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from xml.sax.saxutils import escape, quoteattr

from stdnum.iso7064 import mod_97_10
from stdnum.ro import cui as ro_cui

__all__ = [
    "SUPPLIERS",
    "Supplier",
    "credit_note_xml",
    "error_report_xml",
    "invoice_xml",
    "make_cui",
    "make_iban",
    "make_zip",
    "signature_xml",
]


def make_cui(base: int) -> str:
    """A CUI with a correct check digit from a 2-9 digit base."""
    digits = str(base)
    return digits + ro_cui.calc_check_digit(digits)


def make_iban(bank: str, account: str) -> str:
    """A Romanian IBAN (RO, 2 check digits, 4-letter bank code, 16 characters)."""
    bban = (bank + account).upper()
    assert len(bban) == 20
    check = mod_97_10.calc_check_digits(bban + "RO")
    return f"RO{check}{bban}"


@dataclass(frozen=True)
class Supplier:
    name: str
    cui: str
    vat_payer: bool
    iban: str
    city: str
    street: str
    county: str  # ISO 3166-2:RO subdivision


SUPPLIERS: tuple[Supplier, ...] = (
    Supplier(
        "Termo Urban Timiș S.R.L.",
        make_cui(3118212),
        True,
        make_iban("BTRL", "RONCRT0123456701"),
        "Timișoara",
        "Str. Episcop Joseph Lonovici nr. 4",
        "RO-TM",
    ),
    Supplier(
        "Drumuri Banat Construct S.A.",
        make_cui(1430771),
        True,
        make_iban("BRDE", "360SV12345678900"),
        "Timișoara",
        "Calea Șagului nr. 112",
        "RO-TM",
    ),
    Supplier(
        "Iluminat Public Vest S.R.L.",
        make_cui(4102231),
        True,
        make_iban("RNCB", "0249123456780001"),
        "Arad",
        "Bd. Revoluției nr. 9",
        "RO-AR",
    ),
    Supplier(
        "Papetăria Cetății S.R.L.",
        make_cui(2785514),
        True,
        make_iban("INGB", "0000999901234567"),
        "Timișoara",
        "Str. Mărășești nr. 5",
        "RO-TM",
    ),
    Supplier(
        "Softțară Servicii Informatice S.R.L.",
        make_cui(3899102),
        True,
        make_iban("BACX", "0000001234567890"),
        "Cluj-Napoca",
        "Str. Memorandumului nr. 28",
        "RO-CJ",
    ),
    Supplier(
        "Salubris Mediu Ecologic S.R.L.",
        make_cui(1712345),
        False,
        make_iban("TREZ", "6215069XXX012345"),
        "Lugoj",
        "Str. Timișorii nr. 67",
        "RO-TM",
    ),
)

ITEMS = (
    ("Energie termică", "GJ", Decimal("385.50")),
    ("Întreținere iluminat public", "H87", Decimal("12500.00")),
    ("Hârtie copiator A4 (top 500 coli)", "H87", Decimal("24.90")),
    ("Licență software registratură (lună)", "MON", Decimal("2150.00")),
    ("Reparații carosabil asfalt", "MTK", Decimal("187.35")),
    ("Colectare deșeuri municipale", "TNE", Decimal("310.00")),
    ("Toner imprimantă laser", "H87", Decimal("412.00")),
    ("Servicii mentenanță rețea", "HUR", Decimal("150.00")),
)

_NS = (
    'xmlns="urn:oasis:names:specification:ubl:schema:xsd:{root}-2" '
    'xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2" '
    'xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"'
)
CUSTOMIZATION = "urn:cen.eu:en16931:2017#compliant#urn:efactura.mfinante.ro:CIUS-RO:1.0.1"


def _party(name: str, cui: str, vat_payer: bool, city: str, street: str, county: str) -> str:
    company_id = f"RO{cui}" if vat_payer else cui
    tax_scheme = (
        f"<cac:PartyTaxScheme><cbc:CompanyID>{company_id}</cbc:CompanyID>"
        "<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>"
        if vat_payer
        else ""
    )
    return (
        "<cac:Party>"
        f"<cac:PostalAddress><cbc:StreetName>{escape(street)}</cbc:StreetName>"
        f"<cbc:CityName>{escape(city)}</cbc:CityName>"
        f"<cbc:CountrySubentity>{county}</cbc:CountrySubentity>"
        "<cac:Country><cbc:IdentificationCode>RO</cbc:IdentificationCode></cac:Country>"
        "</cac:PostalAddress>"
        f"{tax_scheme}"
        f"<cac:PartyLegalEntity><cbc:RegistrationName>{escape(name)}</cbc:RegistrationName>"
        f"<cbc:CompanyID>{cui}</cbc:CompanyID></cac:PartyLegalEntity>"
        "</cac:Party>"
    )


def _document(
    root: str,
    *,
    supplier: Supplier,
    buyer_cui: str,
    number: str,
    issue: date,
    lines: list[tuple[str, str, Decimal, Decimal]],
    order_ref: str | None,
    contract_ref: str | None,
    billing_ref: str | None = None,
) -> bytes:
    is_invoice = root == "Invoice"
    line_tag = "InvoiceLine" if is_invoice else "CreditNoteLine"
    qty_tag = "InvoicedQuantity" if is_invoice else "CreditedQuantity"
    rate = Decimal("19") if supplier.vat_payer else Decimal("0")
    category = "S" if supplier.vat_payer else "O"
    net = sum((q * p).quantize(Decimal("0.01")) for _, _, q, p in lines)
    vat = (net * rate / 100).quantize(Decimal("0.01"))
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f"<{root} {_NS.format(root=root)}>",
        f"<cbc:CustomizationID>{CUSTOMIZATION}</cbc:CustomizationID>",
        f"<cbc:ID>{escape(number)}</cbc:ID>",
        f"<cbc:IssueDate>{issue.isoformat()}</cbc:IssueDate>",
    ]
    if is_invoice:
        parts.append(f"<cbc:DueDate>{(issue + timedelta(days=30)).isoformat()}</cbc:DueDate>")
        parts.append("<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>")
    else:
        parts.append("<cbc:CreditNoteTypeCode>381</cbc:CreditNoteTypeCode>")
    parts.append("<cbc:DocumentCurrencyCode>RON</cbc:DocumentCurrencyCode>")
    if order_ref:
        parts.append(
            f"<cac:OrderReference><cbc:ID>{escape(order_ref)}</cbc:ID></cac:OrderReference>"
        )
    if billing_ref:
        parts.append(
            "<cac:BillingReference><cac:InvoiceDocumentReference>"
            f"<cbc:ID>{escape(billing_ref)}</cbc:ID></cac:InvoiceDocumentReference>"
            "</cac:BillingReference>"
        )
    if contract_ref:
        parts.append(
            "<cac:ContractDocumentReference>"
            f"<cbc:ID>{escape(contract_ref)}</cbc:ID></cac:ContractDocumentReference>"
        )
    parts.append(
        "<cac:AccountingSupplierParty>"
        + _party(
            supplier.name,
            supplier.cui,
            supplier.vat_payer,
            supplier.city,
            supplier.street,
            supplier.county,
        )
        + "</cac:AccountingSupplierParty>"
    )
    parts.append(
        "<cac:AccountingCustomerParty>"
        + _party(
            "Municipiul Timișoara",
            buyer_cui,
            False,
            "Timișoara",
            "Bd. C.D. Loga nr. 1",
            "RO-TM",
        )
        + "</cac:AccountingCustomerParty>"
    )
    due = (issue + timedelta(days=15)).isoformat()
    parts.append(
        "<cac:PaymentMeans><cbc:PaymentMeansCode>30</cbc:PaymentMeansCode>"
        + ("" if is_invoice else f"<cbc:PaymentDueDate>{due}</cbc:PaymentDueDate>")
        + f"<cac:PayeeFinancialAccount><cbc:ID>{supplier.iban}</cbc:ID>"
        "</cac:PayeeFinancialAccount></cac:PaymentMeans>"
    )
    parts.append(
        f'<cac:TaxTotal><cbc:TaxAmount currencyID="RON">{vat}</cbc:TaxAmount>'
        f'<cac:TaxSubtotal><cbc:TaxableAmount currencyID="RON">{net}</cbc:TaxableAmount>'
        f'<cbc:TaxAmount currencyID="RON">{vat}</cbc:TaxAmount>'
        f"<cac:TaxCategory><cbc:ID>{category}</cbc:ID><cbc:Percent>{rate}</cbc:Percent>"
        "<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory>"
        "</cac:TaxSubtotal></cac:TaxTotal>"
    )
    parts.append(
        "<cac:LegalMonetaryTotal>"
        f'<cbc:LineExtensionAmount currencyID="RON">{net}</cbc:LineExtensionAmount>'
        f'<cbc:TaxExclusiveAmount currencyID="RON">{net}</cbc:TaxExclusiveAmount>'
        f'<cbc:TaxInclusiveAmount currencyID="RON">{net + vat}</cbc:TaxInclusiveAmount>'
        f'<cbc:PayableAmount currencyID="RON">{net + vat}</cbc:PayableAmount>'
        "</cac:LegalMonetaryTotal>"
    )
    for i, (name, unit, qty, price) in enumerate(lines, 1):
        amount = (qty * price).quantize(Decimal("0.01"))
        parts.append(
            f"<cac:{line_tag}><cbc:ID>{i}</cbc:ID>"
            f'<cbc:{qty_tag} unitCode="{unit}">{qty}</cbc:{qty_tag}>'
            f'<cbc:LineExtensionAmount currencyID="RON">{amount}</cbc:LineExtensionAmount>'
            f"<cac:Item><cbc:Name>{escape(name)}</cbc:Name>"
            f"<cac:ClassifiedTaxCategory><cbc:ID>{category}</cbc:ID>"
            f"<cbc:Percent>{rate}</cbc:Percent>"
            "<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory>"
            "</cac:Item>"
            f'<cac:Price><cbc:PriceAmount currencyID="RON">{price}</cbc:PriceAmount></cac:Price>'
            f"</cac:{line_tag}>"
        )
    parts.append(f"</{root}>")
    return "".join(parts).encode("utf-8")


def _lines(rng: random.Random) -> list[tuple[str, str, Decimal, Decimal]]:
    out = []
    for _ in range(rng.randint(1, 4)):
        name, unit, price = rng.choice(ITEMS)
        out.append((name, unit, Decimal(rng.randint(1, 40)), price))
    return out


def invoice_xml(
    supplier: Supplier,
    buyer_cui: str,
    number: str,
    issue: date,
    rng: random.Random,
    *,
    order_ref: str | None = None,
    contract_ref: str | None = None,
) -> bytes:
    return _document(
        "Invoice",
        supplier=supplier,
        buyer_cui=buyer_cui,
        number=number,
        issue=issue,
        lines=_lines(rng),
        order_ref=order_ref,
        contract_ref=contract_ref,
    )


def credit_note_xml(
    supplier: Supplier,
    buyer_cui: str,
    number: str,
    issue: date,
    rng: random.Random,
    *,
    corrects: str,
    contract_ref: str | None = None,
) -> bytes:
    return _document(
        "CreditNote",
        supplier=supplier,
        buyer_cui=buyer_cui,
        number=number,
        issue=issue,
        lines=_lines(rng)[:1],
        order_ref=None,
        contract_ref=contract_ref,
        billing_ref=corrects,
    )


def error_report_xml(upload_index: str, messages: list[str]) -> bytes:
    """ANAF's raspunsValidare for an invoice it refused (what an "ERORI FACTURA" holds)."""
    errors = "".join(f"<Error errorMessage={quoteattr(m)}/>" for m in messages)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<header xmlns="mfp:anaf:dgti:efactura:raspunsValidare:v1" '
        f'dateResponse="202611281015" ExecutionStatus="1" Index_incarcare="{upload_index}">'
        f"{errors}</header>"
    ).encode()


def signature_xml(content: bytes) -> bytes:
    """A seal in XML-DSig shape over the invoice bytes (SHA-256 digest, placeholder value)."""
    digest = base64.b64encode(hashlib.sha256(content).digest()).decode()
    value = base64.b64encode(hashlib.sha512(content).digest() * 4).decode()
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo>'
        '<CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>'
        '<SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
        '<Reference URI=""><Transforms>'
        '<Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
        "</Transforms>"
        '<DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
        f"<DigestValue>{digest}</DigestValue></Reference></SignedInfo>"
        f"<SignatureValue>{value}</SignatureValue>"
        "<KeyInfo><X509Data><X509SubjectName>CN=ANAF e-Factura, O=Ministerul Finantelor, "
        "C=RO</X509SubjectName></X509Data></KeyInfo></Signature>"
    ).encode()


def make_zip(message_id: str, content: bytes, *, signature: bytes | None = None) -> bytes:
    """The ZIP ``descarcare`` answers: ``<id>.xml`` and ``semnatura_<id>.xml``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{message_id}.xml", content)
        zf.writestr(f"semnatura_{message_id}.xml", signature or signature_xml(content))
    return buf.getvalue()
