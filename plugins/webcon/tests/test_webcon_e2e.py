"""End to end: a real Hub (intake → ledger → dispatcher) registering documents in the simulated
WEBCON over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hub_webcon.connector import WebconConnector
from hub_webcon.simulator import WebconSimulator, guid_for
from hub_webcon.status_sync import WebconStatusSource

from hub.api.app import create_app
from hub.runtime import Hub
from hub.testing.factories import make_document_in
from hub.testing.hubrun import dispatching

RULES = {
    "default_after": "webcon",
    "fallback": {"destinations": [{"connector": "webcon"}, {"connector": "noop"}]},
}
FAST_RETRY = {"base_seconds": 0.01, "cap_seconds": 0.05, "max_attempts": 5}


async def submit(hub: Hub, **overrides: Any) -> str:
    result = await hub.intake.submit(hub.intake.prepare(make_document_in(**overrides)))
    return result.document_id


async def settled(hub: Hub, document_id: str, timeout: float = 15.0) -> dict[str, dict[str, Any]]:
    """The document's deliveries by connector, once none can move without help (a delivery
    still waiting then waits for a dead one)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        rows = await hub.runner.read(hub.ledger.deliveries_of, document_id)
        if rows and all(r["state"] in ("delivered", "dead", "cancelled", "waiting") for r in rows):
            return {r["connector"]: r for r in rows}
        if asyncio.get_running_loop().time() > deadline:
            states = [(r["connector"], r["state"], r["last_error"]) for r in rows]
            raise AssertionError(f"deliveries still open: {states}")
        await asyncio.sleep(0.02)


@pytest.fixture
def webcon_hub(make_hub: Callable[..., Hub], webcon_sim: WebconSimulator) -> Callable[..., Hub]:
    def build(**section: Any) -> Hub:
        defaults = {"retry": FAST_RETRY, "search_index_lag_seconds": 0}
        settings = webcon_sim.settings(**(defaults | section))
        return make_hub(rules=RULES, overrides={"webcon": settings})

    return build


async def test_registers_and_releases_waiting_deliveries(
    webcon_hub: Callable[..., Hub], webcon_sim: WebconSimulator
) -> None:
    hub = webcon_hub()
    async with dispatching(hub):
        doc_id = await submit(hub)
        rows = await settled(hub, doc_id)
    assert rows["webcon"]["state"] == "delivered" and rows["noop"]["state"] == "delivered"
    assert rows["noop"]["delivered_at"] >= rows["webcon"]["delivered_at"]
    doc = await hub.documents.get(doc_id)
    assert doc is not None and doc.registered_at is not None
    assert re.fullmatch(r"PET/\d{4}/\d{2}/00001", doc.registration_number or "")
    assert doc.status == "registered"
    (element,) = webcon_sim.elements.values()
    assert rows["webcon"]["receipt"]["remote_id"] == str(element.id)
    assert element.fields[guid_for("field", "ID document hub")] == doc_id
    assert doc_id in element.comments[0]["comment"]
    assert [(a.name, a.group, a.content) for a in element.attachments] == [
        ("sesizare.pdf", "Documente intrare", b"%PDF-1.4 test\n")
    ]
    timeline = await hub.runner.read(hub.ledger.timeline, doc_id)
    released = [e for e in timeline["events"] if e["action"] == "released"]
    assert released and released[0]["reason"] == "webcon delivered"


async def test_dropped_connection_after_commit_creates_no_duplicate(
    webcon_hub: Callable[..., Hub], webcon_sim: WebconSimulator
) -> None:
    webcon_sim.faults.add("drop_after_commit", "create")
    hub = webcon_hub()
    async with dispatching(hub):
        doc_id = await submit(hub)
        rows = await settled(hub, doc_id)
    assert len(webcon_sim.elements) == 1
    assert webcon_sim.requests["create"] == 1
    assert rows["webcon"]["state"] == "delivered"
    receipt = rows["webcon"]["receipt"]
    (element,) = webcon_sim.elements.values()
    assert receipt["remote_id"] == str(element.id)
    assert receipt["data"]["reconciled"] is True
    doc = await hub.documents.get(doc_id)
    assert doc is not None and doc.registration_number == element.instance_number
    attempts = (await hub.runner.read(hub.ledger.timeline, doc_id))["attempts"]
    assert len([a for a in attempts if a["delivery_id"] == rows["webcon"]["id"]]) == 1
    assert hub.metrics.deliveries.labels("webcon", "reconciled")._value.get() == 1


async def test_search_lag_delays_instead_of_duplicating(
    webcon_hub: Callable[..., Hub], webcon_sim: WebconSimulator
) -> None:
    webcon_sim.faults.add("drop_after_commit", "create")
    webcon_sim.search_index_delay = 0.5  # Solr has not indexed the new element yet
    hub = webcon_hub(search_index_lag_seconds=2.0)
    async with dispatching(hub):
        doc_id = await submit(hub)
        rows = await settled(hub, doc_id)
    assert rows["webcon"]["state"] == "delivered"
    assert len(webcon_sim.elements) == 1 and webcon_sim.requests["create"] == 1
    assert rows["webcon"]["attempts"] >= 2


async def test_replayed_dead_delivery_finds_its_element(
    webcon_hub: Callable[..., Hub], webcon_sim: WebconSimulator
) -> None:
    webcon_sim.faults.add("drop_after_commit", "create")
    webcon_sim.faults.add("status", "search", count=-1)
    hub = webcon_hub(retry={"base_seconds": 0.01, "max_attempts": 1})
    async with dispatching(hub):
        doc_id = await submit(hub)
        rows = await settled(hub, doc_id)
        assert rows["webcon"]["state"] == "dead"
        webcon_sim.faults.clear()
        await hub.runner.write(hub.ledger.replay, [rows["webcon"]["id"]], "test")
        hub.dispatcher.wake()
        await asyncio.sleep(0)
        rows = await settled(hub, doc_id)
    assert rows["webcon"]["state"] == "delivered"
    assert len(webcon_sim.elements) == 1
    assert webcon_sim.requests["create"] == 1


async def test_validation_error_dead_letters_with_webcon_details(
    webcon_hub: Callable[..., Hub], webcon_sim: WebconSimulator
) -> None:
    hub = webcon_hub()
    async with dispatching(hub):
        doc_id = await submit(hub, subject="")  # "Subiect" is mandatory in WEBCON
        rows = await settled(hub, doc_id)
    webcon = rows["webcon"]
    assert webcon["state"] == "dead"
    assert "ValidationError" in webcon["last_error"] and "Subiect" in webcon["last_error"]
    assert rows["noop"]["state"] == "waiting"  # nothing goes out without a number
    (attempt,) = (await hub.runner.read(hub.ledger.timeline, doc_id))["attempts"]
    assert attempt["status_code"] == 409 and attempt["error_type"] == "ValidationError"
    assert re.fullmatch(r"[0-9a-f-]{36}", attempt["remote_ref"])
    assert webcon_sim.elements == {}


async def test_transient_failures_and_expired_tokens_recover(
    webcon_hub: Callable[..., Hub], webcon_sim: WebconSimulator
) -> None:
    hub = webcon_hub()
    async with dispatching(hub):
        first = await submit(hub)
        await settled(hub, first)
        webcon_sim.expire_tokens()
        webcon_sim.faults.add("status", "create", status=503)
        second = await submit(hub)
        rows = await settled(hub, second)
    assert rows["webcon"]["state"] == "delivered" and rows["webcon"]["attempts"] == 2
    connector = hub.connectors["webcon"]
    assert isinstance(connector, WebconConnector)
    assert connector.client.tokens_fetched == 2
    assert len(webcon_sim.elements) == 2


async def test_separate_attachments_survive_a_dropped_upload(
    webcon_hub: Callable[..., Hub], webcon_sim: WebconSimulator
) -> None:
    webcon_sim.faults.add("drop_after_commit", "attachment")
    files = [
        {
            "filename": f"anexa-{i}.txt",
            "content_type": "text/plain",
            "content_base64": base64.b64encode(f"anexa {i}".encode()).decode(),
        }
        for i in range(3)
    ]
    hub = webcon_hub(attachments="separate", api_version="v5.0")
    async with dispatching(hub):
        doc_id = await submit(hub, attachments=files)
        rows = await settled(hub, doc_id)
    assert rows["webcon"]["state"] == "delivered"
    (element,) = webcon_sim.elements.values()
    assert sorted(a.name for a in element.attachments) == [
        "anexa-0.txt",
        "anexa-1.txt",
        "anexa-2.txt",
    ]
    assert webcon_sim.requests["create"] == 1


async def test_status_sync_closes_finished_documents(
    webcon_hub: Callable[..., Hub], webcon_sim: WebconSimulator
) -> None:
    in_work = guid_for("step", "În lucru la compartiment")
    hub = webcon_hub(
        status_sync={"step_statuses": {in_work: "in_lucru"}, "concurrency": 2, "batch_size": 2}
    )
    async with dispatching(hub):
        ids = [await submit(hub) for _ in range(5)]
        for doc_id in ids:
            await settled(hub, doc_id)
    source = hub.sources["webcon-status"]
    assert isinstance(source, WebconStatusSource)
    assert await source.sync_once() == {"read": 5, "changed": 0, "failed": 0}
    by_doc = {
        e.fields[guid_for("field", "ID document hub")]: e for e in webcon_sim.elements.values()
    }
    webcon_sim.move(by_doc[ids[0]].id, "Repartizează")
    for path in ("Repartizează", "Soluționează", "Eliberează"):
        webcon_sim.move(by_doc[ids[1]].id, path)
    assert await source.sync_once() == {"read": 5, "changed": 2, "failed": 0}
    working, closed = await hub.documents.get(ids[0]), await hub.documents.get(ids[1])
    assert working is not None and working.status == "in_lucru"
    assert closed is not None and closed.status == "closed"
    open_now = await hub.documents.open_documents("webcon")
    assert ids[1] not in {d.document_id for d in open_now} and len(open_now) == 4
    result = await hub.source_runner.poll_once("webcon-status", source)
    assert result is None
    states = {s["source"]: s for s in await hub.runner.read(hub.ledger.source_states)}
    assert states["webcon-status"]["cursor"]["read"] == 4


async def _released_element(
    webcon_hub: Callable[..., Hub], webcon_sim: WebconSimulator
) -> tuple[Hub, str, Any, str]:
    """A registered document whose element waits at the release step, and an operator token."""
    hub = webcon_hub()
    async with dispatching(hub):
        doc_id = await submit(hub)
        await settled(hub, doc_id)
    (element,) = webcon_sim.elements.values()
    webcon_sim.move(element.id, "Repartizează")
    webcon_sim.move(element.id, "Soluționează")
    operator = await hub.runner.write(hub.ledger.create_token, "ops", ["operator"])
    return hub, doc_id, element, operator


async def test_release_endpoint_moves_the_element(
    webcon_hub: Callable[..., Hub], webcon_sim: WebconSimulator
) -> None:
    hub, doc_id, element, operator = await _released_element(webcon_hub, webcon_sim)
    reader = await hub.runner.write(hub.ledger.create_token, "viewer", ["read"])
    transport = httpx.ASGITransport(app=create_app(hub))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as api:
        url = f"/api/v1/documents/{doc_id}/release"
        body = {"mode": "posta", "released_at": "2026-03-04T10:00:00+02:00"}
        denied = await api.post(url, json=body, headers={"Authorization": f"Bearer {reader}"})
        assert denied.status_code == 403
        auth = {"Authorization": f"Bearer {operator}"}
        webcon_sim.checkout(element.id)
        busy = await api.post(url, json=body, headers=auth)
        assert busy.status_code == 503 and "ResourceIsLocked" in busy.text
        webcon_sim.checkout(element.id, None)
        done = await api.post(url, json=body, headers=auth)
        assert done.status_code == 200, done.text
        assert done.json()["webcon_status"] == "MovedToNextStep"
        again = await api.post(url, json={"mode": "email"}, headers=auth)
        assert again.json()["already_released"] is True and again.json()["mode"] == "posta"
        missing = await api.post("/api/v1/documents/nope/release", json=body, headers=auth)
        assert missing.status_code == 404
    assert element.finished and element.step.name == "Eliberat"
    assert element.fields[guid_for("field", "Mod eliberare")] == "poștă"
    released_at = datetime.fromisoformat(element.fields[guid_for("field", "Data eliberării")])
    assert released_at == datetime(2026, 3, 4, 8, 0, tzinfo=UTC)
    doc = await hub.documents.get(doc_id)
    assert doc is not None and doc.status == "released"
    assert doc.metadata["release"]["mode"] == "posta"
    events = (await hub.runner.read(hub.ledger.timeline, doc_id))["events"]
    assert any(e["action"] == "document_released" and e["actor"] == "token:ops" for e in events)


async def test_a_release_whose_answer_is_lost_is_read_back_not_sent_twice(
    webcon_hub: Callable[..., Hub], webcon_sim: WebconSimulator
) -> None:
    hub, doc_id, element, operator = await _released_element(webcon_hub, webcon_sim)
    # WEBCON applies the PATCH, then the connection drops before its answer.
    webcon_sim.faults.add("drop_after_commit", "patch")
    body = {"mode": "email", "released_at": "2026-03-05T09:00:00+02:00"}
    done = await post_release(hub, doc_id, operator, body)
    assert done.status_code == 200, done.text
    out = done.json()
    assert out["reconciled"] is True and out["mode"] == "email"
    assert datetime.fromisoformat(out["released_at"]) == datetime(2026, 3, 5, 7, 0, tzinfo=UTC)
    assert element.step.name == "Eliberat"
    assert len(release_comments(element)) == 1  # one PATCH, not two
    doc = await hub.documents.get(doc_id)
    assert doc is not None and doc.status == "released"
    assert doc.metadata["release"]["reconciled"] is True


async def post_release(
    hub: Hub, doc_id: str, operator: str, body: dict[str, Any]
) -> httpx.Response:
    """``POST /api/v1/documents/{id}/release`` through the hub's app, as an operator."""
    transport = httpx.ASGITransport(app=create_app(hub))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as api:
        return await api.post(
            f"/api/v1/documents/{doc_id}/release",
            json=body,
            headers={"Authorization": f"Bearer {operator}"},
        )


def release_comments(element: Any) -> list[str]:
    return [c["comment"] for c in element.comments if c["comment"].startswith("Eliberat")]


async def test_a_release_already_in_webcon_is_recorded_not_sent_again(
    webcon_hub: Callable[..., Hub], webcon_sim: WebconSimulator
) -> None:
    hub, doc_id, element, operator = await _released_element(webcon_hub, webcon_sim)
    # An earlier attempt whose answer and read-back were both lost (or staff releasing in
    # WEBCON itself): the element already holds the release.
    element.fields[guid_for("field", "Data eliberării")] = "2026-03-06T10:00:00Z"
    element.fields[guid_for("field", "Mod eliberare")] = "ghișeu"
    step = element.step.name
    # GUIDs configured in another case than WEBCON answers them are the same fields.
    release = hub.connectors["webcon"].settings.release
    hub.connectors["webcon"].settings.release = release.model_copy(
        update={
            "date_field_guid": release.date_field_guid.upper(),
            "mode_field_guid": release.mode_field_guid.upper(),
        }
    )
    retry = await post_release(hub, doc_id, operator, {"mode": "posta"})
    assert retry.status_code == 200, retry.text
    out = retry.json()
    assert out["reconciled"] is True
    assert out["mode"] == "ghiseu"  # as WEBCON holds it, not as the retry said
    assert datetime.fromisoformat(out["released_at"]) == datetime(2026, 3, 6, 10, 0, tzinfo=UTC)
    assert release_comments(element) == []  # nothing PATCHed
    assert element.step.name == step  # not moved again


async def test_a_lost_answer_that_cannot_be_read_back_is_a_503(
    webcon_hub: Callable[..., Hub], webcon_sim: WebconSimulator
) -> None:
    hub, doc_id, element, operator = await _released_element(webcon_hub, webcon_sim)
    # Without a release date field there is nothing to read back.
    settings = hub.connectors["webcon"].settings.release
    hub.connectors["webcon"].settings.release = settings.model_copy(
        update={"date_field_guid": None}
    )
    webcon_sim.faults.add("drop_after_commit", "patch")
    lost = await post_release(hub, doc_id, operator, {"mode": "posta"})
    assert lost.status_code == 503 and "Retry-After" in lost.headers
    doc = await hub.documents.get(doc_id)
    assert doc is not None and doc.status != "released"  # nothing recorded on a guess
    assert len(release_comments(element)) == 1  # WEBCON did apply it: a retry must not repeat it


async def test_health_reports_each_problem(
    make_hub: Callable[..., Hub], webcon_sim: WebconSimulator
) -> None:
    good = make_hub(rules=RULES, overrides={"webcon": webcon_sim.settings()})
    checks = await good.connectors["webcon"].health()
    assert checks and all(c.ok for c in checks), [c for c in checks if not c.ok]
    settings = webcon_sim.settings()
    form = settings["forms"]["default"]
    form["fields"] = {"subject": guid_for("field", "nope"), "body": form["fields"]["body"]}
    form["path"] = guid_for("path", "Eliberează")
    settings["forms"] = {"default": form}
    bad = make_hub(rules=RULES, overrides={"webcon": settings})
    problems = [c.detail for c in await bad.connectors["webcon"].health() if not c.ok]
    assert any("field subject" in p for p in problems)
    assert any("does not leave the start step" in p for p in problems)
    assert any("mandatory field 'Subiect'" in p for p in problems)
    wrong = make_hub(
        rules=RULES, overrides={"webcon": webcon_sim.settings(client_secret="not-the-secret")}
    )
    (token,) = await wrong.connectors["webcon"].health()
    assert token.name == "token" and not token.ok and "CLIENT_SECRET" in token.detail
    assert "not-the-secret" not in token.detail
