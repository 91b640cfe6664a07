"""A proof of delivery (signed courier proof, returned confirmation-of-receipt card) becomes
part of the record in two places:

* a **new hub document** (kind ``proof_kind``, default ``confirmare_primire``; source
  ``postal``, external id ``proof-<dispatch id>``) carrying the scan as its attachment and the
  person who signed as its sender (personal data, masked like any sender). It goes through
  intake and routing like every incoming document, so the routing rules send it on — to WEBCON,
  which registers it with the answered document's number in its metadata. The external id makes
  it idempotent: recording the same proof twice gives the same document.
* the **answered document's** ``metadata.postal[<dispatch id>]``: service, tracking number,
  outcome, when, and the proof document's id (never the signer), with an audit event.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.models import Channel, DocumentIn
from hub_postal.settings import SERVICE_LABELS, PostalSettings

__all__ = ["OUTCOME_LABELS", "ProofFile", "proof_document", "proof_external_id", "summary"]

OUTCOME_LABELS = {
    "delivered": "livrat",
    "refused": "refuzat de destinatar",
    "returned": "returnat expeditorului",
    "lost": "pierdut",
}


@dataclass(frozen=True, slots=True)
class ProofFile:
    filename: str
    content_type: str
    content: bytes

    def __repr__(self) -> str:
        return f"ProofFile({self.filename!r}, {len(self.content)} bytes)"


def proof_external_id(dispatch_id: str) -> str:
    return f"proof-{dispatch_id}"


def proof_document(
    settings: PostalSettings,
    dispatch: dict[str, Any],
    *,
    outcome: str,
    at: datetime,
    signer: str | None,
    file: ProofFile | None,
) -> DocumentIn:
    """The hub document a proof of delivery becomes (see the module docstring)."""
    reg = dispatch.get("registration_number") or "—"
    number = dispatch.get("tracking_number") or "—"
    label = SERVICE_LABELS.get(dispatch["service"], dispatch["service"])
    when = at.astimezone().strftime("%d.%m.%Y %H:%M") if at.tzinfo else f"{at:%d.%m.%Y %H:%M}"
    attachments = []
    if file is not None:
        attachments.append(
            {
                "filename": file.filename,
                "content_type": file.content_type,
                "content_base64": base64.b64encode(file.content).decode(),
            }
        )
    return DocumentIn.model_validate(
        {
            "source": "postal",
            "external_id": proof_external_id(dispatch["id"]),
            "channel": Channel.POSTA,
            "kind": settings.proof_kind,
            "subject": f"Confirmare de primire pentru răspunsul la nr. {reg} ({number})",
            "body": (
                f"{label}, nr. {number}: {OUTCOME_LABELS.get(outcome, outcome)} la {when}. "
                f"Răspuns la documentul nr. {reg}."
            ),
            "sender": {"type": "pf", "name": signer} if signer else None,
            "received_at": at,
            "department": dispatch.get("department"),
            "attachments": attachments,
            "metadata": {
                "postal": {
                    "dispatch_id": dispatch["id"],
                    "answers_document_id": dispatch["document_id"],
                    "answers_registration_number": dispatch.get("registration_number"),
                    "tracking_number": dispatch.get("tracking_number"),
                    "service": dispatch["service"],
                    "outcome": outcome,
                }
            },
        }
    )


def summary(
    dispatch: dict[str, Any], *, outcome: str, at: datetime, proof_document_id: str | None
) -> dict[str, Any]:
    """What the answered document keeps under ``metadata.postal[<dispatch id>]``."""
    return {
        dispatch["id"]: {
            "service": dispatch["service"],
            "network": dispatch["network"],
            "tracking_number": dispatch.get("tracking_number"),
            "outcome": outcome,
            "at": at.isoformat(),
            "proof_document_id": proof_document_id,
        }
    }
