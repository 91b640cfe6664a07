"""Documents as the API shows them: the sender masked unless asked otherwise, times in UTC.

Two sources, one shape (:class:`hub.api.schemas.DocumentOut`): a document just prepared at
intake (answered without reading it back from the ledger) and a document loaded from it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hub.api.schemas import SenderOut
from hub.db.ledger import PreparedDocument
from hub.models import Document
from hub.redaction import mask

__all__ = ["document_view", "mask_sender", "prepared_view", "utc"]


def utc(value: datetime | None) -> datetime | None:
    """Aware and in UTC. Naive values are UTC already: SQLite hands datetimes back naive."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


_SENDER_FIELDS = tuple(f for f in SenderOut.model_fields if f != "type")


def mask_sender(sender: dict[str, Any] | None) -> dict[str, Any] | None:
    """Every field but ``type`` reduced to its last two characters (all fields present, as
    :class:`SenderOut` renders them)."""
    if sender is None:
        return None
    out: dict[str, Any] = {"type": sender["type"]}
    for key in _SENDER_FIELDS:
        value = sender.get(key)
        out[key] = mask(value) if value else None
    return out


def prepared_view(p: PreparedDocument) -> dict[str, Any]:
    """The document intake is about to acknowledge, sender masked."""
    row = p.row
    return {
        "id": row["id"],
        "source": row["source"],
        "external_id": row["external_id"],
        "channel": row["channel"],
        "kind": row["kind"],
        "subject": row["subject"],
        "body": row["body"],
        "sender": mask_sender(row["sender"]),
        "received_at": utc(row["received_at"]),
        "created_at": utc(row["created_at"]),
        "department": row["department"],
        "registration_number": row.get("registration_number"),
        "registered_at": utc(row.get("registered_at")),
        "due_date": row.get("due_date"),
        "status": row["status"],
        "attachments": [
            {
                "filename": a.filename,
                "content_type": a.content_type,
                "size": len(a.content),
                "sha256": a.sha256,
            }
            for a in p.attachments
        ],
        "metadata": row["meta"],
    }


def document_view(doc: Document, *, full_sender: bool = False) -> dict[str, Any]:
    data = doc.model_dump()
    sender = data["sender"]
    if sender is not None:
        data["sender"] = sender if full_sender else mask_sender(sender)
    for key in ("received_at", "created_at", "registered_at"):
        data[key] = utc(data[key])
    return data
