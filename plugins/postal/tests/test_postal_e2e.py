"""End to end: a real hub (intake → ledger → dispatcher → postal connector → simulated courier
over HTTP on 127.0.0.1 → tracking source → proof of delivery on the document)."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import Any

from hub_postal.simulator import CourierSimulator
from hub_postal.tables import postal_dispatches
from postal_helpers import addressee, api_client, registered_document, settled
from pypdf import PdfReader
from sqlalchemy import func, select
from structlog.testing import capture_logs

from hub.db.schema import deliveries
from hub.runtime import Hub
from hub.testing.hubrun import dispatching

TRACKING = "postal-tracking"


async def poll(hub: Hub) -> None:
    await hub.source_runner.poll_once(TRACKING, hub.sources[TRACKING])


async def count(hub: Hub, table: Any) -> int:
    def read() -> int:
        with hub.ledger.reader.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)

    return await hub.runner.read(read)


async def courier_flow(
    hub: Hub, courier_sim: CourierSimulator
) -> tuple[dict[str, Any], dict[str, Any], str, str]:
    """Request → AWB → tracking → delivered with proof; returns the final view."""
    async with dispatching(hub):
        doc_id = await registered_document(hub)
        doc = await hub.documents.get(doc_id)
        assert doc is not None and doc.registration_number
        async with api_client(hub, "intake", "read") as api:
            answer = await api.post(
                "/api/v1/dispatches",
                json={
                    "registration_number": doc.registration_number,
                    "addressee": addressee(contact_person="Ana Semnatar-Test"),
                    "service": "courier_pod",
                    "department": "URB",
                    "attachments": [
                        {
                            "filename": "raspuns.pdf",
                            "content_type": "application/pdf",
                            "content_base64": base64.b64encode(b"%PDF-1.4 raspuns").decode(),
                        }
                    ],
                },
            )
            assert answer.status_code == 201, answer.text
            dispatch = answer.json()
            assert dispatch["state"] == "requested" and dispatch["document_id"] == doc_id
            assert "Destinatar" not in answer.text  # addressee masked without the pii scope
            printed = await api.get(f"/api/v1/dispatches/{dispatch['id']}/attachments/0")
            assert printed.content == b"%PDF-1.4 raspuns"
            assert printed.headers["content-type"] == "application/pdf"
            delivery = await settled(hub, doc_id, "postal")
            assert delivery["state"] == "delivered", delivery["last_error"]
            (awb,) = courier_sim.shipments
            assert delivery["receipt"]["remote_id"] == awb
            shipment = courier_sim.shipments[awb]
            assert shipment.content == delivery["idempotency_key"]
            assert shipment.options == ["X"]  # signed proof returned to sender
            assert shipment.recipient["address"]["county"] == "Timiș"

            # The courier picks it up, carries it, delivers it; tracking follows.
            courier_sim.advance(awb, 2)
            await poll(hub)
            view = (await api.get(f"/api/v1/dispatches/{dispatch['id']}")).json()
            assert view["state"] == "in_transit" and view["tracking_number"] == awb
            courier_sim.advance(awb, 2)
            await poll(hub)
            await poll(hub)  # the next round confirms the proof document in the ledger
            view = (await api.get(f"/api/v1/dispatches/{dispatch['id']}")).json()
    return view, dispatch, doc_id, awb


async def test_courier_dispatch_to_proof_on_the_document(
    postal_hub: Callable[..., Hub], courier_sim: CourierSimulator
) -> None:
    hub = postal_hub()
    with capture_logs() as logs:
        view, dispatch, doc_id, awb = await courier_flow(hub, courier_sim)
    personal = ["Ana Destinatar-Test", "Ana Semnatar-Test", "Vasile Alecsandri", "0722111222"]
    assert not [p for p in personal if p in repr(logs)]
    assert any(e["event"] == "hub_postal.awb_created" for e in logs)
    assert view["state"] == "delivered"
    codes = [e["code"] for e in view["events"]]
    assert codes[:2] == ["REQ", "AWB"] and [c for c in codes if c in ("C0", "H10", "S1", "S2")] == [
        "C0",
        "H10",
        "S1",
        "S2",
    ]
    assert "signer" not in (view["outcome"] or {})
    proof_id = view["outcome"]["proof_document_id"]
    answered = await hub.documents.get(doc_id)
    assert answered is not None
    record = answered.metadata["postal"][dispatch["id"]]
    assert record["outcome"] == "delivered" and record["tracking_number"] == awb
    assert record["proof_document_id"] == proof_id
    proof = await hub.documents.get(proof_id)
    assert proof is not None
    assert proof.kind == "confirmare_primire" and proof.channel == "posta"
    assert proof.metadata["postal"]["answers_document_id"] == doc_id
    assert proof.sender is not None and proof.sender.name == "Ana Semnatar-Test"
    (attachment,) = proof.attachments
    content = await hub.documents.attachment_content(attachment.sha256)
    assert content is not None
    text = PdfReader(io.BytesIO(content)).pages[0].extract_text()
    assert "Confirmare de livrare" in text and "Ana Semnatar-Test" in text
    # The proof went through routing like any document: it has its own deliveries.
    assert [d["connector"] for d in await hub.runner.read(hub.ledger.deliveries_of, proof_id)] == [
        "registrar"
    ]


async def test_bad_addresses_answer_422_and_store_nothing(
    postal_hub: Callable[..., Hub],
) -> None:
    hub = postal_hub()
    async with dispatching(hub):
        doc_id = await registered_document(hub)
        before = await count(hub, deliveries)
        async with api_client(hub, "intake") as api:
            cases = {
                ("addressee", "address", "county"): addressee(
                    address={**addressee()["address"], "county": "Atlantida"}
                ),
                ("addressee", "address", "postal_code"): addressee(
                    address={**addressee()["address"], "postal_code": "30007"}
                ),
                ("addressee", "address", "street"): addressee(
                    address={**addressee()["address"], "street": "S" * 5000}
                ),
            }
            for loc, bad in cases.items():
                answer = await api.post(
                    "/api/v1/dispatches",
                    json={"document_id": doc_id, "addressee": bad, "service": "courier_pod"},
                )
                assert answer.status_code == 422, answer.text
                locs = [tuple(e["loc"][1:]) for e in answer.json()["error"]["errors"]]
                assert loc in locs
                assert "Atlantida" not in answer.text and "SSSSSSSS" not in answer.text
            unknown = await api.post(
                "/api/v1/dispatches",
                json={"document_id": "nope", "addressee": addressee(), "service": "simple_letter"},
            )
            assert unknown.status_code == 422
            assert unknown.json()["error"]["errors"][0]["loc"] == ["document_id"]
    assert await count(hub, postal_dispatches) == 0
    assert await count(hub, deliveries) == before


async def test_courier_refusal_dead_letters_with_field_paths_only(
    postal_hub: Callable[..., Hub], courier_sim: CourierSimulator
) -> None:
    hub = postal_hub(courier_service="")  # misconfigured: the courier refuses the shipment
    async with dispatching(hub):
        doc_id = await registered_document(hub)
        async with api_client(hub, "intake") as api:
            no_phone = await api.post(
                "/api/v1/dispatches",
                json={
                    "document_id": doc_id,
                    "addressee": addressee(phone=""),
                    "service": "courier_pod",
                },
            )
            assert no_phone.status_code == 422
            assert "phone" in no_phone.json()["error"]["message"]
            answer = await api.post(
                "/api/v1/dispatches",
                json={"document_id": doc_id, "addressee": addressee(), "service": "courier_pod"},
            )
            assert answer.status_code == 201
        delivery = await settled(hub, doc_id, "postal")
    assert delivery["state"] == "dead"
    assert "info.service" in delivery["last_error"]
    assert "Ana" not in delivery["last_error"]
    assert courier_sim.shipments == {}


async def test_lost_answer_is_reconciled_not_duplicated(
    postal_hub: Callable[..., Hub], courier_sim: CourierSimulator
) -> None:
    courier_sim.fault("drop_after_commit", "create")
    hub = postal_hub()
    async with dispatching(hub):
        doc_id = await registered_document(hub)
        async with api_client(hub, "intake") as api:
            answer = await api.post(
                "/api/v1/dispatches",
                json={"document_id": doc_id, "addressee": addressee(), "service": "courier_pod"},
            )
            assert answer.status_code == 201
        delivery = await settled(hub, doc_id, "postal")
    assert delivery["state"] == "delivered"
    assert len(courier_sim.shipments) == 1 and courier_sim.requests["create"] == 1
    assert delivery["receipt"]["data"]["reconciled"] is True
    assert delivery["receipt"]["remote_id"] == next(iter(courier_sim.shipments))


async def test_expired_token_is_renewed(
    postal_hub: Callable[..., Hub], courier_sim: CourierSimulator
) -> None:
    hub = postal_hub()
    async with dispatching(hub):
        first = await registered_document(hub)
        second = await registered_document(hub)
        async with api_client(hub, "intake") as api:
            await api.post(
                "/api/v1/dispatches",
                json={"document_id": first, "addressee": addressee(), "service": "courier_pod"},
            )
            assert (await settled(hub, first, "postal"))["state"] == "delivered"
            courier_sim.expire_tokens()
            await api.post(
                "/api/v1/dispatches",
                json={"document_id": second, "addressee": addressee(), "service": "courier_pod"},
            )
            assert (await settled(hub, second, "postal"))["state"] == "delivered"
    assert courier_sim.requests["login"] == 2
    assert len(courier_sim.shipments) == 2


async def test_idempotency_key_answers_the_same_dispatch(
    postal_hub: Callable[..., Hub],
) -> None:
    hub = postal_hub()
    async with dispatching(hub):
        doc_id = await registered_document(hub)
        body = {"document_id": doc_id, "addressee": addressee(), "service": "registered_ar"}
        async with api_client(hub, "intake") as api:
            headers = {"Idempotency-Key": "dispatch-1"}
            first = await api.post("/api/v1/dispatches", json=body, headers=headers)
            again = await api.post("/api/v1/dispatches", json=body, headers=headers)
            other = await api.post(
                "/api/v1/dispatches", json={**body, "service": "simple_letter"}, headers=headers
            )
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 409)
    assert first.json()["id"] == again.json()["id"]
    assert await count(hub, postal_dispatches) == 1
