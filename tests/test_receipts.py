"""Receipts: once a document is registered, the petitioner gets the number, the term and an
access code by e-mail (a real SMTP server, :class:`SmtpSink`), with the recipisă PDF; at the
counter the same PDF comes from the API. The code works on the status page, and only the last
one issued does."""

from __future__ import annotations

import io
import itertools
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from structlog.testing import capture_logs

from hub.connectors import Connector
from hub.hookspecs import hookimpl
from hub.models import DocumentIn, Job, Receipt, Sender
from hub.receipts import find_by_code, normalize_code
from hub.runtime import Hub
from hub.testing.smtp import SmtpSink
from tests.fixtures import MakeHub
from tests.servers import running_api, running_workers, until

_numbers = itertools.count(1)
NAME = "Maria Ionescu-Test"
EMAIL = "maria.ionescu-test@example.test"


class Registrar(Connector):
    """Stands in for WEBCON: hands back a registration number."""

    name = "registrar"

    async def deliver(self, job: Job) -> Receipt:
        return Receipt(
            registration_number=f"RG{next(_numbers):05d}/2026",
            registered_at=datetime.now(UTC),
        )


class RegistrarPlugin:
    @hookimpl
    def hub_register_connectors(self, register: Any) -> None:
        register(Registrar)


RULES = {
    "fallback": {
        "department": "DJ",
        "destinations": [
            {"connector": "registrar"},
            {"connector": "receipt", "after": "registrar"},
        ],
    }
}


def units_file(tmp_path: Path) -> Path:
    path = tmp_path / "units.toml"
    path.write_text(
        '[[unit]]\ncode = "DJ"\nname = "Direcția Juridică"\nrank_one = true\n', encoding="utf-8"
    )
    return path


def citizens_hub(make_hub: MakeHub, tmp_path: Path, smtp: SmtpSink) -> Hub:
    return make_hub(
        rules=RULES,
        plugins=(RegistrarPlugin(),),
        overrides={
            "smtp": {"host": "127.0.0.1", "port": smtp.port},
            "public_url": "https://hub.primariatm.test",
            "units_file": units_file(tmp_path),
        },
    )


def petition(email: str | None = EMAIL, kind: str = "petitie") -> DocumentIn:
    return DocumentIn(
        external_id=uuid.uuid4().hex,
        kind=kind,
        subject="Sesizare privind iluminatul",
        sender=Sender(type="pf", email=email)
        if kind == "petitie_anonima"
        else Sender(type="pf", name=NAME, email=email),
    )


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


async def test_registered_petition_gets_an_emailed_receipt_with_a_working_code(
    make_hub: MakeHub, tmp_path: Path
) -> None:
    async with SmtpSink() as smtp:
        hub = citizens_hub(make_hub, tmp_path, smtp)
        result = await hub.intake.submit(hub.intake.prepare(petition()))
        with capture_logs() as logs:
            async with running_workers(hub):
                [message] = await smtp.wait_for(1)
        doc = await hub.documents.get(result.document_id)
    assert any(entry["event"] == "hub.receipt.sent" for entry in logs)
    assert EMAIL not in str(logs) and NAME not in str(logs)
    assert doc is not None and doc.registration_number and doc.due_date
    assert smtp.received[0].rcpt_tos == (EMAIL,)
    assert message["Auto-Submitted"] == "auto-replied"
    assert doc.registration_number in message["Subject"]
    assert "Recipisă de înregistrare" in message["Subject"]
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert f"Număr de înregistrare: {doc.registration_number}" in text
    assert f"Termen de răspuns: {doc.due_date:%d.%m.%Y} (OG nr. 27/2002)" in text
    assert "Primăria Municipiului Timișoara" in text and "soluționării" in text
    code_line = next(line for line in text.splitlines() if line.startswith("Cod de acces: "))
    code = code_line.removeprefix("Cod de acces: ")
    assert len(normalize_code(code)) == 10
    url = f"https://hub.primariatm.test/status?nr={doc.registration_number.replace('/', '%2F')}"
    assert url in text
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    printed = pdf_text(attachment.get_content())
    assert "Recipisă de înregistrare" in printed
    assert doc.registration_number in printed and code in printed
    assert "Cod de acces" in printed and "Termen de răspuns" in printed
    assert NAME not in printed  # the receipt names no one
    # The code from the e-mail opens the status page's record, and only for this number.
    found = await hub.runner.read(find_by_code, hub.ledger, doc.registration_number, code)
    assert found is not None and found["status"] == "registered"
    assert await hub.runner.read(find_by_code, hub.ledger, "RG99999/2026", code) is None
    # The receipt delivery is recorded, without the address in it.
    deliveries = await hub.runner.read(hub.ledger.deliveries_of, result.document_id)
    receipt = next(d for d in deliveries if d["connector"] == "receipt")
    assert receipt["state"] == "delivered"
    assert EMAIL not in str(receipt["receipt"])


async def test_no_email_or_anonymous_means_no_message_and_the_counter_prints_it(
    make_hub: MakeHub, tmp_path: Path
) -> None:
    async with SmtpSink() as smtp:
        hub = citizens_hub(make_hub, tmp_path, smtp)
        no_mail = await hub.intake.submit(hub.intake.prepare(petition(email=None)))
        anonymous = await hub.intake.submit(hub.intake.prepare(petition(kind="petitie_anonima")))
        async with running_workers(hub):

            async def both_done() -> bool:
                states = []
                for doc_id in (no_mail.document_id, anonymous.document_id):
                    rows = await hub.runner.read(hub.ledger.deliveries_of, doc_id)
                    states += [d["state"] for d in rows if d["connector"] == "receipt"]
                return states == ["delivered", "delivered"]

            await until(both_done, what="receipt deliveries")
        assert smtp.received == []
        doc = await hub.documents.get(no_mail.document_id)
        assert doc is not None and doc.registration_number
        async with running_api(hub) as api:
            url = f"/api/v1/documents/{no_mail.document_id}/recipisa"
            assert (await api.client.post(url, headers=api.auth("reader"))).status_code == 403
            first = await api.client.post(url, headers=api.auth("operator"))
            second = await api.client.post(url, headers=api.auth("operator"))
            missing = await api.client.post(
                "/api/v1/documents/none/recipisa", headers=api.auth("operator")
            )
    assert missing.status_code == 404
    assert first.status_code == 200 and first.headers["content-type"] == "application/pdf"
    text1, text2 = pdf_text(first.content), pdf_text(second.content)
    assert doc.registration_number in text1
    code1 = text1.split("Cod de acces:")[1].split()[0]
    code2 = text2.split("Cod de acces:")[1].split()[0]
    assert code1 != code2
    # Printing again replaced the code: only the last one works.
    number = doc.registration_number
    assert await hub.runner.read(find_by_code, hub.ledger, number, code1) is None
    assert await hub.runner.read(find_by_code, hub.ledger, number, code2) is not None


async def test_smtp_refusal_is_retried_then_delivered(make_hub: MakeHub, tmp_path: Path) -> None:
    async with SmtpSink() as smtp:
        smtp.refuse_next(451)
        hub = make_hub(
            rules=RULES,
            plugins=(RegistrarPlugin(),),
            overrides={
                "smtp": {"host": "127.0.0.1", "port": smtp.port},
                "receipt": {"retry": {"base_seconds": 0.05, "cap_seconds": 0.1}},
            },
        )
        result = await hub.intake.submit(hub.intake.prepare(petition()))
        async with running_workers(hub):

            async def delivered() -> bool:
                rows = await hub.runner.read(hub.ledger.deliveries_of, result.document_id)
                return any(d["connector"] == "receipt" and d["state"] == "delivered" for d in rows)

            await until(delivered, what="receipt delivered after a 451")
        rows = await hub.runner.read(hub.ledger.deliveries_of, result.document_id)
    receipt = next(d for d in rows if d["connector"] == "receipt")
    assert receipt["attempts"] == 2
    assert len(smtp.received) == 1


def test_codes_are_normalized_and_unambiguous() -> None:
    from hub.receipts import CODE_ALPHABET, format_code, new_code

    code = new_code()
    assert set(code) <= set(CODE_ALPHABET)
    assert not set("0O1IL5S8B") & set(CODE_ALPHABET)
    assert normalize_code(" " + format_code(code).lower() + " ") == code


@pytest.mark.parametrize("kind", ["petitie", "cerere_544"])
def test_recipisa_pdf_has_diacritics_and_qr(kind: str) -> None:
    from hub.models import Document
    from hub.receipts import ReceiptFacts, recipisa_pdf

    now = datetime(2026, 4, 14, 9, 30, tzinfo=UTC)
    doc = Document(
        id="d1",
        source="api",
        external_id="x",
        channel="ghiseu",
        kind=kind,
        created_at=now,
        registered_at=now,
        registration_number="RG00042/2026",
        due_date=datetime(2026, 5, 14).date(),
    )
    facts = ReceiptFacts.of(doc, "ACDEFGHJKM", "https://hub.test/")
    data = recipisa_pdf(facts)
    reader = PdfReader(io.BytesIO(data))
    text = pdf_text(data)
    assert "Recipisă de înregistrare" in text and "14.04.2026" in text and "14.05.2026" in text
    assert "ACDEF-GHJKM" in text
    assert "https://hub.test/status?nr=RG00042%2F2026" in text
    assert any(page.images for page in reader.pages)  # the QR code
