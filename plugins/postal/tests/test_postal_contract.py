"""The hub's connector contract kit, run for the ``postal`` connector (courier shipments).

The connector reads the dispatch it sends from the plugin's table (the delivery's target is the
dispatch id). The kit's unit scenarios run without a hub, so they get a store holding one
dispatch whose addressee is the kit's fake person: the leak checks then cover the addressee.
The kit's through-a-hub metrics test is replaced by the same check on a hub that holds a real
dispatch (the kit's own hub has no postal tables filled), see ``test_metrics_emitted_through_hub``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from hub_postal.connector import PostalConnector

from hub.models import Job
from hub.testing import ConnectorContract
from hub.testing.factories import fake_sender
from hub.testing.remote import MockRemote

BASE = "https://courier.example.test"
DISPATCH = "0b6a3f0e-0000-4000-8000-00000000d15a"


def kit_dispatch() -> dict[str, Any]:
    person = fake_sender()
    return {
        "id": DISPATCH,
        "document_id": "doc",
        "registration_number": "REG/00001",
        "weight_grams": 200,
        "tracking_number": None,
        "addressee": {
            "name": person.name,
            "phone": person.phone,
            "email": person.email,
            "address": {
                "county": "TM",
                "locality": "Timișoara",
                "street": "Strada Exemplului",
                "number": "1",
                "postal_code": "300001",
            },
        },
    }


class _Dispatches:
    def __init__(self) -> None:
        self.row = kit_dispatch()
        self.awbs: list[str] = []

    async def get(self, dispatch_id: str) -> dict[str, Any] | None:
        return self.row if dispatch_id == DISPATCH else None

    async def set_awb(
        self, dispatch_id: str, awb: str, actor: str, cost_bani: int | None = None
    ) -> None:
        self.awbs.append(awb)


class TestPostalContract(ConnectorContract):
    connector_class = PostalConnector
    settings: dict[str, Any] = {
        "base_url": BASE,
        "client_id": "7032158",
        "username": "registratura",
        "password": "kit-secret-value-123",
    }
    target = DISPATCH

    def make_connector(self, remote: MockRemote) -> PostalConnector:
        conn = PostalConnector(self.build_settings(), transport=remote.transport)
        conn.dispatches = _Dispatches()
        return conn

    @staticmethod
    def _login(router: respx.MockRouter) -> None:
        router.post(f"{BASE}/login").mock(
            return_value=httpx.Response(200, json={"status": "success", "data": {"token": "t1"}})
        )

    def delivery_route(self, router: respx.MockRouter, job: Job) -> respx.Route:
        self._login(router)
        return router.post(f"{BASE}/intern-awb")

    def success_response(self, job: Job) -> httpx.Response:
        return httpx.Response(
            200, json={"response": [{"awbNumber": 2000000000042, "tariff": 15.1, "errors": None}]}
        )

    def mock_reconcile(self, router: respx.MockRouter, job: Job, *, found: bool) -> bool:
        self._login(router)
        data = (
            [{"info": {"awbNumber": 2000000000042, "content": job.idempotency_key}}]
            if found
            else [{"info": {"awbNumber": 2000000000001, "content": "someone-else"}}]
        )
        router.get(f"{BASE}/reports/awb").mock(
            return_value=httpx.Response(200, json={"status": "success", "data": data})
        )
        return True

    def mock_health(self, router: respx.MockRouter) -> bool:
        self._login(router)
        return True

    def test_metrics_emitted_through_hub(  # type: ignore[override]
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """Replaces the kit's version (its hub holds no dispatch): the same assertions on a
        hub where the dispatch was requested through the plugin's own service."""
        from postal_run import run_dispatch_through_hub

        run = asyncio.run(run_dispatch_through_hub(self.settings, tmp_path, monkeypatch))
        assert run.delivery["state"] == "delivered", run.delivery.get("last_error")
        assert run.sample("hub_deliveries_total", connector="postal", outcome="delivered") == 1
        assert run.sample("hub_attempt_seconds_count", connector="postal") == 1
        assert len(run.attempts) == 1


def test_refused_shipment_names_fields_not_values() -> None:
    """A per-shipment validation error is permanent, with the field paths only."""
    remote = MockRemote()
    TestPostalContract._login(remote.router)
    remote.router.post(f"{BASE}/intern-awb").mock(
        return_value=httpx.Response(
            200,
            json={
                "response": [
                    {
                        "awbNumber": None,
                        "success": False,
                        "errors": {"recipient.phone": "Ion Popescu-Test has no phone"},
                    }
                ]
            },
        )
    )
    kit = TestPostalContract()
    conn = kit.make_connector(remote)

    async def go() -> Exception:
        try:
            await conn.deliver(kit.make_job())
        except Exception as exc:
            return exc
        finally:
            await conn.aclose()
        raise AssertionError("delivered")

    error = asyncio.run(go())
    assert type(error).__name__ == "PermanentError"
    assert "recipient.phone" in str(error) and "Popescu" not in str(error)
