"""Test data for connector authors: a document from an obviously fake, *valid* petitioner.

The sender's CNP passes the check digit (the hub's models reject invalid ones), so tests exercise
the real validation path; the values are distinctive enough that the contract kit can search logs,
error messages and receipts for them and prove a connector never leaks personal data.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

from stdnum.ro import cnp as ro_cnp

from hub.ids import new_id
from hub.models import AttachmentRef, Channel, Document, DocumentIn, Job, Sender

__all__ = [
    "document_from",
    "fake_sender",
    "make_document",
    "make_document_in",
    "make_job",
    "personal_values",
    "valid_cnp",
]


def valid_cnp(serial: int = 901, *, born: str = "960101", county: str = "35") -> str:
    """A CNP with a correct check digit: male, born ``born`` (YYMMDD), county 35 (Timiș)."""
    head = f"1{born}{county}{serial:03d}"
    return head + str(ro_cnp.calc_check_digit(head))


def fake_sender(**overrides: Any) -> Sender:
    """A natural person with every kind of personal data filled in, all of it fake."""
    data: dict[str, Any] = {
        "type": "pf",
        "name": "Ion Popescu-Test",
        "cnp": valid_cnp(),
        "email": "ion.popescu-test@example.test",
        "phone": "0722000901",
        "address": "Strada Exemplului nr. 1, Timișoara",
    }
    data.update(overrides)
    return Sender.model_validate(data)


def make_document_in(**overrides: Any) -> DocumentIn:
    """A petition as a source would offer it, with one small PDF attachment."""
    data: dict[str, Any] = {
        "source": "api",
        "external_id": f"test-{uuid.uuid4().hex[:12]}",
        "channel": Channel.GHISEU,
        "kind": "petitie",
        "subject": "Sesizare privind iluminatul public",
        "body": "Vă rog să remediați iluminatul public de pe strada noastră.",
        "sender": fake_sender(),
        "attachments": [
            {
                "filename": "sesizare.pdf",
                "content_type": "application/pdf",
                "content_base64": base64.b64encode(b"%PDF-1.4 test\n").decode(),
            }
        ],
    }
    data.update(overrides)
    return DocumentIn.model_validate(data)


def document_from(doc: DocumentIn, *, document_id: str | None = None) -> Document:
    """The ledger's view of ``doc`` (what a connector receives), without a ledger."""
    refs = []
    for a in doc.attachments:
        content = a.decode()
        refs.append(
            AttachmentRef(
                filename=a.filename,
                content_type=a.content_type,
                size=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
            )
        )
    now = datetime.now(UTC)
    return Document(
        id=document_id or new_id(),
        source=doc.source,
        external_id=doc.external_id,
        channel=doc.channel,
        kind=doc.kind or "altele",
        subject=doc.subject,
        body=doc.body,
        sender=doc.sender,
        received_at=doc.received_at or now,
        created_at=now,
        department=doc.department,
        attachments=refs,
        metadata=doc.metadata,
    )


def make_document(**overrides: Any) -> Document:
    """A ledger document built from :func:`make_document_in` (same keyword overrides)."""
    return document_from(make_document_in(**overrides))


def make_job(
    connector: str = "test",
    *,
    target: str | None = None,
    attempt: int = 1,
    document: Document | None = None,
    delivery_id: int = 1,
    idempotency_key: str | None = None,
) -> Job:
    """A claimed delivery as the dispatcher hands it to ``deliver``."""
    return Job(
        delivery_id=delivery_id,
        connector=connector,
        idempotency_key=idempotency_key or f"msg_{uuid.uuid4().hex}",
        attempt=attempt,
        document=document or make_document(),
        target=target,
    )


def personal_values(sender: Sender | None) -> dict[str, str]:
    """Field → value of the sender's personal data, for leak searches."""
    if sender is None:
        return {}
    fields = ("name", "cnp", "cui", "email", "phone", "address")
    return {f: v for f in fields if isinstance(v := getattr(sender, f), str) and v}
