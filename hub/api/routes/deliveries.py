"""``/api/v1/deliveries``: listing (keyset pages), and the operator's replay and cancel.

Every replay or cancel is an event in the audit trail naming the token (``token:<name>``) and
the optional reason. Bulk actions select ids in chunks of :data:`CHUNK` and transition each
chunk in its own transaction, so a replay of 100,000 dead letters never holds one huge lock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Query

from hub.api.auth import Authenticator, Principal
from hub.api.errors import ApiError, error_responses
from hub.api.schemas import ActionIn, BulkResult, DeliveryOut, DeliveryPage, DeliverySelection
from hub.db.ledger import DeliveryFilter
from hub.models import DeliveryState
from hub.runtime import Hub

__all__ = ["deliveries_router"]

CHUNK = 500
Action = Literal["replay", "cancel"]

#: States each action moves deliveries out of (what the ledger accepts).
FROM_STATES: dict[str, tuple[DeliveryState, ...]] = {
    "replay": (DeliveryState.DEAD, DeliveryState.CANCELLED),
    "cancel": (
        DeliveryState.PENDING,
        DeliveryState.WAITING,
        DeliveryState.RETRY_SCHEDULED,
        DeliveryState.DEAD,
    ),
}
DEFAULT_STATES: dict[str, tuple[DeliveryState, ...]] = {
    "replay": (DeliveryState.DEAD,),
    "cancel": FROM_STATES["cancel"],
}
_DONE = {"replay": "replayed", "cancel": "cancelled"}


def deliveries_router(hub: Hub, auth: Authenticator) -> APIRouter:
    router = APIRouter(tags=["deliveries"])
    ledger, runner, dispatcher = hub.ledger, hub.runner, hub.dispatcher

    def transition(action: Action) -> Callable[[Sequence[int], str, str | None], int]:
        return ledger.replay if action == "replay" else ledger.cancel

    @router.get(
        "/deliveries",
        response_model=DeliveryPage,
        summary="List deliveries",
        description="Ordered by id. Pass the answer's `next_after_id` as `after_id` for the "
        "next page.",
        responses=error_responses(401, 403, 422),
    )
    async def list_deliveries(
        state: DeliveryState | None = Query(default=None),
        connector: str | None = Query(default=None, max_length=64),
        limit: int = Query(default=100, ge=1, le=1000),
        after_id: int = Query(default=0, ge=0),
        _: Principal = Depends(auth.require("read")),
    ) -> dict[str, Any]:
        items = await runner.read(
            ledger.list_deliveries,
            state=state.value if state else None,
            connector=connector,
            limit=limit,
            after_id=after_id,
        )
        more = len(items) == limit
        return {"items": items, "next_after_id": items[-1]["id"] if more else None}

    @router.get(
        "/deliveries/{delivery_id}",
        response_model=DeliveryOut,
        summary="One delivery",
        responses=error_responses(401, 403, 404),
    )
    async def get_delivery(
        delivery_id: int, _: Principal = Depends(auth.require("read"))
    ) -> dict[str, Any]:
        row = await runner.read(ledger.get_delivery, delivery_id)
        if row is None:
            raise ApiError(404, "delivery not found")
        return row

    async def act_on_one(
        action: Action, delivery_id: int, principal: Principal, reason: str | None
    ) -> dict[str, Any]:
        row = await runner.read(ledger.get_delivery, delivery_id)
        if row is None:
            raise ApiError(404, "delivery not found")
        changed = await runner.write(transition(action), [delivery_id], principal.actor, reason)
        row = await runner.read(ledger.get_delivery, delivery_id) or row
        if not changed:
            allowed = ", ".join(s.value for s in FROM_STATES[action])
            raise ApiError(
                409,
                f"delivery {delivery_id} is {row['state']}: only {allowed} can be {_DONE[action]}",
                code="invalid_state",
            )
        dispatcher.wake(row["connector"])
        return row

    async def act_on_many(action: Action, sel: DeliverySelection, principal: Principal) -> int:
        states = tuple(sel.states) if sel.states else DEFAULT_STATES[action]
        wrong = [s.value for s in states if s not in FROM_STATES[action]]
        if wrong:
            raise ApiError(
                422,
                f"states {wrong} cannot be {_DONE[action]}",
                errors=[{"loc": ["body", "states"], "msg": "state not allowed for this action"}],
            )
        flt = DeliveryFilter(
            ids=sel.ids,
            connector=sel.connector,
            states=[s.value for s in states],
            since=sel.since.timestamp() if sel.since else None,
            until=sel.until.timestamp() if sel.until else None,
            reason_contains=sel.reason_contains,
        )
        fn = transition(action)
        total = 0
        while True:
            ids = await runner.read(ledger.select_delivery_ids, flt, CHUNK)
            if not ids:
                break
            changed = await runner.write(fn, ids, principal.actor, sel.reason)
            total += changed
            if len(ids) < CHUNK or not changed:
                break
        if total:
            dispatcher.wake(sel.connector)
        return total

    one_errors = error_responses(401, 403, 404, 409, 422)
    many_errors = error_responses(401, 403, 422)

    @router.post(
        "/deliveries/{delivery_id}/replay",
        response_model=DeliveryOut,
        summary="Replay a dead or cancelled delivery",
        responses=one_errors,
    )
    async def replay_one(
        delivery_id: int,
        body: ActionIn | None = Body(default=None),
        principal: Principal = Depends(auth.require("operator")),
    ) -> dict[str, Any]:
        return await act_on_one("replay", delivery_id, principal, body.reason if body else None)

    @router.post(
        "/deliveries/{delivery_id}/cancel",
        response_model=DeliveryOut,
        summary="Cancel a delivery that has not been delivered",
        responses=one_errors,
    )
    async def cancel_one(
        delivery_id: int,
        body: ActionIn | None = Body(default=None),
        principal: Principal = Depends(auth.require("operator")),
    ) -> dict[str, Any]:
        return await act_on_one("cancel", delivery_id, principal, body.reason if body else None)

    @router.post(
        "/deliveries/replay",
        response_model=BulkResult,
        summary="Replay every delivery matching a filter",
        responses=many_errors,
    )
    async def replay_many(
        selection: DeliverySelection, principal: Principal = Depends(auth.require("operator"))
    ) -> dict[str, Any]:
        return {"action": "replay", "count": await act_on_many("replay", selection, principal)}

    @router.post(
        "/deliveries/cancel",
        response_model=BulkResult,
        summary="Cancel every delivery matching a filter",
        responses=many_errors,
    )
    async def cancel_many(
        selection: DeliverySelection, principal: Principal = Depends(auth.require("operator"))
    ) -> dict[str, Any]:
        return {"action": "cancel", "count": await act_on_many("cancel", selection, principal)}

    return router
