"""Tracking: event codes mapped to states, batched requests, refused and returned shipments,
stuck shipments flagged once per stay."""

from __future__ import annotations

from collections.abc import Callable

from hub_postal.simulator import CourierSimulator
from postal_helpers import addressee, api_client, registered_document, settled
from structlog.testing import capture_logs

from hub.runtime import Hub
from hub.testing.hubrun import dispatching

TRACKING = "postal-tracking"


async def poll(hub: Hub) -> None:
    await hub.source_runner.poll_once(TRACKING, hub.sources[TRACKING])


async def courier_dispatches(hub: Hub, n: int) -> list[str]:
    ids = []
    async with api_client(hub, "intake") as api:
        for _ in range(n):
            doc_id = await registered_document(hub)
            answer = await api.post(
                "/api/v1/dispatches",
                json={"document_id": doc_id, "addressee": addressee(), "service": "courier_pod"},
            )
            assert answer.status_code == 201, answer.text
            assert (await settled(hub, doc_id, "postal"))["state"] == "delivered"
            ids.append(answer.json()["id"])
    return ids


async def test_refused_and_returned_end_without_a_signed_proof(
    postal_hub: Callable[..., Hub], courier_sim: CourierSimulator
) -> None:
    courier_sim.outcomes = ["refused", "returned", "delivered", "lost"]
    hub = postal_hub(tracking={"batch_size": 2})
    async with dispatching(hub):
        ids = await courier_dispatches(hub, 4)
        lost_id = ids.pop()
        courier_sim.advance(steps=10)
        courier_sim.requests.clear()
        await poll(hub)
        assert courier_sim.requests["track"] == 2  # 4 AWBs in batches of 2
        await poll(hub)
        await poll(hub)
        async with api_client(hub, "read") as api:
            views = [(await api.get(f"/api/v1/dispatches/{i}")).json() for i in ids]
            lost = (await api.get(f"/api/v1/dispatches/{lost_id}")).json()
    assert [v["state"] for v in views] == ["refused", "returned", "delivered"]
    refused, returned, delivered = views
    assert courier_sim.requests["proof"] == 1  # only the delivered one has a signed proof
    for view in (refused, returned, delivered):
        proof = await hub.documents.get(view["outcome"]["proof_document_id"])
        assert proof is not None and proof.metadata["postal"]["outcome"] == view["state"]
    refused_proof = await hub.documents.get(refused["outcome"]["proof_document_id"])
    assert refused_proof is not None and refused_proof.attachments == []
    assert "refuzat" in refused_proof.body
    answered = await hub.documents.get(refused["document_id"])
    assert answered is not None
    assert answered.metadata["postal"][refused["id"]]["outcome"] == "refused"
    assert lost["state"] == "lost" and lost["outcome"]["closed"] is True
    lost_doc = await hub.documents.get(lost["document_id"])
    assert lost_doc is not None
    assert lost_doc.metadata["postal"][lost_id]["outcome"] == "lost"
    assert lost_doc.metadata["postal"][lost_id]["proof_document_id"] is None


async def test_stuck_shipment_flagged_once_per_stay(
    postal_hub: Callable[..., Hub], courier_sim: CourierSimulator
) -> None:
    hub = postal_hub(tracking={"stuck_after_hours": 1})
    async with dispatching(hub):
        (dispatch_id,) = await courier_dispatches(hub, 1)
        courier_sim.advance(steps=1)
        await poll(hub)  # picked up
        clock = hub.ledger.clock
        hub.ledger.clock = lambda: clock() + 2 * 3600  # two hours later, nothing moved
        with capture_logs() as logs:
            await poll(hub)
            await poll(hub)
            await poll(hub)
        stuck = [e for e in logs if e["event"] == "hub_postal.shipment_stuck"]
        assert len(stuck) == 1 and stuck[0]["state"] == "picked_up"
        assert "Ana" not in repr(logs)
        async with api_client(hub, "read") as api:
            view = (await api.get(f"/api/v1/dispatches/{dispatch_id}")).json()
        assert view["stuck"] is True
        async with api_client(hub, "read") as api:
            listed = (await api.get("/api/v1/dispatches", params={"stuck": "true"})).json()
            fine = (await api.get("/api/v1/dispatches", params={"stuck": "false"})).json()
        assert [d["id"] for d in listed] == [dispatch_id] and fine == []
        assert [e["code"] for e in view["events"]].count("STUCK") == 1
        timeline = await hub.runner.read(hub.ledger.timeline, view["document_id"])
        assert [e["action"] for e in timeline["events"]].count("postal_stuck") == 1
        # It moves on: the flag is cleared, and a new long stay is flagged again.
        courier_sim.advance(steps=1)
        await poll(hub)
        async with api_client(hub, "read") as api:
            moved = (await api.get(f"/api/v1/dispatches/{dispatch_id}")).json()
        assert moved["state"] == "in_transit" and moved["stuck"] is False
        hub.ledger.clock = lambda: clock() + 5 * 3600
        await poll(hub)
        async with api_client(hub, "read") as api:
            again = (await api.get(f"/api/v1/dispatches/{dispatch_id}")).json()
        assert [e["code"] for e in again["events"]].count("STUCK") == 2


async def test_tracking_failure_fails_the_round(
    postal_hub: Callable[..., Hub], courier_sim: CourierSimulator
) -> None:
    hub = postal_hub()
    async with dispatching(hub):
        (dispatch_id,) = await courier_dispatches(hub, 1)
        courier_sim.fault("status", "track", status=503)
        courier_sim.advance(steps=4)
        await poll(hub)
        states = await hub.runner.read(hub.ledger.source_states)
        mine = next(s for s in states if s["source"] == TRACKING)
        assert mine["last_error"] and "503" in mine["last_error"]
        await poll(hub)  # the fault fired once: the next round catches up
        async with api_client(hub, "read") as api:
            view = (await api.get(f"/api/v1/dispatches/{dispatch_id}")).json()
    assert view["state"] == "delivered"
