"""The HTTP API's intake and document reads, against a real uvicorn server on 127.0.0.1.

Each test serves ``create_app(make_hub(...))`` for real and talks to it with httpx; the
end-to-end test runs the hub's workers beside it so a posted document is actually delivered.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from hub.api.schemas import DocumentDetail, DocumentOut
from hub.db.schema import events
from hub.testing.factories import valid_cnp
from tests.fixtures import MakeHub
from tests.servers import ApiHarness, running_api, running_workers, until

NAME = "Ion Popescu-Test"
EMAIL = "ion.popescu-test@example.test"
PHONE = "0722000901"


def document(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "source": "api",
        "external_id": f"t-{uuid.uuid4().hex[:12]}",
        "channel": "ghiseu",
        "kind": "petitie",
        "subject": "Sesizare privind iluminatul public",
        "body": "Vă rog să remediați iluminatul public de pe strada noastră.",
        "sender": {
            "type": "pf",
            "name": NAME,
            "cnp": valid_cnp(),
            "email": EMAIL,
            "phone": PHONE,
            "address": "Strada Exemplului nr. 1, Timișoara",
        },
        "attachments": [
            {
                "filename": "sesizare.pdf",
                "content_type": "application/pdf",
                "content_base64": base64.b64encode(b"%PDF-1.4 test\n").decode(),
            }
        ],
        "metadata": {"ghiseu": 3},
    }
    doc.update(overrides)
    return doc


def wrong_check_digit(cnp: str) -> str:
    return cnp[:12] + str((int(cnp[12]) + 1) % 10)


@pytest.fixture
async def api(make_hub: MakeHub) -> AsyncIterator[ApiHarness]:
    async with running_api(make_hub()) as harness:
        yield harness


async def count_documents(api: ApiHarness) -> int:
    return await api.hub.runner.read(api.hub.ledger.count_documents)


# --- intake ---------------------------------------------------------------------------------------


async def test_post_creates_document_with_location_and_masked_sender(api: ApiHarness) -> None:
    doc = document()
    r = await api.post_document(doc)

    assert r.status_code == 201, r.text
    body = r.json()
    DocumentOut.model_validate(body)
    assert r.headers["location"] == f"/api/v1/documents/{body['id']}"
    assert body["external_id"] == doc["external_id"]
    assert body["kind"] == "petitie"
    assert body["attachments"][0]["size"] == len(b"%PDF-1.4 test\n")
    assert body["sender"]["type"] == "pf"
    assert body["sender"]["cnp"].endswith(doc["sender"]["cnp"][-2:])
    for value in (doc["sender"]["cnp"], NAME, EMAIL, PHONE):
        assert value not in r.text
    assert body["created_at"].endswith("Z")

    # The answer built from the prepared row is the document the ledger now holds.
    got = await api.get(r.headers["location"])
    assert got.status_code == 200
    stored = got.json()
    for key in DocumentOut.model_fields:
        assert stored[key] == body[key], key


async def test_intake_is_served_by_the_plain_asgi_endpoint(api: ApiHarness) -> None:
    # The route that takes the load skips FastAPI's request handling (docs/performance.md);
    # the FastAPI route behind it only describes it. Routes are matched in order.
    from starlette.routing import Match

    from hub.api.routes.documents import AsgiEndpoint

    scope = {"type": "http", "method": "POST", "path": "/api/v1/documents", "root_path": ""}
    serving = next(r for r in api.app.router.routes if r.matches(scope)[0] is Match.FULL)
    assert isinstance(getattr(serving, "app", None), AsgiEndpoint)
    # Other methods on the same path still reach the FastAPI routes (search).
    get = {**scope, "method": "GET"}
    searching = next(r for r in api.app.router.routes if r.matches(get)[0] is Match.FULL)
    assert not isinstance(getattr(searching, "app", None), AsgiEndpoint)
    assert (await api.get("/api/v1/documents", kind="petitie")).status_code == 200


async def test_replay_and_idempotency_key(api: ApiHarness) -> None:
    doc = document()
    first = await api.post_document(doc, key="key-1")
    assert first.status_code == 201
    doc_id = first.json()["id"]

    again = await api.post_document(doc, key="key-1")
    assert again.status_code == 200
    assert again.json()["id"] == doc_id
    assert "location" not in again.headers

    # Same source + external_id without a key: the same document too.
    dedup = await api.post_document(doc)
    assert dedup.status_code == 200
    assert dedup.json()["id"] == doc_id

    # The key reused for another document: 409, nothing written.
    before = await count_documents(api)
    other = await api.post_document(document(), key="key-1")
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_conflict"
    # Same source + external_id with a different content: 409 as well.
    changed = await api.post_document({**doc, "subject": "Alt subiect"})
    assert changed.status_code == 409
    assert await count_documents(api) == before


async def test_overlong_idempotency_key_is_422(api: ApiHarness) -> None:
    r = await api.post_document(document(), key="k" * 201)
    assert r.status_code == 422
    assert r.json()["error"]["errors"][0]["loc"] == ["header", "idempotency-key"]
    assert "k" * 201 not in r.text
    assert await count_documents(api) == 0


async def test_concurrent_duplicates_create_one_document(api: ApiHarness) -> None:
    doc = document()
    answers = await asyncio.gather(*(api.post_document(doc) for _ in range(12)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 11 + [201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert await count_documents(api) == 1


async def test_invalid_cnp_is_422_with_path_and_never_echoed(api: ApiHarness) -> None:
    bad = wrong_check_digit(valid_cnp(serial=457))
    doc = document()
    doc["sender"]["cnp"] = bad

    r = await api.post_document(doc)

    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "invalid_document"
    assert ["sender", "cnp"] in [e["loc"] for e in err["errors"]]
    assert "sender.cnp" in err["message"]
    assert bad not in r.text
    assert bad[:12] not in r.text  # not even the digits before the check digit
    for value in (NAME, EMAIL, PHONE):
        assert value not in r.text
    assert await count_documents(api) == 0


async def test_many_invalid_fields_each_named_without_values(api: ApiHarness) -> None:
    doc = document(channel="porumbel", external_id="", kind="Not A Kind")
    doc["sender"]["email"] = "ion.popescu-test-at-example"
    r = await api.post_document(doc)
    assert r.status_code == 422
    locs = {tuple(e["loc"]) for e in r.json()["error"]["errors"]}
    assert {("channel",), ("external_id",), ("kind",), ("sender", "email")} <= locs
    assert "porumbel" not in r.text
    assert "ion.popescu-test-at-example" not in r.text
    assert "Not A Kind" not in r.text


async def test_malformed_json_is_422(api: ApiHarness) -> None:
    r = await api.client.post(
        "/api/v1/documents",
        content=b'{"external_id": "x", "subject": ',
        headers={**api.auth("intake"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_document"


async def test_unsupported_media_types_are_415(api: ApiHarness) -> None:
    doc = document()
    r = await api.client.post(
        "/api/v1/documents",
        content=b"external_id=x",
        headers={**api.auth("intake"), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 415
    assert r.json()["error"]["code"] == "unsupported_media_type"

    doc["attachments"][0]["content_type"] = "application/x-msdownload"
    r = await api.post_document(doc)
    assert r.status_code == 415
    assert r.json()["error"]["errors"][0]["loc"] == ["attachments", 0, "content_type"]
    assert await count_documents(api) == 0


async def test_attachment_over_the_limit_is_413(make_hub: MakeHub) -> None:
    async with running_api(make_hub(overrides={"max_attachment_bytes": 1000})) as api:
        doc = document()
        doc["attachments"][0]["content_base64"] = base64.b64encode(b"x" * 2000).decode()
        r = await api.post_document(doc)
        assert r.status_code == 413
        err = r.json()["error"]
        assert err["code"] == "payload_too_large"
        assert err["errors"][0]["loc"] == ["attachments", 0]

        doc["attachments"][0]["content_base64"] = base64.b64encode(b"x" * 999).decode()
        assert (await api.post_document(doc)).status_code == 201
        assert await count_documents(api) == 1


async def test_request_over_the_limit_is_413_before_parsing(make_hub: MakeHub) -> None:
    async with running_api(make_hub(overrides={"max_request_bytes": 4000})) as api:
        # Not even JSON: a 422 here would mean it was parsed before the size was checked.
        junk = b"{" * 5000
        headers = {**api.auth("intake"), "Content-Type": "application/json"}
        r = await api.client.post("/api/v1/documents", content=junk, headers=headers)
        assert r.status_code == 413
        assert r.json()["error"]["code"] == "payload_too_large"

        # Chunked, without Content-Length: stopped while streaming.
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(5):
                yield b"{" * 1000

        r = await api.client.post("/api/v1/documents", content=chunks(), headers=headers)
        assert r.status_code == 413
        assert await count_documents(api) == 0


async def test_large_body_is_accepted_off_the_loop(api: ApiHarness) -> None:
    doc = document()
    doc["attachments"][0]["content_base64"] = base64.b64encode(b"%PDF" + b"0" * 400_000).decode()
    r = await api.post_document(doc)
    assert r.status_code == 201
    assert r.json()["attachments"][0]["size"] == 400_004


async def test_bad_requests_leave_the_ledger_untouched(api: ApiHarness) -> None:
    await api.post_document(document())
    before = await count_documents(api)
    bad_cnp = document()
    bad_cnp["sender"]["cnp"] = wrong_check_digit(valid_cnp())
    answers = [
        await api.post_document(bad_cnp),
        await api.post_document(document(), role="reader"),
        await api.client.post("/api/v1/documents", json=document()),
        await api.client.post(
            "/api/v1/documents",
            content=b"<doc/>",
            headers={**api.auth("intake"), "Content-Type": "text/xml"},
        ),
        await api.post_document(document(attachments=[{"filename": "a.pdf"}])),
    ]
    assert [a.status_code for a in answers] == [422, 403, 401, 415, 422]
    assert await count_documents(api) == before


# --- reads ----------------------------------------------------------------------------------------


async def test_document_detail_is_masked_without_pii_scope(api: ApiHarness) -> None:
    doc = document()
    created = (await api.post_document(doc)).json()

    r = await api.get(f"/api/v1/documents/{created['id']}")

    assert r.status_code == 200
    detail = DocumentDetail.model_validate(r.json())
    assert detail.sender is not None
    assert detail.sender.cnp == "•" * 11 + doc["sender"]["cnp"][-2:]
    for value in (doc["sender"]["cnp"], NAME, EMAIL, PHONE):
        assert value not in r.text
    assert [d.connector for d in detail.deliveries] == ["noop"]
    assert [e.action for e in detail.timeline.events] == ["received"]


async def test_pii_scope_sees_the_sender_and_is_audited(api: ApiHarness) -> None:
    doc = document()
    doc_id = (await api.post_document(doc)).json()["id"]

    r = await api.get(f"/api/v1/documents/{doc_id}", role="pii")

    assert r.status_code == 200
    assert r.json()["sender"]["cnp"] == doc["sender"]["cnp"]
    assert r.json()["sender"]["name"] == NAME
    with api.hub.reader.connect() as conn:
        audit = conn.execute(
            select(events.c.actor, events.c.document_id).where(events.c.action == "pii_viewed")
        ).all()
    assert [(a.actor, a.document_id) for a in audit] == [("token:pii", doc_id)]
    # The event is in the document's timeline too, for the next reader to see.
    again = await api.get(f"/api/v1/documents/{doc_id}")
    assert "pii_viewed" in [e["action"] for e in again.json()["timeline"]["events"]]


async def test_unknown_document_is_404(api: ApiHarness) -> None:
    r = await api.get(f"/api/v1/documents/{uuid.uuid4()}")
    assert r.status_code == 404
    assert r.json() == {
        "error": {"code": "not_found", "message": "document not found", "errors": []}
    }


async def test_search_by_external_id_and_kind(api: ApiHarness) -> None:
    a = document(kind="petitie")
    b = document(kind="cerere_544")
    await api.post_document(a)
    await api.post_document(b)

    by_ext = await api.get("/api/v1/documents", external_id=a["external_id"])
    assert [d["external_id"] for d in by_ext.json()] == [a["external_id"]]
    by_kind = await api.get("/api/v1/documents", kind="cerere_544")
    assert [d["external_id"] for d in by_kind.json()] == [b["external_id"]]
    assert a["sender"]["cnp"] not in by_ext.text
    none = await api.get("/api/v1/documents", registration_number="TM-0000")
    assert none.json() == []


# --- end to end -----------------------------------------------------------------------------------


async def test_posted_document_is_delivered(api: ApiHarness) -> None:
    async with running_workers(api.hub):
        r = await api.post_document(document())
        assert r.status_code == 201
        location = r.headers["location"]

        async def delivered() -> bool:
            detail = (await api.get(location)).json()
            return [d["state"] for d in detail["deliveries"]] == ["delivered"]

        await until(delivered, what="the noop delivery to be delivered")

    detail = (await api.get(location)).json()
    delivery = detail["deliveries"][0]
    assert delivery["receipt"]["remote_id"] == delivery["idempotency_key"]
    assert delivery["delivered_at"] is not None
    assert [a["outcome"] for a in detail["timeline"]["attempts"]] == ["delivered"]
    assert {"received", "claimed"} <= {e["action"] for e in detail["timeline"]["events"]}

    metrics = await api.get("/metrics", role="metrics")
    assert 'hub_deliveries_total{connector="noop",outcome="delivered"} 1.0' in metrics.text
