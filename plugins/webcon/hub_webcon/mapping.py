"""A hub document as a WEBCON new element (``5.0.Elements.NewElement``).

The form settings of the document's kind name the workflow, form type, business entity and the
field map; the hub's document id always goes into the correlation field (that is how the
connector finds the element again after an ambiguous failure) and into the comment.
"""

from __future__ import annotations

import base64
from datetime import date, datetime
from typing import Any

from hub.models import AttachmentRef, Document
from hub_webcon.settings import FieldMapping, FormSettings, WebconSettings

__all__ = ["attachment_body", "element_body", "hub_value"]

SINGLE_LINE_MAX = 255


def hub_value(doc: Document, name: str) -> Any:
    """The value of hub field ``name`` (see :data:`hub_webcon.settings.HUB_FIELDS`), or None."""
    sender = doc.sender
    if name.startswith("sender_"):
        if sender is None:
            return None
        attr = name.removeprefix("sender_")
        if attr == "id":
            return sender.cnp or sender.cui
        return getattr(sender, attr, None)
    if name.startswith("metadata_"):
        return doc.metadata.get(name.removeprefix("metadata_"))
    if name == "attachment_count":
        return len(doc.attachments)
    if name == "channel":
        return doc.channel.value
    return getattr(doc, name, None)


def _field(mapping: FieldMapping, value: Any) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    kind = mapping.type
    if kind is None:
        text = value.isoformat() if isinstance(value, date | datetime) else str(value)
        return {"guid": mapping.guid, "svalue": text}
    typed: Any
    if kind in ("DateTime", "Date"):
        if isinstance(value, datetime):
            typed = value.isoformat()
        elif isinstance(value, date):
            typed = f"{value.isoformat()}T00:00:00"
        else:
            typed = str(value)
    elif kind == "Int":
        typed = int(value)
    elif kind == "Decimal":
        typed = float(value)
    elif kind == "Boolean":
        typed = bool(value)
    else:
        typed = str(value)
        if kind == "SingleLine" and len(typed) > SINGLE_LINE_MAX:
            typed = typed[: SINGLE_LINE_MAX - 1] + "…"
    return {"guid": mapping.guid, "type": kind, "value": typed}


def attachment_body(ref: AttachmentRef, content: bytes, group: str | None) -> dict[str, Any]:
    """One attachment as ``ElementAttachment`` / ``NewAttachment`` (base64 content)."""
    body: dict[str, Any] = {
        "name": ref.filename,
        "content": base64.b64encode(content).decode(),
        "description": None,
    }
    if group:
        body["group"] = group
    return body


def element_body(
    doc: Document,
    form: FormSettings,
    settings: WebconSettings,
    attachments: list[tuple[AttachmentRef, bytes]] | None = None,
) -> dict[str, Any]:
    """The ``POST …/elements`` body for ``doc``; ``attachments`` travel inline when given."""
    fields: list[dict[str, Any]] = []
    for hub_field, mapping in form.mappings().items():
        item = _field(mapping, hub_value(doc, hub_field))
        if item is not None:
            fields.append(item)
    if settings.correlation_field_guid:
        fields.append(
            {"guid": settings.correlation_field_guid, "type": "SingleLine", "value": doc.id}
        )
    body: dict[str, Any] = {
        "workflow": {"guid": form.workflow_guid},
        "formType": {"guid": form.form_type_guid},
        "formFields": fields,
        "comments": {
            "newComment": settings.comment_template.format(
                document_id=doc.id, channel=doc.channel.value, kind=doc.kind
            )
        },
    }
    if form.business_entity_guid:
        body["businessEntity"] = {"guid": form.business_entity_guid}
    if attachments:
        group = form.attachment_group or settings.attachment_group
        body["attachments"] = [attachment_body(ref, data, group) for ref, data in attachments]
    return body
