"""``POST /api/v1/documents/{id}/release``: the answer was released to the petitioner ("eliberat").

The body says how (``ghiseu``, ``posta`` or ``email``) and, optionally, when (default: now).
The document's WEBCON element is updated first — the release date and mode fields, a comment,
and a move along ``release.path_guid`` when one is configured (``PATCH …/elements/{id}?path=…``);
only when WEBCON accepted it is the release recorded on the hub's document (``metadata.release``,
status ``released``, an audit event). So the two never disagree: a WEBCON failure answers 503
(retry later: checkout held, WEBCON down) or 502 (WEBCON refused: its description is in the
message), and nothing is recorded. Releasing again answers the first release, unchanged.

Needs a token with the ``operator`` scope.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from hub.api.auth import Principal, require_scope
from hub.errors import DeliveryError, PermanentError
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


def _patch_body(connector: WebconConnector, when: datetime, mode: str) -> dict[str, Any]:
    r = connector.settings.release
    fields: list[dict[str, Any]] = []
    if r.date_field_guid:
        fields.append({"guid": r.date_field_guid, "type": "DateTime", "value": when.isoformat()})
    if r.mode_field_guid:
        fields.append({"guid": r.mode_field_guid, "type": "SingleLine", "value": MODE_LABELS[mode]})
    comment = f"Eliberat petentului la {when:%d.%m.%Y} ({MODE_LABELS[mode]})."
    return {"formFields": fields, "comments": {"newComment": comment}}


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
        try:
            answer = await connector.client.update_element(
                element_id,
                _patch_body(connector, when, body.mode),
                path=connector.settings.release.path_guid,
            )
        except PermanentError as exc:
            raise HTTPException(502, exc.message) from None
        except DeliveryError as exc:
            headers = {"Retry-After": str(int(exc.retry_after or 30))}
            raise HTTPException(503, exc.message, headers=headers) from None
        status = (answer or {}).get("status")
        await hub.documents.record_release(
            document_id,
            released_at=when,
            mode=body.mode,
            actor=principal.actor,
            extra={"element_id": element_id, "webcon_status": status},
        )
        return ReleaseOut(
            document_id=doc.id,
            registration_number=doc.registration_number,
            released_at=when,
            mode=body.mode,
            element_id=element_id,
            webcon_status=status,
        )
