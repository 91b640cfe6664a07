"""``POST /api/v1/documents/{id}/release``: the answer was released to the petitioner ("eliberat").

The body says how (``ghiseu``, ``posta`` or ``email``) and, optionally, when (default: now).
The document's WEBCON element is updated first — the release date and mode fields, a comment,
and a move along ``release.path_guid`` when one is configured (``PATCH …/elements/{id}?path=…``);
only when WEBCON accepted it is the release recorded on the hub's document (``metadata.release``,
status ``released``, an audit event). So the two never disagree: a WEBCON failure answers 503
(retry later: checkout held, WEBCON down) or 502 (WEBCON refused: its description is in the
message), and nothing is recorded. Releasing again answers the first release, unchanged.

A PATCH whose answer is lost (the connection drops after WEBCON applied it) must not be sent
twice: the element would move along the path again, or be refused. So the element is read
first, and read again after an answer that never came; when its release date field is already
set, the release happened in WEBCON and is recorded from there (``reconciled: true``: WEBCON's
date and mode, no second PATCH). Without ``release.date_field_guid`` nothing can be read back,
and a lost answer stays a 503.

Needs a token with the ``operator`` scope.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from hub.api.auth import Principal, require_scope
from hub.errors import AmbiguousError, DeliveryError, PermanentError
from hub_webcon.connector import WebconConnector

__all__ = ["MODE_LABELS", "ReleaseIn", "ReleaseOut", "register_release_route"]

#: Release mode → how WEBCON's staff read it (Romanian).
MODE_LABELS: dict[str, str] = {"ghiseu": "ghișeu", "posta": "poștă", "email": "e-mail"}


class ReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["ghiseu", "posta", "email"] = Field(
        description="How the answer reached the petitioner: at the counter, by post, by e-mail"
    )
    released_at: datetime | None = Field(
        default=None, description="When it was released (ISO 8601); default: now"
    )


class ReleaseOut(BaseModel):
    document_id: str
    registration_number: str | None
    released_at: datetime
    mode: str
    element_id: str
    webcon_status: str | None = Field(description="WEBCON's answer: MovedToNextStep, Saved, …")
    already_released: bool = False
    reconciled: bool = Field(
        default=False,
        description="WEBCON already held this release (an earlier attempt whose answer was "
        "lost, or a release entered in WEBCON): recorded from WEBCON's fields, not sent again",
    )


def _patch_body(connector: WebconConnector, when: datetime, mode: str) -> dict[str, Any]:
    r = connector.settings.release
    fields: list[dict[str, Any]] = []
    if r.date_field_guid:
        fields.append({"guid": r.date_field_guid, "type": "DateTime", "value": when.isoformat()})
    if r.mode_field_guid:
        fields.append({"guid": r.mode_field_guid, "type": "SingleLine", "value": MODE_LABELS[mode]})
    comment = f"Eliberat petentului la {when:%d.%m.%Y} ({MODE_LABELS[mode]})."
    return {"formFields": fields, "comments": {"newComment": comment}}


def _released_in_webcon(
    connector: WebconConnector, element: dict[str, Any]
) -> tuple[datetime | None, str | None] | None:
    """The release an element already holds — its release date field is set — as (its date
    when readable, the mode read back from the mode field when it names one of
    :data:`MODE_LABELS`); None when the element holds no release."""
    r = connector.settings.release
    if not r.date_field_guid:
        return None
    # GUIDs compared without case (as the connector's correlation does); ``svalue`` when a
    # field carries no ``value``.
    values = {
        str(f.get("guid") or "").lower(): f.get("value")
        if f.get("value") not in (None, "")
        else f.get("svalue")
        for f in element.get("formFields") or []
    }
    raw = values.get(r.date_field_guid.lower())
    if raw in (None, ""):
        return None
    label = values.get(r.mode_field_guid.lower()) if r.mode_field_guid else None
    mode = next((m for m, text in MODE_LABELS.items() if text == label), None)
    try:
        when = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return None, mode  # set, in a form not read here: released all the same, date unknown
    return (when if when.tzinfo else when.replace(tzinfo=UTC)), mode


async def _webcon_release(
    connector: WebconConnector, element_id: str
) -> tuple[datetime | None, str | None] | None:
    """Read the element; a WEBCON failure is the caller's 503 or 502."""
    return _released_in_webcon(connector, await connector.client.get_element(element_id))


def register_release_route(router: APIRouter) -> None:
    @router.post(
        "/documents/{document_id}/release",
        response_model=ReleaseOut,
        tags=["documents"],
        summary="Record that the answer was released to the petitioner (eliberat)",
        responses={
            404: {"description": "no such document"},
            409: {"description": "not registered in WEBCON yet"},
            502: {"description": "WEBCON refused the update"},
            503: {"description": "WEBCON unavailable or the element is checked out; retry"},
        },
    )
    async def release(
        document_id: str,
        body: ReleaseIn,
        request: Request,
        principal: Principal = Depends(require_scope("operator")),
    ) -> ReleaseOut:
        hub = request.app.state.hub
        connector = hub.connectors.get(WebconConnector.name)
        if not isinstance(connector, WebconConnector):
            raise HTTPException(404, "the webcon connector is not installed")
        doc = await hub.documents.get(document_id)
        if doc is None:
            raise HTTPException(404, "no such document")
        receipt = await hub.documents.receipt(document_id, WebconConnector.name)
        if not receipt or not receipt.get("remote_id"):
            raise HTTPException(409, "the document is not registered in WEBCON yet")
        element_id = str(receipt["remote_id"])
        previous = doc.metadata.get("release")
        if isinstance(previous, dict) and previous.get("released_at"):
            return ReleaseOut(
                document_id=doc.id,
                registration_number=doc.registration_number,
                released_at=datetime.fromisoformat(previous["released_at"]),
                mode=str(previous.get("mode")),
                element_id=element_id,
                webcon_status=previous.get("webcon_status"),
                already_released=True,
            )
        when = body.released_at or datetime.now(UTC)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        mode: str = body.mode
        status: str | None = None
        try:
            found = await _webcon_release(connector, element_id)
            if found is None:
                try:
                    answer = await connector.client.update_element(
                        element_id,
                        _patch_body(connector, when, body.mode),
                        path=connector.settings.release.path_guid,
                    )
                    status = (answer or {}).get("status")
                except AmbiguousError:
                    # Sent, no answer: WEBCON may have applied it. Its fields say.
                    found = await _webcon_release(connector, element_id)
                    if found is None:
                        raise
        except PermanentError as exc:
            raise HTTPException(502, exc.message) from None
        except DeliveryError as exc:
            headers = {"Retry-After": str(int(exc.retry_after or 30))}
            raise HTTPException(503, exc.message, headers=headers) from None
        if found is not None:
            when, mode = found[0] or when, found[1] or body.mode
        await hub.documents.record_release(
            document_id,
            released_at=when,
            mode=mode,
            actor=principal.actor,
            extra={
                "element_id": element_id,
                "webcon_status": status,
                "reconciled": found is not None,
            },
        )
        return ReleaseOut(
            document_id=doc.id,
            registration_number=doc.registration_number,
            released_at=when,
            mode=mode,
            element_id=element_id,
            webcon_status=status,
            reconciled=found is not None,
        )
