"""``/api/v1/items``: what units received, acknowledged, sent back; the registry re-routes.

Two kinds of callers:

* a **unit token** (scope ``unit``, bound to one unit: ``hub token create --scope unit --unit
  DJ``) sees and acts on its own items only. Any other unit's item answers 404, exactly like an
  item that does not exist, so a unit cannot even learn which ids are taken;
* the **registry** (``read`` to look, ``operator`` to re-route) sees every unit's items; the
  returned ones (``?status=returned``) are its queue for re-routing.

An item is a delivery to a unit (see :mod:`hub.items`); its id is the delivery's id. Every step
is an audit event whose actor is the unit (``unit:DJ``) or the registry's token.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from hub.api.auth import Authenticator, Principal
from hub.api.errors import ApiError, error_responses
from hub.items import Item, ItemConflict, ItemStore, unit_connector
from hub.links import LinkError, verify_link
from hub.runtime import Hub
from hub.units import load_units

__all__ = ["attachment_links_router", "items_router"]

ItemStatus = Literal["pending", "queued", "delivered", "acknowledged", "returned", "rerouted"]


class ReturnBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(
        min_length=3, max_length=1000, description="Why the unit is not competent (kept verbatim)"
    )


class RerouteBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    unit: str = Field(pattern=r"^[A-Z0-9][A-Z0-9_-]{0,31}$", description="The competent unit")


def _actor(principal: Principal) -> str:
    """Audit actor: the unit itself for unit tokens (``unit:DJ``), the token otherwise."""
    return f"unit:{principal.unit}" if principal.unit else principal.actor


def items_router(hub: Hub, auth: Authenticator) -> APIRouter:
    router = APIRouter(tags=["items"])
    units = load_units(hub.settings.units_file)
    store = ItemStore(hub.ledger, units)
    runner = hub.runner

    async def caller(principal: Principal = Depends(auth.require(None))) -> Principal:
        """A unit token bound to a unit, or a token that may read everything. A dependency,
        so a token without either is refused (403) before the request is validated."""
        if principal.has("unit") and principal.unit:
            return principal
        if principal.has("read"):
            return principal
        raise ApiError(403, "this token lacks the 'unit' or 'read' scope")

    async def acting(principal: Principal = Depends(caller)) -> Principal:
        """The unit's own token, or an operator acting for the registry (a dependency too)."""
        _require_unit_or_operator(principal)
        return principal

    async def visible(principal: Principal, item_id: int) -> Item:
        item = await runner.read(store.get, item_id)
        if item is None or (principal.unit is not None and item.unit != principal.unit):
            raise ApiError(404, "item not found")
        return item

    @router.get(
        "/items",
        summary="Items delivered to units",
        description="A unit token sees its own unit's items (`unit` may be omitted; another "
        "unit is 404). The registry (`read`) sees every unit's; `status=returned` is its "
        "queue for re-routing.",
        responses=error_responses(401, 403, 404, 422),
    )
    async def list_items(
        unit: str | None = Query(default=None, max_length=32),
        status: ItemStatus | None = Query(default=None),
        after_id: int = Query(default=0, ge=0),
        limit: int = Query(default=100, ge=1, le=500),
        principal: Principal = Depends(caller),
    ) -> list[dict[str, Any]]:
        if principal.unit is not None:
            if unit is not None and unit != principal.unit:
                raise ApiError(404, "unit not found")
            unit = principal.unit
        elif unit is not None and unit not in units:
            raise ApiError(404, "unit not found")
        found = await runner.read(
            store.list_items, unit=unit, status=status, after_id=after_id, limit=limit
        )
        return [i.view() for i in found]

    @router.get(
        "/items/{item_id}",
        summary="One item",
        responses=error_responses(401, 403, 404),
    )
    async def get_item(item_id: int, principal: Principal = Depends(caller)) -> dict[str, Any]:
        return (await visible(principal, item_id)).view()

    @router.post(
        "/items/{item_id}/ack",
        summary="Acknowledge an item (the receiving unit)",
        description="Idempotent: acknowledging again answers the first acknowledgment. 409 "
        "when the item is not delivered yet, or was returned.",
        responses=error_responses(401, 403, 404, 409),
    )
    async def acknowledge(item_id: int, principal: Principal = Depends(acting)) -> dict[str, Any]:
        await visible(principal, item_id)
        try:
            item, _ = await runner.write(store.acknowledge, item_id, _actor(principal))
        except ItemConflict as exc:
            raise ApiError(409, str(exc)) from None
        return item.view()

    @router.post(
        "/items/{item_id}/return",
        summary="Send an item back as not competent",
        description="The document goes back to the registry's queue for re-routing, and the "
        "5-day redirection term of OG 27/2002 art. 6¹ starts (`redirect_due`).",
        responses=error_responses(401, 403, 404, 409, 422),
    )
    async def return_item(
        item_id: int, body: ReturnBody, principal: Principal = Depends(acting)
    ) -> dict[str, Any]:
        await visible(principal, item_id)
        try:
            item = await runner.write(store.return_item, item_id, _actor(principal), body.reason)
        except ItemConflict as exc:
            raise ApiError(409, str(exc)) from None
        return item.view()

    @router.post(
        "/items/{item_id}/reroute",
        summary="Send a returned item to the competent unit (the registry)",
        description="Needs `operator`. Creates a delivery to the unit (its webhook, or e-mail "
        "when it has none) and records whether the 5-day term was kept.",
        responses=error_responses(401, 403, 404, 409, 422),
    )
    async def reroute(
        item_id: int,
        body: RerouteBody,
        principal: Principal = Depends(auth.require("operator")),
    ) -> dict[str, Any]:
        target = units.get(body.unit)
        if target is None:
            raise ApiError(
                422,
                f"no unit {body.unit!r} in the units file",
                errors=[{"loc": ["body", "unit"], "msg": "unknown unit"}],
            )
        connector, _ = unit_connector(target)
        if connector not in hub.connectors:
            raise ApiError(
                409, f"unit {target.code} is reached by the {connector!r} connector, not loaded"
            )
        if await runner.read(store.get, item_id) is None:
            raise ApiError(404, "item not found")
        try:
            item, delivery_id = await runner.write(
                store.reroute, item_id, target, _actor(principal)
            )
        except ItemConflict as exc:
            raise ApiError(409, str(exc)) from None
        hub.dispatcher.wake()
        return item.view() | {"new_item_id": delivery_id}

    return router


def attachment_links_router(hub: Hub) -> APIRouter:
    """``GET /files/{sha256}?expires=&sig=``: an attachment by signed link, outside ``/api``
    because the link itself is the authorisation (no bearer token; see :mod:`hub.links`)."""
    router = APIRouter(tags=["items"])
    runner = hub.runner

    @router.get(
        "/files/{sha256}",
        summary="An attachment by signed link (no token)",
        description="The link is issued by a connector that sends attachments by reference "
        "(`HUB_DOWNLOAD_LINK_SECRET`); the signature is the authorisation and lapses at "
        "`expires`. 403 for a forged, altered or expired link.",
        responses=error_responses(403, 404, 422),
        response_class=Response,
    )
    async def download(
        sha256: str = Path(pattern=r"^[0-9a-f]{64}$"),
        expires: int = Query(ge=0),
        sig: str = Query(min_length=64, max_length=64),
    ) -> Response:
        secret = hub.settings.download_link_secret
        if secret is None:
            raise ApiError(404, "signed links are not enabled on this hub")
        try:
            verify_link(secret.get_secret_value(), sha256, expires, sig)
        except LinkError as exc:
            raise ApiError(403, f"this download link is not valid ({exc})") from None
        content = await runner.read(hub.ledger.attachment_content, sha256)
        if content is None:
            raise ApiError(404, "attachment not found")
        return Response(
            content,
            media_type="application/octet-stream",
            headers={"Cache-Control": "private, no-store", "X-Content-SHA256": sha256},
        )

    return router


def _require_unit_or_operator(principal: Principal) -> None:
    """Acting for a unit takes the unit's own token, or an operator acting for the registry."""
    if principal.unit is None and not principal.has("operator"):
        raise ApiError(403, "acting on an item needs the unit's token or the 'operator' scope")
