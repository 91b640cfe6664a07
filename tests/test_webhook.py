"""The webhook connector: the contract kit, Standard Webhooks signatures, idempotency, and one
end-to-end run through a hub into a real signature-verifying receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import httpx
import orjson
import pytest
import respx
from aiohttp import web

from hub.builtin import webhook as webhook_plugin
from hub.builtin.signing import SignatureError, new_secret, verify
from hub.builtin.webhook import WebhookConnector, WebhookSettings
from hub.errors import PermanentError, TransientError
from hub.models import Job, Receipt
from hub.testing import ConnectorContract, MockRemote, make_document_in
from tests.fixtures import MakeHub

SECRET = new_secret()
URL = "https://juridic.example.test/hooks/registry"
SETTINGS = {"endpoints": {"DJ": {"url": URL, "secret": SECRET}}}


class TestWebhookContract(ConnectorContract):
    connector_class = WebhookConnector
    settings = SETTINGS
    target = "DJ"

    def delivery_route(self, router: respx.MockRouter, job: Job) -> respx.Route:
        return router.post(URL)


# --- unit tests against respx --------------------------------------------------------------------


async def _deliver(
    job: Job, *answers: httpx.Response, settings: dict[str, object] = SETTINGS
) -> tuple[list[Receipt | Exception], respx.Route]:
    remote = MockRemote()
    route = remote.router.post(URL).mock(side_effect=list(answers))
    conn = WebhookConnector(WebhookSettings.model_validate(settings), transport=remote.transport)
    results: list[Receipt | Exception] = []
    try:
        for n in range(len(answers)):
            try:
                results.append(await conn.deliver(dataclasses.replace(job, attempt=n + 1)))
            except Exception as exc:
                results.append(exc)
    finally:
        await conn.aclose()
    return results, route


async def test_signature_verifies_and_detects_tampering(hub_job) -> None:
    east = timezone(timedelta(hours=2))
    job = hub_job("webhook", target="DJ")
    document = job.document.model_copy(
        update={
            "due_date": date(2026, 12, 28),
            "registered_at": datetime(2026, 11, 27, 9, 30, 0, 500, tzinfo=east),
            "registration_number": "RG-12/2026",
        }
    )
    job = dataclasses.replace(job, document=document)
    (receipt,), route = await _deliver(job, httpx.Response(204))
    assert isinstance(receipt, Receipt)
    request = route.calls.last.request
    headers, body = dict(request.headers), request.content

    verify(SECRET, headers, body)  # does not raise
    payload = orjson.loads(body)
    assert payload["type"] == "document.routed"
    assert payload["data"]["id"] == job.document.id
    assert payload["data"]["target"] == "DJ"
    # Dates and times as ISO 8601, with their UTC offset.
    doc = job.document
    assert doc.received_at is not None
    assert payload["data"]["received_at"] == doc.received_at.isoformat()
    assert payload["data"]["registered_at"] == "2026-11-27T09:30:00.000500+02:00"
    assert payload["data"]["due_date"] == "2026-12-28"
    assert payload["data"]["registration_number"] == "RG-12/2026"
    assert datetime.fromisoformat(payload["timestamp"]).utcoffset() == timedelta(0)

    with pytest.raises(SignatureError, match="no matching signature"):
        verify(SECRET, headers, body.replace(b"petitie", b"factura"))
    with pytest.raises(SignatureError, match="no matching signature"):
        verify(new_secret(), headers, body)
    sent_at = int(headers["webhook-timestamp"])
    assert abs(sent_at - time.time()) < 60
    with pytest.raises(SignatureError, match="too old"):
        verify(SECRET, headers, body, now=sent_at + 5 * 60 + 1)


async def test_webhook_id_is_the_idempotency_key_on_every_attempt(hub_job) -> None:
    job = hub_job("webhook", target="dj")  # target codes are case-insensitive
    results, route = await _deliver(
        job, httpx.Response(503), httpx.Response(502), httpx.Response(200)
    )
    assert [type(r) for r in results] == [TransientError, TransientError, Receipt]
    assert route.call_count == 3
    ids = [call.request.headers["webhook-id"] for call in route.calls]
    assert ids == [job.idempotency_key] * 3
    for call in route.calls:  # each attempt is signed afresh and verifies
        verify(SECRET, dict(call.request.headers), call.request.content)
    last = results[-1]
    assert isinstance(last, Receipt) and last.remote_id == job.idempotency_key


async def test_unknown_target_is_permanent_and_names_the_env_var(hub_job) -> None:
    job = hub_job("webhook", target="urbanism")
    remote = MockRemote()
    route = remote.router.route()  # anything sent would be recorded here
    conn = WebhookConnector(WebhookSettings.model_validate(SETTINGS), transport=remote.transport)
    try:
        with pytest.raises(PermanentError) as info:
            await conn.deliver(job)
    finally:
        await conn.aclose()
    assert "HUB_WEBHOOK__ENDPOINTS__URBANISM__URL" in info.value.message
    assert not route.called, "nothing may be sent for a target without an endpoint"


@pytest.mark.parametrize("secret", ["plain-password-123", "whsec_not*base64!"])
def test_endpoint_secret_must_be_a_standard_webhooks_secret(secret: str) -> None:
    bad = {"endpoints": {"DJ": {"url": URL, "secret": secret}}}
    with pytest.raises(ValueError, match="whsec_") as info:
        WebhookSettings.model_validate(bad)
    assert secret not in str(info.value.errors(include_input=False))


# --- end to end: hub → real receiver on 127.0.0.1 ------------------------------------------------


@dataclass
class Sink:
    """A department's receiver: verifies every signature, answers 503 to the first try of
    documents whose subject asks for it, 200 otherwise."""

    secret: str
    url: str = ""
    by_id: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    bad_signatures: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            verify(self.secret, dict(request.headers), body)
        except SignatureError:
            self.bad_signatures += 1
            return web.Response(status=401)
        msg_id = request.headers["webhook-id"]
        data = orjson.loads(body)["data"]
        seen = self.by_id.setdefault(msg_id, [])
        seen.append(data)
        if "flaky" in data["subject"] and len(seen) == 1:
            return web.Response(status=503)
        return web.Response(status=200)


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    receiver = Sink(secret=new_secret())
    app = web.Application()
    app.router.add_post("/hooks/registry", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    receiver.url = f"http://{host}:{port}/hooks/registry"
    try:
        yield receiver
    finally:
        await runner.cleanup()


async def test_end_to_end_signed_deliveries_survive_503(make_hub: MakeHub, sink: Sink) -> None:
    hub = make_hub(
        entry_points=False,
        plugins=(webhook_plugin,),
        rules={"fallback": {"destinations": [{"connector": "webhook", "target": "DJ"}]}},
        overrides={
            "webhook": {
                "retry": {"base_seconds": 0.05, "max_attempts": 5},
                "endpoints": {"DJ": {"url": sink.url, "secret": sink.secret}},
            }
        },
    )
    await hub.start()
    subjects = ["Sesizare flaky 1", "Sesizare 2", "Sesizare flaky 3", "Sesizare 4"]
    doc_ids = []
    for subject in subjects:
        result = await hub.intake.submit(hub.intake.prepare(make_document_in(subject=subject)))
        doc_ids.append(result.document_id)

    workers = asyncio.create_task(hub.run_workers())
    try:
        deadline = time.monotonic() + 30
        while True:
            rows = await hub.runner.read(hub.ledger.list_deliveries, connector="webhook")
            if len(rows) == 4 and all(r["state"] == "delivered" for r in rows):
                break
            assert time.monotonic() < deadline, [(r["state"], r["last_error"]) for r in rows]
            await asyncio.sleep(0.02)
    finally:
        hub.stop()
        await workers

    assert sink.bad_signatures == 0
    by_doc = {calls[0]["id"]: (msg_id, calls) for msg_id, calls in sink.by_id.items()}
    assert set(by_doc) == set(doc_ids)
    for doc_id, subject in zip(doc_ids, subjects, strict=True):
        (delivery,) = await hub.runner.read(hub.ledger.deliveries_of, doc_id)
        msg_id, calls = by_doc[doc_id]
        assert msg_id == delivery["idempotency_key"]  # one webhook-id across attempts
        assert len(calls) == (2 if "flaky" in subject else 1)
        assert delivery["attempts"] == len(calls)
        assert calls[0]["target"] == "DJ"
    outcomes = Counter(
        {
            s.labels["outcome"]: s.value
            for metric in hub.metrics.registry.collect()
            if metric.name == "hub_deliveries"
            for s in metric.samples
            if s.name == "hub_deliveries_total" and s.labels["connector"] == "webhook"
        }
    )
    assert outcomes["delivered"] == 4
    assert outcomes["transient"] == 2
