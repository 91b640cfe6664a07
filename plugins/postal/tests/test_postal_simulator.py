"""The courier simulator over real HTTP: login and token expiry, per-shipment validation,
the state machine over time, faults; and the demo's wrapper."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from hub_postal.demo import PostalDemoSimulator
from hub_postal.simulator import CourierSimulator

from hub.demo.simulators import DemoContext


def shipment(**recipient: Any) -> dict[str, Any]:
    base = {
        "name": "Ana Test",
        "phone": "0722111222",
        "address": {
            "county": "Timiș",
            "locality": "Timișoara",
            "street": "Eroilor",
            "zipCode": "300001",
        },
    }
    base.update(recipient)
    return {
        "info": {
            "service": "Standard",
            "packages": {"parcel": 0, "envelope": 1},
            "weight": 0.2,
            "payment": "sender",
            "content": "ref-1",
            "options": ["X"],
        },
        "recipient": base,
    }


async def login(api: httpx.AsyncClient, sim: CourierSimulator) -> dict[str, str]:
    answer = await api.post("/login", json={"username": sim.username, "password": sim.password})
    assert answer.status_code == 200
    return {"Authorization": f"Bearer {answer.json()['data']['token']}"}


async def test_login_token_expiry_and_validation(courier_sim: CourierSimulator) -> None:
    async with httpx.AsyncClient(base_url=courier_sim.url) as api:
        wrong = await api.post("/login", json={"username": "x", "password": "y"})
        assert wrong.status_code == 401
        auth = await login(api, courier_sim)
        body = {
            "clientId": courier_sim.client_id,
            "shipments": [
                shipment(),
                shipment(
                    phone="",
                    address={"county": "Narnia", "locality": "", "street": "S", "zipCode": "12"},
                ),
            ],
        }
        answer = await api.post("/intern-awb", json=body, headers=auth)
        assert answer.status_code == 200
        ok, refused = answer.json()["response"]
        assert ok["awbNumber"] and ok["errors"] is None
        assert refused["awbNumber"] is None
        assert set(refused["errors"]) == {
            "recipient.phone",
            "recipient.address.county",
            "recipient.address.locality",
            "recipient.address.zipCode",
        }
        courier_sim.expire_tokens()
        expired = await api.post("/intern-awb", json=body, headers=auth)
        assert expired.status_code == 401
        assert len(courier_sim.shipments) == 1


async def test_state_machine_advances_over_time() -> None:
    now = [1_800_000_000.0]
    sim = CourierSimulator(step_seconds=60, clock=lambda: now[0])
    await sim.start()
    try:
        async with httpx.AsyncClient(base_url=sim.url) as api:
            auth = await login(api, sim)
            created = await api.post(
                "/intern-awb",
                json={"clientId": sim.client_id, "shipments": [shipment()]},
                headers=auth,
            )
            awb = str(created.json()["response"][0]["awbNumber"])
            params = {"clientId": sim.client_id, "awb[]": awb}

            async def codes() -> list[str]:
                data = (await api.get("/reports/awb/tracking", params=params, headers=auth)).json()
                return [e["id"] for e in data["data"][0]["events"]]

            assert await codes() == []
            now[0] += 125
            assert await codes() == ["C0", "H10"]
            proof = await api.get("/reports/get-awb-confirmations", params=params, headers=auth)
            assert proof.json()["data"] == []  # not delivered yet
            now[0] += 600
            assert await codes() == ["C0", "H10", "S1", "S2"]
            data = (await api.get("/reports/awb/tracking", params=params, headers=auth)).json()
            assert data["data"][0]["confirmation"]["name"] == "Ana Test"
            proof = await api.get("/reports/get-awb-confirmations", params=params, headers=auth)
            (item,) = proof.json()["data"]
            assert item["mimeType"] == "application/pdf" and item["image"]
    finally:
        await sim.stop()


async def test_faults(courier_sim: CourierSimulator) -> None:
    courier_sim.fault("status", "login", status=503)
    async with httpx.AsyncClient(base_url=courier_sim.url) as api:
        down = await api.post(
            "/login", json={"username": courier_sim.username, "password": courier_sim.password}
        )
        assert down.status_code == 503 and down.headers["Retry-After"] == "1"
        auth = await login(api, courier_sim)
        courier_sim.fault("drop", "track")
        with pytest.raises(httpx.RemoteProtocolError):
            await api.get(
                "/reports/awb/tracking",
                params={"clientId": courier_sim.client_id, "awb[]": "1"},
                headers=auth,
            )


async def test_demo_simulator(tmp_path: Path) -> None:
    demo = PostalDemoSimulator()
    overrides = await demo.start(DemoContext(data_dir=tmp_path))
    try:
        section = overrides["postal"]
        assert section["base_url"] == demo.url() and section["tracking"]["interval_seconds"] > 0
        assert demo.counters() == {"AWBs": 0, "delivered": 0, "api calls": 0}
    finally:
        await demo.stop()
