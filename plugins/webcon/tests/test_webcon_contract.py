"""The hub's connector contract kit, run for the ``webcon`` connector."""

from __future__ import annotations

from typing import Any

import httpx
import respx
from hub_webcon.connector import WebconConnector

from hub.models import Job
from hub.testing import ConnectorContract
from hub.testing.remote import MockRemote

BASE = "https://bps.example.test"
DB = f"{BASE}/api/data/v6.0/db/1"
APP = "33333333-3333-3333-3333-333333333333"
WF = "11111111-1111-1111-1111-111111111111"
FT = "22222222-2222-2222-2222-222222222222"
CORR = "44444444-4444-4444-4444-444444444444"
F_SUBJECT = "55555555-5555-5555-5555-555555555555"
START = "66666666-6666-6666-6666-666666666666"


class _Store:
    """Attachment content for deliveries run outside a hub (the kit's unit scenarios)."""

    def __init__(self, blobs: dict[str, bytes]) -> None:
        self.blobs = blobs

    async def attachment_content(self, sha256: str) -> bytes | None:
        return self.blobs.get(sha256)

    async def attempt_count(self, delivery_id: int) -> int:
        return 0


class TestWebconContract(ConnectorContract):
    connector_class = WebconConnector
    settings: dict[str, Any] = {
        "base_url": BASE,
        "client_id": "hub-registratura",
        "client_secret": "kit-secret-value-123",
        "application_guid": APP,
        "correlation_field_guid": CORR,
        "search_index_lag_seconds": 0,
        "forms": {
            "default": {"workflow_guid": WF, "form_type_guid": FT, "fields": {"subject": F_SUBJECT}}
        },
    }

    def make_connector(self, remote: MockRemote) -> WebconConnector:
        conn = WebconConnector(self.build_settings(), transport=remote.transport)
        doc = self.make_document()
        blobs = {}
        import hashlib

        for a in doc.attachments:
            content = a.decode()
            blobs[hashlib.sha256(content).hexdigest()] = content
        conn.documents = _Store(blobs)  # type: ignore[assignment]
        return conn

    @staticmethod
    def _token(router: respx.MockRouter) -> None:
        router.post(f"{BASE}/api/oauth2/token").mock(
            return_value=httpx.Response(200, json={"access_token": "kit", "expires_in": 3600})
        )

    def delivery_route(self, router: respx.MockRouter, job: Job) -> respx.Route:
        self._token(router)
        return router.post(f"{DB}/elements")

    def success_response(self, job: Job) -> httpx.Response:
        return httpx.Response(
            200,
            json={"id": 4711, "instanceNumber": "REG/2026/03/00001", "status": "MovedToNextStep"},
        )

    def idempotency_marker(self, job: Job) -> str:
        return job.document.id  # WEBCON has no idempotency key: the correlation field is it

    def mock_reconcile(self, router: respx.MockRouter, job: Job, *, found: bool) -> bool:
        self._token(router)
        hits = [{"instanceId": 4711, "workflow": {"guid": WF}}] if found else []
        router.get(f"{DB}/applications/{APP}/search").mock(
            return_value=httpx.Response(
                200, json={"page": 1, "pageSize": 50, "count": len(hits), "elements": hits}
            )
        )
        if found:
            router.get(f"{DB}/elements/4711").mock(
                return_value=httpx.Response(
                    200,
                    json={
                        "header": {
                            "id": 4711,
                            "instanceNumber": "REG/2026/03/00001",
                            "creationDate": "2026-03-02T08:00:00Z",
                        },
                        "formFields": [{"guid": CORR, "value": job.document.id}],
                    },
                )
            )
        return True

    def mock_health(self, router: respx.MockRouter) -> bool:
        self._token(router)
        ok = lambda body: httpx.Response(200, json=body)  # noqa: E731
        router.get(f"{DB}/applications").mock(return_value=ok({"applications": [{"id": 1}]}))
        router.get(f"{DB}/applications/{APP}").mock(return_value=ok({"name": "Registratură"}))
        router.get(f"{DB}/workflows/{WF}").mock(return_value=ok({"id": 1, "guid": WF}))
        router.get(f"{DB}/formtypes/{FT}").mock(return_value=ok({"id": 1, "guid": FT}))
        router.get(f"{DB}/workflows/{WF}/associatedFormTypes").mock(
            return_value=ok({"associatedFormTypes": [{"guid": FT}]})
        )
        router.get(f"{DB}/workflows/{WF}/steps").mock(return_value=ok({"steps": [{"guid": START}]}))
        router.get(f"{DB}/steps/{START}").mock(return_value=ok({"guid": START, "type": "Start"}))
        router.get(f"{DB}/formlayout").mock(
            return_value=ok(
                {
                    "fields": [
                        {"guid": F_SUBJECT, "name": "Subiect", "requiredness": "Mandatory"},
                        {"guid": CORR, "name": "ID document hub", "requiredness": "Optional"},
                    ]
                }
            )
        )
        return True
