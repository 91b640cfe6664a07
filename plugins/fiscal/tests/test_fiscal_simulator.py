"""The simulated Directorate on its own: what it refuses, what it answers twice the same."""

from __future__ import annotations

import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import orjson
from hub_fiscal.simulator import DirectorateSimulator

from hub.builtin.signing import sign
from hub.demo.simulators import DemoContext
from hub.items import ItemStore
from hub.mail import SmtpSettings, send_message
from hub.testing.factories import valid_cnp
from hub.units import Unit, UnitDirectory

PATH = "/api/intake/v1/acts"


def _act(**overrides: Any) -> dict[str, Any]:
    data = {
        "kind": "amenda",
        "issuer": "Poliția Locală Timișoara",
        "report": {"series": "PLT", "number": "1"},
        "amount": {"value": "10.00", "currency": "RON"},
        "legal_basis": "HCL 371/2007",
        "communicated_on": "2026-11-20",
        "offender": {"type": "pf", "name": "Ana Test", "cnp": valid_cnp(321)},
        "attachments": [],
    }
    data.update(overrides)
    return {"type": "fiscal.act", "data": data}


async def _post(
    sim: DirectorateSimulator, msg_id: str, body: bytes, *, ts: int | None = None
) -> httpx.Response:
    ts = int(time.time()) if ts is None else ts
    async with httpx.AsyncClient(base_url=sim.url) as client:
        return await client.post(
            PATH,
            content=body,
            headers={
                "webhook-id": msg_id,
                "webhook-timestamp": str(ts),
                "webhook-signature": sign(sim.secret, msg_id, ts, body),
            },
        )


async def test_numbers_acts_and_answers_a_repeat_with_the_same_number(
    directorate: DirectorateSimulator,
) -> None:
    body = orjson.dumps(_act())
    first = await _post(directorate, "msg_1", body)
    again = await _post(directorate, "msg_1", body)
    other = await _post(directorate, "msg_2", body)
    assert first.status_code == 201 and again.status_code == 200 and other.status_code == 201
    assert first.json()["number"] == again.json()["number"] != other.json()["number"]
    assert len(directorate.acts) == 2 and directorate.requests["duplicate"] == 1


async def test_refuses_stale_or_missing_signatures_and_invalid_acts(
    directorate: DirectorateSimulator,
) -> None:
    body = orjson.dumps(_act())
    stale = await _post(directorate, "msg_old", body, ts=int(time.time()) - 3600)
    assert stale.status_code == 401 and "too old" in stale.json()["error"]["message"]
    async with httpx.AsyncClient(base_url=directorate.url) as client:
        unsigned = await client.post(PATH, content=body)
    assert unsigned.status_code == 401
    bad = orjson.dumps(
        _act(
            amount={"value": "10.5", "currency": "RON"},
            offender={"type": "pf", "name": "x", "cnp": "1234567890123"},
        )
    )
    invalid = await _post(directorate, "msg_bad", bad)
    assert invalid.status_code == 422
    assert invalid.json()["error"]["fields"] == ["amount", "offender.cnp"]
    assert directorate.acts == {}


async def test_down_and_health(directorate: DirectorateSimulator) -> None:
    directorate.faults.down = True
    async with httpx.AsyncClient(base_url=directorate.url) as client:
        assert (await client.get("/health")).status_code == 503
        resp = await _post(directorate, "msg_down", orjson.dumps(_act()))
        assert resp.status_code == 503 and resp.headers["Retry-After"] == "5"
        directorate.faults.clear()
        assert (await client.get("/health")).status_code == 200


def test_items_map_webhook_targets_and_email_codes_to_units() -> None:
    units = UnitDirectory(
        units=(
            Unit(code="DJ", name="Direcția Juridică", webhook_target="juridic-hooks"),
            Unit(code="SPFL", name="SPFL", email="spfl@primariatm.test"),
        )
    )
    store = ItemStore(None, units)  # type: ignore[arg-type]  # mapping only, no ledger
    assert store.unit_of("webhook", "JURIDIC-HOOKS") == "DJ"
    assert store.unit_of("webhook", "juridic-hooks") == "DJ"
    assert store.unit_of("webhook", "DJ") is None  # DJ's endpoint has another name
    assert store.unit_of("email", "SPFL") == "SPFL"
    assert store.unit_of("webhook", "SPFL") == "SPFL"  # code doubles as endpoint name
    assert store.unit_of("fiscal", None) is None


async def test_demo_smtp_simulator_serves_the_email_path(tmp_path: Path) -> None:
    from hub.demo.smtp import SmtpDemoSimulator

    sim = SmtpDemoSimulator()
    try:
        section = await sim.start(DemoContext(tmp_path, targets={"email": ["SPFL"]}))
        assert section["email"] == {"recipients": {"SPFL": "spfl@demo.primariatm.ro"}}
        smtp = SmtpSettings(host=section["smtp"]["host"], port=section["smtp"]["port"])
        message = EmailMessage()
        message["To"] = "spfl@demo.primariatm.ro"
        message["Subject"] = "Test"
        message.set_content("Conținut")
        await send_message(smtp, message)
        assert sim.counters() == {"e-mails": 1}
    finally:
        await sim.stop()
