"""The daily digest: one e-mail a day to a unit that asked for it (``digest = true`` in the
units file), carrying every item queued for it since the last one, attachments included.

The ``email`` connector queues such items (receipt status ``queued_for_digest``, item status
``queued``); the ``units-followup`` source sends the digest from ``digest_hour`` on, at most
once per unit and local day, then records ``item_digested`` on each item (its status becomes
``delivered``, and the unit acknowledges or returns it as usual). A failed send marks nothing:
the next round tries again.
"""

from __future__ import annotations

import re
from datetime import date
from email.message import EmailMessage

from hub.db.ledger import Ledger
from hub.items import Item
from hub.models import Document
from hub.units import Unit

__all__ = ["digest_message", "load_documents"]


def load_documents(ledger: Ledger, items: list[Item]) -> dict[str, Document]:
    found = {}
    for item in items:
        doc = ledger.get_document(item.document_id)
        if doc is not None:
            found[doc.id] = doc
    return found


def _safe(name: str) -> str:
    return re.sub(r"[^\w.\- ]+", "-", name).strip() or "document"


def digest_message(
    unit: Unit,
    day: date,
    items: list[Item],
    documents: dict[str, Document],
    contents: dict[str, bytes],
    public_url: str,
) -> EmailMessage:
    """The digest: one paragraph per item, then every attachment (prefixed with its item)."""
    assert unit.email is not None
    msg = EmailMessage()
    msg["To"] = unit.email
    msg["Subject"] = (
        f"Registratura: {len(items)} document(e) repartizate în {day:%d.%m.%Y} — {unit.name}"
    )[:250]
    lines = [
        f"Către: {unit.name}",
        "",
        f"Documentele repartizate de registratură în data de {day:%d.%m.%Y}:",
        "",
    ]
    for item in items:
        doc = documents.get(item.document_id)
        number = item.registration_number or item.document_id
        lines.append(f"• nr. {number} — {item.subject or item.kind} (item {item.id})")
        if doc is not None and doc.due_date:
            lines.append(f"  termen de soluționare: {doc.due_date:%d.%m.%Y}")
        if doc is not None and doc.attachments:
            lines.append(f"  anexe: {', '.join(a.filename for a in doc.attachments)}")
    base = public_url.rstrip("/")
    lines += [
        "",
        f"Confirmați primirea fiecărui document: POST {base}/api/v1/items/<item>/ack",
        "sau returnați-l cu motivarea (…/return), pentru redirecționare în termenul de 5 zile "
        "prevăzut de art. 6¹ din OG nr. 27/2002.",
        "",
        "Registratura Primăriei Municipiului Timișoara",
    ]
    msg.set_content("\n".join(lines) + "\n")
    for item in items:
        doc = documents.get(item.document_id)
        for a in doc.attachments if doc else []:
            content = contents.get(a.sha256)
            if content is None:
                continue
            maintype, _, subtype = a.content_type.partition("/")
            prefix = _safe(item.registration_number or str(item.id))
            msg.add_attachment(
                content,
                maintype=maintype or "application",
                subtype=subtype or "octet-stream",
                filename=f"{prefix} - {a.filename}",
            )
    return msg
