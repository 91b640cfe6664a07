"""The connector and its settings in isolation: mapping, configuration errors, reconciliation
(respx), the search-lag rule, and personal data kept out of error messages."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
import respx
from hub_webcon.connector import WebconConnector
from hub_webcon.errors import WebconConfigurationError
from hub_webcon.mapping import element_body
from hub_webcon.settings import WebconSettings
from pydantic import SecretStr, ValidationError

from hub.errors import AmbiguousError, PermanentError, TransientError
from hub.testing.factories import make_document, make_job
from hub.testing.probes import undocumented_fields

BASE = "https://bps.example.test"
DB = f"{BASE}/api/data/v6.0/db/1"
APP = "33333333-3333-3333-3333-333333333333"
WF = "11111111-1111-1111-1111-111111111111"
FT = "22222222-2222-2222-2222-222222222222"
CORR = "44444444-4444-4444-4444-444444444444"
F_SUBJECT = "55555555-5555-5555-5555-555555555555"
F_RECEIVED = "66666666-6666-6666-6666-666666666666"
F_CNP = "77777777-7777-7777-7777-777777777777"
F_DUE = "88888888-8888-8888-8888-888888888888"
F_META = "99999999-9999-9999-9999-999999999999"
SECTION: dict[str, Any] = {
    "base_url": BASE,
    "client_id": "hub",
    "client_secret": "s3cret-value-for-tests",
    "application_guid": APP,
    "correlation_field_guid": CORR,
    "forms": {
        "default": {
            "workflow_guid": WF,
            "form_type_guid": FT,
            "business_entity_guid": "12121212-1212-1212-1212-121212121212",
            "fields": {
                "subject": F_SUBJECT,
                "received_at": {"guid": F_RECEIVED, "type": "DateTime"},
                "sender_id": F_CNP,
                "due_date": {"guid": F_DUE, "type": "Date"},
                "metadata_dosar": F_META,
            },
            "attachment_group": "Intrare",
        }
    },
}


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def connector(
    router: respx.MockRouter, clock: Clock | None = None, **overrides: Any
) -> WebconConnector:
    settings = WebconSettings.model_validate(SECTION | overrides)
    return WebconConnector(
        settings, transport=httpx.MockTransport(router.handler), clock=clock or Clock()
    )


def with_token(router: respx.MockRouter) -> None:
    router.post(f"{BASE}/api/oauth2/token").mock(
        return_value=httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
    )


def element(element_id: int, doc_id: str, number: str = "REG/2026/03/00042") -> dict[str, Any]:
    return {
        "header": {
            "id": element_id,
            "instanceNumber": number,
            "creationDate": "2026-03-02T08:15:00Z",
            "isFinished": False,
        },
        "formFields": [{"guid": CORR.upper(), "type": "SingleLine", "value": doc_id}],
        "attachments": [],
    }


def test_settings_are_documented_and_strict() -> None:
    settings = WebconSettings.model_validate(SECTION)
    assert isinstance(settings.client_secret, SecretStr)
    assert "s3cret" not in repr(settings)
    assert undocumented_fields(settings) == []
    assert settings.form_for("petitie") is settings.forms["default"]
    bad_guid = SECTION | {"correlation_field_guid": "not-a-guid"}
    with pytest.raises(ValidationError, match="must be a guid"):
        WebconSettings.model_validate(bad_guid)
    form = SECTION["forms"]["default"]
    with pytest.raises(ValidationError, match="unknown hub field"):
        WebconSettings.model_validate(SECTION | {"forms": {"x": form | {"fields": {"cnp": F_CNP}}}})
    clash = form | {"fields": {"subject": CORR}}
    with pytest.raises(ValidationError, match="correlation field"):
        WebconSettings.model_validate(SECTION | {"forms": {"default": clash}})
    with pytest.raises(ValidationError):
        WebconSettings.model_validate(SECTION | {"api_version": "v7.0"})
    empty = WebconSettings()
    assert not empty.configured
    assert "HUB_WEBCON__BASE_URL" in empty.missing()


def test_document_maps_onto_a_new_element() -> None:
    settings = WebconSettings.model_validate(SECTION)
    doc = make_document(
        received_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC), metadata={"dosar": "1234/30/2026"}
    )
    doc = doc.model_copy(update={"due_date": date(2026, 4, 1)})
    body = element_body(doc, settings.forms["default"], settings, [(doc.attachments[0], b"%PDF")])
    fields = {f["guid"]: f for f in body["formFields"]}
    assert fields[F_SUBJECT] == {"guid": F_SUBJECT, "svalue": doc.subject}
    assert fields[F_RECEIVED]["value"] == "2026-03-02T09:30:00+00:00"
    assert fields[F_DUE] == {"guid": F_DUE, "type": "Date", "value": "2026-04-01T00:00:00"}
    assert fields[F_CNP]["svalue"] == doc.sender.cnp  # type: ignore[union-attr]
    assert fields[F_META]["svalue"] == "1234/30/2026"
    assert fields[CORR]["value"] == doc.id
    assert body["workflow"] == {"guid": WF} and body["formType"] == {"guid": FT}
    assert body["businessEntity"] == {"guid": "12121212-1212-1212-1212-121212121212"}
    assert doc.id in body["comments"]["newComment"]
    assert body["attachments"] == [
        {"name": "sesizare.pdf", "content": "JVBERg==", "description": None, "group": "Intrare"}
    ]


async def test_unconfigured_or_unmapped_is_a_configuration_dead_letter() -> None:
    router = respx.MockRouter()
    empty = WebconConnector(WebconSettings())
    with pytest.raises(WebconConfigurationError, match="HUB_WEBCON__BASE_URL"):
        await empty.deliver(make_job("webcon"))
    only_petitions = SECTION | {"forms": {"petitie": SECTION["forms"]["default"]}}
    conn = connector(router, **only_petitions)
    with pytest.raises(WebconConfigurationError, match="HUB_WEBCON__FORMS__ALTELE"):
        await conn.deliver(make_job("webcon", document=make_document(kind="altele")))
    assert not router.calls


async def test_reconcile_adopts_only_an_exact_correlation_match() -> None:
    router = respx.MockRouter()
    with_token(router)
    job = make_job("webcon", document=make_document(attachments=[]))
    search = router.get(f"{DB}/applications/{APP}/search").mock(
        return_value=httpx.Response(
            200,
            json={
                "page": 1,
                "pageSize": 50,
                "count": 3,
                "elements": [
                    {"instanceId": 7, "workflow": {"guid": "00000000-0000-0000-0000-000000000000"}},
                    {"instanceId": 8, "workflow": {"guid": WF}},
                    {"instanceId": 9, "workflow": {"guid": WF}},
                ],
            },
        )
    )
    router.get(f"{DB}/elements/8").mock(
        return_value=httpx.Response(200, json=element(8, job.document.id + "-other"))
    )
    router.get(f"{DB}/elements/9").mock(
        return_value=httpx.Response(200, json=element(9, job.document.id))
    )
    receipt = await connector(router).reconcile(job, AmbiguousError("lost"))
    assert receipt is not None
    assert receipt.remote_id == "9" and receipt.registration_number == "REG/2026/03/00042"
    assert receipt.registered_at == datetime(2026, 3, 2, 8, 15, tzinfo=UTC)
    assert receipt.data["reconciled"] is True
    assert search.calls[0].request.url.params["search"] == f'"{job.document.id}"'
    assert not any("/elements/7" in str(c.request.url) for c in router.calls)


async def test_not_found_waits_for_the_search_index_then_creates() -> None:
    router = respx.MockRouter()
    with_token(router)
    router.get(f"{DB}/applications/{APP}/search").mock(
        return_value=httpx.Response(
            200, json={"page": 1, "pageSize": 50, "count": 0, "elements": []}
        )
    )
    create = router.post(f"{DB}/elements").mock(
        side_effect=[
            httpx.ReadTimeout,
            httpx.Response(
                200, json={"id": 5, "instanceNumber": "REG/1", "status": "MovedToNextStep"}
            ),
        ]
    )
    clock = Clock()
    conn = connector(router, clock, search_index_lag_seconds=60)
    job = make_job("webcon", document=make_document(attachments=[]))
    with pytest.raises(AmbiguousError) as raised:
        await conn.deliver(job)
    assert await conn.reconcile(job, raised.value) is None
    clock.now += 10
    with pytest.raises(TransientError) as waiting:
        await conn.deliver(dataclasses.replace(job, attempt=2))
    assert waiting.value.retry_after == pytest.approx(50)
    assert create.call_count == 1
    clock.now += 51
    receipt = await conn.deliver(dataclasses.replace(job, attempt=3))
    assert receipt.remote_id == "5" and create.call_count == 2
    marker = [c.request.content.decode() for c in create.calls]
    assert all(job.document.id in m for m in marker)


async def test_webcon_descriptions_lose_the_senders_data() -> None:
    router = respx.MockRouter()
    with_token(router)
    job = make_job("webcon", document=make_document(attachments=[]))
    sender = job.document.sender
    assert sender is not None and sender.name and sender.address
    echo = f"Value '{sender.name}' / '{sender.address}' is invalid"
    router.post(f"{DB}/elements").mock(
        return_value=httpx.Response(
            409, json={"type": "InvalidFieldData", "description": echo, "errorGuid": "abc"}
        )
    )
    with pytest.raises(PermanentError) as raised:
        await connector(router).deliver(job)
    message = raised.value.message
    assert sender.name not in message and sender.address not in message
    assert str(raised.value) == message and "InvalidFieldData" in message
