"""Sample documents for ``hub demo``: what a day at the registry looks like, in miniature.

Everyone here is fictitious: names end in ``-Test`` or ``Demo``, addresses are on made-up
streets, e-mail addresses are under ``example.ro``. CNPs and CUIs are generated with
python-stdnum's check digits, so they pass the hub's validation without belonging to anyone.
Each sample says which webhook targets the demo's routing rules should send it to; a test holds
the rules to that.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from stdnum.ro import cnp as ro_cnp
from stdnum.ro import cui as ro_cui

from hub.models import DocumentIn

__all__ = ["SOURCE", "Sample", "fake_cnp", "fake_cui", "sample_documents", "samples"]

SOURCE = "demo"
TIMIS = "35"  # county code of Timiș in the CNP


def fake_cnp(sex_century: int, birth: str, serial: int, county: str = TIMIS) -> str:
    """A CNP with a correct check digit: ``sex_century`` 1/2 (1900s) or 5/6 (2000s),
    ``birth`` YYMMDD, ``serial`` 1 to 999."""
    base = f"{sex_century}{birth}{county}{serial:03d}"
    return base + ro_cnp.calc_check_digit(base)


def fake_cui(base: str) -> str:
    """A CUI with a correct check digit, from the digits before it."""
    return base + ro_cui.calc_check_digit(base)


def _pdf(title: str) -> dict[str, str]:
    """A tiny, well-formed one-page PDF as an inline attachment."""
    text = title.encode("ascii", "replace").decode("ascii")
    stream = f"BT /F1 14 Tf 72 770 Td ({text}) Tj ET"
    content = (
        "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        "2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        "3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents 4 0 R"
        "/Resources<</Font<</F1 5 0 R>>>>>>endobj\n"
        f"4 0 obj<</Length {len(stream)}>>stream\n{stream}\nendstream endobj\n"
        "5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj\n"
        "trailer<</Root 1 0 R>>\n%%EOF\n"
    )
    slug = "".join(c if c.isalnum() else "-" for c in title.lower())[:40].strip("-")
    return {
        "filename": f"{slug}.pdf",
        "content_type": "application/pdf",
        "content_base64": base64.b64encode(content.encode("ascii")).decode(),
    }


@dataclass(frozen=True)
class Sample:
    document: DocumentIn
    #: Webhook targets the demo's rules route it to.
    targets: frozenset[str]
    #: The department the demo's rules assign.
    department: str
    #: Units the demo's rules e-mail it to (``email`` connector).
    emails: frozenset[str] = frozenset()


def _pf(name: str, cnp: str, n: int, *, email: bool = True) -> dict[str, Any]:
    return {
        "type": "pf",
        "name": name,
        "cnp": cnp,
        "email": f"petent{n}@example.ro" if email else None,
        "phone": f"0700 000 {n:03d}",
        "address": f"Str. Exemplului nr. {n}, Timișoara",
    }


def _fiscal(
    issuer: str, series: str, number: str, amount: str, basis: str, offender: dict[str, Any]
) -> dict[str, Any]:
    """``metadata.fiscal`` of a fine or fiscal act, as the registry clerk enters it (what the
    ``fiscal`` connector sends to the Fiscal Directorate, see docs/fiscal.md)."""
    return {
        "demo": True,
        "fiscal": {
            "issuer": issuer,
            "series": series,
            "number": number,
            "amount": amount,
            "legal_basis": basis,
            "communicated_on": "2026-11-20",
            "offender": offender,
        },
    }


def _pj(name: str, cui: str, n: int) -> dict[str, Any]:
    return {
        "type": "pj",
        "name": name,
        "cui": cui,
        "email": f"office{n}@example.ro",
        "address": f"Bd. Demonstrației nr. {n}, Timișoara",
    }


_ROWS: list[tuple[dict[str, Any], set[str], str]] = [
    # --- petiții (OG 27/2002) -----------------------------------------------------------------
    (
        {
            "channel": "ghiseu",
            "kind": "petitie",
            "subject": "Sesizare privind o groapă în carosabil pe Str. Exemplului",
            "body": "Vă aduc la cunoștință că pe carosabil s-a format o groapă adâncă, "
            "periculoasă pentru bicicliști. Vă rog să dispuneți repararea drumului.",
            "sender": _pf("Ion Popescu-Test", fake_cnp(1, "850312", 1), 1),
            "attachments": [_pdf("Sesizare groapa carosabil")],
        },
        {"REG", "DT"},
        "DT",
    ),
    (
        {
            "channel": "email",
            "kind": "petitie",
            "subject": "Reclamație: iluminat public defect în Piața Demo",
            "body": "De două săptămâni iluminatul public nu funcționează pe latura de nord a "
            "pieței. Vă rog să remediați defecțiunea.",
            "sender": _pf("Maria Ionescu-Test", fake_cnp(2, "910705", 2), 2),
        },
        {"REG", "DT"},
        "DT",
    ),
    (
        {
            "channel": "posta",
            "kind": "petitie",
            "subject": "Solicitare privind stadiul autorizației de construire",
            "body": "Am depus documentația pentru autorizația de construire a unei locuințe "
            "și vă rog să-mi comunicați stadiul analizei la Urbanism.",
            "sender": _pf("Andrei Vasilescu-Test", fake_cnp(1, "780120", 3), 3, email=False),
        },
        {"REG", "URB"},
        "URB",
    ),
    (
        {
            "channel": "email",
            "kind": "petitie",
            "subject": "Sesizare: autobuzul liniei 33 nu respectă programul afișat",
            "body": "În ultima săptămână, autobuzul de la ora 7:40 din stația Piața Demo a "
            "întârziat zilnic peste 20 de minute. Vă rog să transmiteți sesizarea operatorului "
            "de transport în comun.",
            "sender": _pf("Radu Stoica-Test", fake_cnp(1, "870911", 21), 21),
        },
        {"REG"},
        "STPT",
    ),
    (
        {
            "channel": "email",
            "kind": "petitie",
            "subject": "Propunere de amenajare a unui spațiu verde",
            "body": "Asociația noastră propune amenajarea unui parc de cartier pe terenul "
            "viran de lângă școală și se oferă să participe la plantări.",
            "sender": _pj("Asociația Cartier Verde Demo", fake_cui("3456789"), 4),
        },
        {"REG"},
        "REG",
    ),
    (
        {
            "channel": "ghiseu",
            "kind": "petitie",
            "subject": "Sesizare privind zgomotul produs de o terasă",
            "body": "Terasa din vecinătate funcționează cu muzică după ora 23:00. "
            "Vă rog să verificați respectarea programului.",
            "sender": _pf("Elena Georgescu-Test", fake_cnp(2, "650228", 5), 5),
        },
        {"REG"},
        "REG",
    ),
    (
        {
            "channel": "email",
            "kind": "petitie_anonima",
            "subject": "Sesizare anonimă: deșeuri depozitate ilegal",
            "body": "La marginea cartierului se depozitează ilegal deșeuri din construcții.",
        },
        {"REG"},
        "REG",
    ),
    # --- cereri de informații de interes public (Legea 544/2001) --------------------------------
    (
        {
            "channel": "email",
            "kind": "cerere_544",
            "subject": "Cerere Legea 544/2001: contractele de salubrizare în vigoare",
            "body": "În baza Legii 544/2001 vă rog să-mi comunicați lista contractelor de "
            "salubrizare în vigoare și valoarea acestora.",
            "sender": _pf("Radu Stănescu-Test", fake_cnp(1, "900101", 7), 7),
        },
        {"REG"},
        "RP",
    ),
    (
        {
            "channel": "api",
            "kind": "cerere_544",
            "subject": "Solicitare informații publice: bugetul iluminatului public 2025",
            "body": "Solicit, în format electronic, bugetul alocat și executat pentru "
            "iluminatul public în anul 2025.",
            "sender": _pj("Redacția Ziarul Demo SRL", fake_cui("4567890"), 8),
        },
        {"REG"},
        "RP",
    ),
    # --- amenzi și acte de executare fiscală → Direcția Fiscală ---------------------------------
    (
        {
            "channel": "posta",
            "kind": "amenda",
            "subject": "Proces-verbal de contravenție PV-DEMO-0101, comunicat spre executare",
            "body": "Transmitem procesul-verbal de contravenție, rămas definitiv, în vederea "
            "încasării amenzii la bugetul local.",
            "sender": _pj("Inspectoratul de Poliție Demo", fake_cui("5678901"), 9),
            "attachments": [_pdf("PV contraventie PV-DEMO-0101")],
            "metadata": _fiscal(
                "Inspectoratul de Poliție Demo",
                "PV-DEMO",
                "0101",
                "500.00",
                "Legea nr. 61/1991, art. 3",
                _pf("Vasile Demo-Test", fake_cnp(1, "750312", 41), 41),
            ),
        },
        {"DF"},
        "DF",
    ),
    (
        {
            "channel": "posta",
            "kind": "amenda",
            "subject": "Proces-verbal de contravenție PV-DEMO-0102 (amendă circulație)",
            "body": "Comunicăm procesul-verbal de constatare a contravenției pentru "
            "debitare în evidența fiscală.",
            "sender": _pj("Inspectoratul de Poliție Demo", fake_cui("5678901"), 9),
            "metadata": _fiscal(
                "Inspectoratul de Poliție Demo",
                "PV-DEMO",
                "0102",
                "290.00",
                "OUG nr. 195/2002, art. 100",
                _pf("Elena Demo-Test", fake_cnp(2, "880521", 42), 42),
            ),
        },
        {"DF"},
        "DF",
    ),
    (
        {
            "channel": "posta",
            "kind": "act_executare_fiscala",
            "subject": "Titlu executoriu TE-DEMO-014: debit amenzi, transmis spre executare",
            "body": "Transmitem titlul executoriu pentru debitul restant, în vederea "
            "executării silite de către organul fiscal local.",
            "sender": _pj("Primăria Comunei Exemplu-Demo", fake_cui("6789012"), 11),
            "attachments": [_pdf("Titlu executoriu TE-DEMO-014")],
            "metadata": _fiscal(
                "Primăria Comunei Exemplu-Demo",
                "TE-DEMO",
                "014",
                "1250.00",
                "Legea nr. 207/2015, art. 226",
                _pj("Transport Demo SRL", fake_cui("1234563"), 43),
            ),
        },
        {"DF"},
        "DF",
    ),
    (
        {
            "channel": "email",
            "kind": "act_executare_fiscala",
            "subject": "Adresă de înființare a popririi: dosar fiscal DEMO-77",
            "body": "Vă comunicăm adresa de înființare a popririi asupra sumelor datorate "
            "debitorului din dosarul fiscal DEMO-77.",
            "sender": _pj("Administrația Finanțelor Demo", fake_cui("7890123"), 12),
            "metadata": _fiscal(
                "Administrația Finanțelor Demo",
                "AFD",
                "77",
                "3400.00",
                "Legea nr. 207/2015, art. 236",
                _pj("Construcții Demo SRL", fake_cui("2345674"), 44),
            ),
        },
        {"DF"},
        "DF",
    ),
    (
        {
            "channel": "posta",
            "kind": "act_executare_fiscala",
            "subject": "Somație de plată nr. SOM-DEMO-3",
            "body": "Somație privind obligațiile fiscale restante, cu termen de plată de "
            "15 zile de la comunicare.",
            "sender": _pj("Administrația Finanțelor Demo", fake_cui("7890123"), 12),
            "metadata": _fiscal(
                "Administrația Finanțelor Demo",
                "SOM-DEMO",
                "3",
                "812.40",
                "Legea nr. 207/2015, art. 230",
                _pf("Dan Demo-Test", fake_cnp(1, "690101", 45), 45),
            ),
        },
        {"DF"},
        "DF",
    ),
    # --- acte de procedură (instanțe, executori) → Direcția Juridică ----------------------------
    (
        {
            "channel": "instanta",
            "kind": "act_procedura",
            "subject": "Citație: dosar nr. 1234/30/2026, termen 12.03.2026",
            "body": "Municipiul Timișoara este citat în calitate de pârât în dosarul "
            "nr. 1234/30/2026, la termenul din 12.03.2026, ora 09:00.",
            "sender": _pj("Tribunalul Demo", fake_cui("8901234"), 14),
            "attachments": [_pdf("Citatie dosar 1234-30-2026")],
        },
        {"DJ"},
        "DJ",
    ),
    (
        {
            "channel": "instanta",
            "kind": "act_procedura",
            "subject": "Comunicare hotărâre: dosar nr. 987/325/2025",
            "body": "Vă comunicăm hotărârea pronunțată în dosarul nr. 987/325/2025.",
            "sender": _pj("Judecătoria Demo", fake_cui("9012345"), 15),
        },
        {"DJ"},
        "DJ",
    ),
    (
        {
            "channel": "executor",
            "kind": "act_procedura",
            "subject": "Comunicare act de procedură: dosar de executare 55/2026",
            "body": "Executorul judecătoresc comunică somația emisă în dosarul de executare "
            "55/2026.",
            "sender": _pf(
                "Executor judecătoresc Vasile Exemplu-Test", fake_cnp(1, "700815", 16), 16
            ),
        },
        {"DJ"},
        "DJ",
    ),
    # --- facturi → Direcția Economică ---------------------------------------------------------
    (
        {
            "channel": "efactura",
            "kind": "factura",
            "subject": "Factură DEMO-2026-0042: mentenanță semafoare",
            "body": "Factura pentru serviciile de mentenanță a semafoarelor, luna februarie.",
            "sender": _pj("Semafoare Demo SRL", fake_cui("1234567"), 17),
        },
        {"DE"},
        "DE",
    ),
    # --- restul: registratură (fallback) ------------------------------------------------------
    (
        {
            "channel": "posta",
            "kind": "corespondenta",
            "subject": "Adresă: solicitare situație investiții finanțate din fonduri europene",
            "body": "Vă rugăm să transmiteți situația proiectelor de investiții aflate în "
            "implementare.",
            "sender": _pj("Ministerul Exemplelor Demo", fake_cui("2345678"), 18),
        },
        {"REG"},
        "REG",
    ),
    (
        {
            "channel": "ghiseu",
            "kind": "cerere_audienta",
            "subject": "Cerere de audiență la Primar",
            "body": "Solicit o audiență pentru a prezenta o problemă a asociației de proprietari.",
            "sender": _pf("Gheorghe Dumitrescu-Test", fake_cnp(1, "600404", 19), 19),
        },
        {"REG"},
        "REG",
    ),
    (
        {
            "channel": "ghiseu",
            "subject": "Cerere eliberare copie conformă după un act din arhivă",
            "body": "Solicit eliberarea unei copii conforme după contractul de vânzare din "
            "arhiva instituției.",
            "sender": _pf("Ana Munteanu-Test", fake_cnp(6, "020202", 20), 20),
        },
        {"REG"},
        "REG",
    ),
]


#: Departments that are units reached by e-mail (the demo's rules send their items there).
_EMAILED = {"STPT": frozenset({"STPT"})}


def samples(now: datetime | None = None) -> list[Sample]:
    """The demo's documents with the routing they should get, received over the last hours."""
    now = now or datetime.now(UTC)
    out = []
    for i, (fields, targets, department) in enumerate(_ROWS, start=1):
        emails = _EMAILED.get(department, frozenset())
        doc = DocumentIn.model_validate(
            {
                "source": SOURCE,
                "external_id": f"DEMO-{i:04d}",
                "received_at": now - timedelta(minutes=17 * (len(_ROWS) - i)),
                "metadata": {"demo": True},
                **fields,
            }
        )
        out.append(Sample(doc, frozenset(targets), department, emails))
    return out


def sample_documents(now: datetime | None = None) -> list[DocumentIn]:
    return [s.document for s in samples(now)]
