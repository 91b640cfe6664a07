"""End to end: a real Hub delivering fines and fiscal acts to the simulated Fiscal Directorate
over real HTTP on 127.0.0.1, and the summary built from what it acknowledged."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest
from fiscal_helpers import (
    FAST_RETRY,
    company_offender,
    fine_in,
    fine_metadata,
    own_plugins,
    settled,
)
from hub_fiscal.simulator import DirectorateSimulator

from hub.api.app import create_app
from hub.builtin.signing import sign
from hub.runtime import Hub
from hub.testing.factories import valid_cnp
from hub.testing.hubrun import dispatching
from tests.servers import serve_asgi

RULES = {
    "rule": [
        {
            "name": "fiscal acts and fines",
            "kinds": ["act_executare_fiscala", "amenda"],
            "department": "DF",
            "destinations": [{"connector": "fiscal"}],
        }
    ],
    "fallback": {"destinations": [{"connector": "noop"}]},
}
PDF = b"%PDF-1.4 proces-verbal\n" + bytes(range(256))


@pytest.fixture
def fiscal_hub(
    make_hub: Callable[..., Hub], directorate: DirectorateSimulator
) -> Callable[..., Hub]:
    def build(section: dict[str, Any] | None = None, **overrides: Any) -> Hub:
        settings = directorate.settings(retry=FAST_RETRY) | (section or {})
        return make_hub(rules=RULES, overrides={"fiscal": settings} | overrides, **own_plugins())

    return build


def _pdf_attachment() -> dict[str, str]:
    return {
        "filename": "proces-verbal.pdf",
        "content_type": "application/pdf",
        "content_base64": base64.b64encode(PDF).decode(),
    }


async def test_fine_at_the_counter_reaches_the_directorate_and_is_acknowledged(
    fiscal_hub: Callable[..., Hub], directorate: DirectorateSimulator
) -> None:
    hub = fiscal_hub()
    desk = await hub.runner.write(hub.ledger.create_token, "ghiseu", ["intake"])
    reader = await hub.runner.write(hub.ledger.create_token, "viewer", ["read"])
    body = fine_in(attachments=[_pdf_attachment()]).model_dump(mode="json")
    transport = httpx.ASGITransport(app=create_app(hub))
    client = httpx.AsyncClient(transport=transport, base_url="http://hub.test")
    async with dispatching(hub), client as api:
        created = await api.post(
            "/api/v1/documents", json=body, headers={"Authorization": f"Bearer {desk}"}
        )
        assert created.status_code == 201, created.text
        doc_id = created.json()["id"]
        rows = await settled(hub, doc_id)
        shown = await api.get(
            f"/api/v1/documents/{doc_id}", headers={"Authorization": f"Bearer {reader}"}
        )
    fiscal = rows["fiscal"]
    assert fiscal["state"] == "delivered", fiscal["last_error"]
    # The simulator registers only what carries a valid signature made with the shared secret.
    assert directorate.requests["rejected"] == 0
    (act,) = directorate.acts.values()
    assert act.webhook_id == fiscal["idempotency_key"]
    assert act.data["hub_document_id"] == doc_id
    assert act.data["amount"] == {"value": "150.00", "currency": "RON"}
    assert act.data["offender"] == {
        "type": "pf",
        "name": "Ion Popescu-Test",
        "cnp": valid_cnp(),
        "address": "Strada Exemplului nr. 1, Timișoara",
    }
    assert act.data["issuer"] == "Poliția Locală Timișoara"
    assert act.files == {hashlib.sha256(PDF).hexdigest(): PDF}
    # The Directorate's own number is the receipt, visible with the document.
    assert shown.status_code == 200
    (delivery,) = shown.json()["deliveries"]
    assert delivery["receipt"]["remote_id"] == act.number
    assert delivery["receipt"]["data"]["directorate_number"] == act.number
    assert delivery["receipt"]["status"] == "acknowledged"
    assert act.number.startswith(f"DFMT/{datetime.now().year}/")
    assert "Ion" not in orjson.dumps(delivery["receipt"]).decode()


async def test_tampered_signature_is_refused(directorate: DirectorateSimulator) -> None:
    body = orjson.dumps({"type": "fiscal.act", "data": {"kind": "amenda"}})
    ts = int(time.time())
    good = sign(directorate.secret, "msg_tamper", ts, body)
    tampered = good[:-6] + ("AAAAA=" if not good.endswith("AAAAA=") else "BBBBB=")
    async with httpx.AsyncClient(base_url=directorate.url) as client:
        for signature, payload in ((tampered, body), (good, body.replace(b"amenda", b"amendA"))):
            resp = await client.post(
                "/api/intake/v1/acts",
                content=payload,
                headers={
                    "webhook-id": "msg_tamper",
                    "webhook-timestamp": str(ts),
                    "webhook-signature": signature,
                    "content-type": "application/json",
                },
            )
            assert resp.status_code == 401
            assert resp.json()["error"]["code"] == "invalid_signature"
    assert directorate.acts == {} and directorate.requests["rejected"] == 2


async def test_wrong_secret_dead_letters_with_a_clear_reason(
    fiscal_hub: Callable[..., Hub], directorate: DirectorateSimulator
) -> None:
    other = "whsec_" + base64.b64encode(b"not-the-directorate-secret-0001").decode()
    hub = fiscal_hub({"secret": other})
    async with dispatching(hub):
        result = await hub.intake.submit(hub.intake.prepare(fine_in()))
        rows = await settled(hub, result.document_id)
    assert rows["fiscal"]["state"] == "dead"
    assert "refused the signature" in rows["fiscal"]["last_error"]
    assert rows["fiscal"]["attempts"] == 1
    assert directorate.acts == {} and directorate.requests["rejected"] == 1


async def test_bad_fine_is_dead_lettered_before_sending(
    fiscal_hub: Callable[..., Hub], directorate: DirectorateSimulator
) -> None:
    hub = fiscal_hub()
    async with dispatching(hub):
        result = await hub.intake.submit(
            hub.intake.prepare(fine_in(metadata=fine_metadata(amount="150.5")))
        )
        rows = await settled(hub, result.document_id)
    assert rows["fiscal"]["state"] == "dead"
    assert "metadata.fiscal.amount" in rows["fiscal"]["last_error"]
    assert directorate.requests["intake"] == 0


async def test_down_slow_and_lost_answers_register_once(
    fiscal_hub: Callable[..., Hub], directorate: DirectorateSimulator
) -> None:
    directorate.faults.fail_next(503, count=2)
    directorate.faults.drop_after_commit = 1
    hub = fiscal_hub()
    async with dispatching(hub):
        result = await hub.intake.submit(hub.intake.prepare(fine_in()))
        rows = await settled(hub, result.document_id)
    fiscal = rows["fiscal"]
    assert fiscal["state"] == "delivered" and fiscal["attempts"] == 4
    (act,) = directorate.acts.values()  # registered once, though sent twice after the drop
    assert directorate.requests["duplicate"] == 1
    assert fiscal["receipt"]["remote_id"] == act.number


async def test_attachments_by_signed_link(
    fiscal_hub: Callable[..., Hub], directorate: DirectorateSimulator
) -> None:
    hub = fiscal_hub(
        {"attachments": "link", "link_ttl_seconds": 600},
        download_link_secret="link-secret-for-tests-0001",
    )
    async with serve_asgi(create_app(hub)) as base_url:
        hub.settings.public_url = base_url
        async with dispatching(hub):
            result = await hub.intake.submit(
                hub.intake.prepare(fine_in(attachments=[_pdf_attachment()]))
            )
            rows = await settled(hub, result.document_id)
        assert rows["fiscal"]["state"] == "delivered", rows["fiscal"]["last_error"]
        (act,) = directorate.acts.values()
        (entry,) = act.data["attachments"]
        assert "content_base64" not in entry and entry["url"].startswith(base_url)
        assert act.files == {hashlib.sha256(PDF).hexdigest(): PDF}
        async with httpx.AsyncClient() as client:
            forged = entry["url"].replace("sig=", "sig=0")[:-1]
            assert (await client.get(forged)).status_code == 403
            expired = entry["url"].split("?")[0] + "?expires=1&sig=" + "0" * 64
            assert (await client.get(expired)).status_code == 403


async def test_daily_summary_in_the_api_and_as_csv(
    fiscal_hub: Callable[..., Hub], directorate: DirectorateSimulator
) -> None:
    hub = fiscal_hub()
    fines = [
        fine_in(metadata=fine_metadata(amount="150.00")),
        fine_in(metadata=fine_metadata(amount="99.99", number="0012346")),
        fine_in(
            kind="act_executare_fiscala",
            metadata=fine_metadata(
                issuer="ANAF Timiș", amount="1200.50", offender=company_offender()
            ),
        ),
    ]
    async with dispatching(hub):
        for doc in fines:
            result = await hub.intake.submit(hub.intake.prepare(doc))
            await settled(hub, result.document_id)
    assert len(directorate.acts) == 3
    reader = await hub.runner.write(hub.ledger.create_token, "viewer", ["read"])
    unit = await hub.runner.write(hub.ledger.create_token, "dj", ["unit"], "DJ")
    today = datetime.now(ZoneInfo("Europe/Bucharest")).date().isoformat()
    transport = httpx.ASGITransport(app=create_app(hub))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as api:
        auth = {"Authorization": f"Bearer {reader}"}
        summary = (await api.get(f"/api/v1/fiscal/summary?date={today}", headers=auth)).json()
        csv = await api.get(f"/api/v1/fiscal/summary?date={today}&format=csv", headers=auth)
        other_day = (await api.get("/api/v1/fiscal/summary?date=2020-01-01", headers=auth)).json()
        denied = await api.get(
            f"/api/v1/fiscal/summary?date={today}", headers={"Authorization": f"Bearer {unit}"}
        )
    assert summary["issuers"] == [
        {"issuer": "ANAF Timiș", "count": 1, "total": "1200.50"},
        {"issuer": "Poliția Locală Timișoara", "count": 2, "total": "249.99"},
    ]
    assert summary["count"] == 3 and summary["total"] == "1450.49"
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines() == [
        "data,emitent,numar_acte,total_ron",
        f"{today},ANAF Timiș,1,1200.50",
        f"{today},Poliția Locală Timișoara,2,249.99",
        f"{today},TOTAL,3,1450.49",
    ]
    assert other_day["count"] == 0 and other_day["total"] == "0.00"
    assert denied.status_code == 403


async def test_down_then_slow_directorate_still_registers_once(
    fiscal_hub: Callable[..., Hub], directorate: DirectorateSimulator
) -> None:
    directorate.faults.down = True
    directorate.faults.retry_after = 0
    hub = fiscal_hub({"timeout_seconds": 0.3, "retry": FAST_RETRY | {"max_attempts": 50}})
    async with dispatching(hub):
        result = await hub.intake.submit(hub.intake.prepare(fine_in()))
        while directorate.requests["down"] < 2:
            await asyncio.sleep(0.01)
        # Back up, but slower than the hub waits: the first answer is lost, the act is kept.
        directorate.faults.down = False
        directorate.faults.latency = 0.6
        while directorate.requests["registered"] < 1:
            await asyncio.sleep(0.01)
        directorate.faults.latency = 0.0
        rows = await settled(hub, result.document_id)
    fiscal = rows["fiscal"]
    assert fiscal["state"] == "delivered", fiscal["last_error"]
    (act,) = directorate.acts.values()
    assert fiscal["receipt"]["remote_id"] == act.number
    attempts = (await hub.runner.read(hub.ledger.timeline, result.document_id))["attempts"]
    outcomes = [a["outcome"] for a in attempts]
    # 503s carry the Directorate's error code; the timeouts are ambiguous (maybe registered).
    assert outcomes.count("maintenance") >= 2 and "AmbiguousError" in outcomes
    assert outcomes[-1] == "delivered"


async def test_doctor_flags_the_builtin_secret(directorate: DirectorateSimulator) -> None:
    from hub_fiscal.connector import FiscalConnector
    from hub_fiscal.settings import FiscalSettings

    default = {c.name: c for c in await FiscalConnector(FiscalSettings()).health()}
    assert not default["secret"].ok and "HUB_FISCAL__SECRET" in default["secret"].detail
    own = FiscalConnector(FiscalSettings.model_validate(directorate.settings()))
    assert all(c.ok for c in await own.health())
