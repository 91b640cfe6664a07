"""End to end: items delivered to units (webhook and e-mail), acknowledged, returned as not
competent, re-routed within the 5-day term of OG 27/2002 art. 6¹, and followed up — each unit
seeing only its own items."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fiscal_helpers import FAST_RETRY, own_plugins, settled
from hub_fiscal.followup import FollowupSource

from hub.api.app import create_app
from hub.demo.sink import WebhookSink
from hub.items import redirect_due
from hub.runtime import Hub
from hub.testing.factories import make_document_in
from hub.testing.hubrun import dispatching
from hub.testing.smtp import SmtpSink

RULES = {
    "rule": [
        {
            "name": "court acts",
            "kinds": ["act_procedura"],
            "department": "DJ",
            "destinations": [{"connector": "webhook", "target": "DJ"}],
        },
        {
            "name": "housing",
            "kinds": ["corespondenta"],
            "department": "SPFL",
            "destinations": [{"connector": "email", "target": "SPFL"}],
        },
    ],
    "fallback": {"destinations": [{"connector": "noop"}]},
}


@dataclass
class Desk:
    hub: Hub
    api: httpx.AsyncClient
    tokens: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def submit(self, **overrides: Any) -> str:
        result = await self.hub.intake.submit(
            self.hub.intake.prepare(make_document_in(**overrides))
        )
        await settled(self.hub, result.document_id)
        return result.document_id


@pytest.fixture
async def desk(
    make_hub: Callable[..., Hub],
    departments: WebhookSink,
    smtp: SmtpSink,
    units_file: Path,
) -> AsyncIterator[Desk]:
    section = departments.section["webhook"] | {"retry": FAST_RETRY}  # type: ignore[attr-defined]
    hub = make_hub(
        rules=RULES,
        overrides={
            "webhook": section,
            "email": {"retry": FAST_RETRY},
            "smtp": {"host": "127.0.0.1", "port": smtp.port},
            "units_file": units_file,
            "departments": {"ack_within_hours": 1e-6},
        },
        **own_plugins(),
    )
    tokens = {
        "dj": await hub.runner.write(hub.ledger.create_token, "dj", ["unit"], "DJ"),
        "dt": await hub.runner.write(hub.ledger.create_token, "dt", ["unit"], "DT"),
        "spfl": await hub.runner.write(hub.ledger.create_token, "spfl", ["unit"], "SPFL"),
        "ops": await hub.runner.write(hub.ledger.create_token, "ops", ["operator"]),
        "viewer": await hub.runner.write(hub.ledger.create_token, "viewer", ["read"]),
        "desk": await hub.runner.write(hub.ledger.create_token, "desk", ["intake"]),
    }
    transport = httpx.ASGITransport(app=create_app(hub))
    client = httpx.AsyncClient(transport=transport, base_url="http://hub.test")
    async with dispatching(hub), client as api:
        yield Desk(hub, api, tokens)


async def test_a_unit_sees_and_acknowledges_only_its_own_items(desk: Desk) -> None:
    doc_id = await desk.submit(kind="act_procedura")
    mine = (await desk.api.get("/api/v1/items", headers=desk.auth("dj"))).json()
    assert [(i["document_id"], i["unit"], i["status"]) for i in mine] == [
        (doc_id, "DJ", "delivered")
    ]
    item_id = mine[0]["id"]
    # DT's token: DJ's item does not exist for it, whatever it tries.
    assert (await desk.api.get("/api/v1/items", headers=desk.auth("dt"))).json() == []
    for method, url in (
        ("GET", f"/api/v1/items/{item_id}"),
        ("GET", "/api/v1/items?unit=DJ"),
        ("POST", f"/api/v1/items/{item_id}/ack"),
    ):
        resp = await desk.api.request(method, url, headers=desk.auth("dt"))
        assert resp.status_code == 404, (method, url, resp.text)
    returned = await desk.api.post(
        f"/api/v1/items/{item_id}/return",
        json={"reason": "nu e al nostru"},
        headers=desk.auth("dt"),
    )
    assert returned.status_code == 404
    # A unit token reaches nothing else of the API.
    assert (
        await desk.api.get(f"/api/v1/documents/{doc_id}", headers=desk.auth("dj"))
    ).status_code == 403
    ack = await desk.api.post(f"/api/v1/items/{item_id}/ack", headers=desk.auth("dj"))
    assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
    again = await desk.api.post(f"/api/v1/items/{item_id}/ack", headers=desk.auth("dj"))
    assert again.json()["acknowledged_at"] == ack.json()["acknowledged_at"]
    events = (await desk.hub.runner.read(desk.hub.ledger.timeline, doc_id))["events"]
    acks = [e for e in events if e["action"] == "item_acknowledged"]
    assert len(acks) == 1 and acks[0]["actor"] == "unit:DJ" and acks[0]["delivery_id"] == item_id
    everyone = (await desk.api.get("/api/v1/items", headers=desk.auth("viewer"))).json()
    assert [i["id"] for i in everyone] == [item_id]


async def test_returned_item_is_rerouted_within_the_five_day_term(
    desk: Desk, smtp: SmtpSink
) -> None:
    doc_id = await desk.submit(kind="act_procedura")
    (item,) = (await desk.api.get("/api/v1/items", headers=desk.auth("dj"))).json()
    bad = await desk.api.post(
        f"/api/v1/items/{item['id']}/return", json={"reason": ""}, headers=desk.auth("dj")
    )
    assert bad.status_code == 422
    returned = await desk.api.post(
        f"/api/v1/items/{item['id']}/return",
        json={"reason": "Nu este de competența Direcției Juridice: locuințe sociale"},
        headers=desk.auth("dj"),
    )
    assert returned.status_code == 200, returned.text
    view = returned.json()
    assert view["status"] == "returned"
    due = date.fromisoformat(view["redirect_due"])
    assert due == redirect_due(datetime.fromisoformat(view["returned_at"]))
    assert 5 <= (due - datetime.fromisoformat(view["returned_at"]).date()).days <= 9
    doc = await desk.hub.documents.get(doc_id)
    assert doc is not None and doc.status == "de_redirectionat"
    assert doc.metadata["redirection"]["due"] == view["redirect_due"]
    assert doc.metadata["redirection"]["returned_by"] == "DJ"
    assert doc.metadata["redirection"]["legal_basis"] == "OG 27/2002 art. 6¹"
    # The registry's queue, and a returned item cannot be acknowledged any more.
    queue = (await desk.api.get("/api/v1/items?status=returned", headers=desk.auth("ops"))).json()
    assert [(q["id"], q["redirect_due"]) for q in queue] == [(item["id"], view["redirect_due"])]
    late_ack = await desk.api.post(f"/api/v1/items/{item['id']}/ack", headers=desk.auth("dj"))
    assert late_ack.status_code == 409
    # Only the registry re-routes, and not back to the unit that returned it.
    url = f"/api/v1/items/{item['id']}/reroute"
    assert (
        await desk.api.post(url, json={"unit": "SPFL"}, headers=desk.auth("dj"))
    ).status_code == 403
    assert (
        await desk.api.post(url, json={"unit": "DJ"}, headers=desk.auth("ops"))
    ).status_code == 409
    assert (
        await desk.api.post(url, json={"unit": "NOPE"}, headers=desk.auth("ops"))
    ).status_code == 422
    moved = await desk.api.post(url, json={"unit": "SPFL"}, headers=desk.auth("ops"))
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "rerouted" and moved.json()["rerouted_to"] == "SPFL"
    new_id = moved.json()["new_item_id"]
    await smtp.wait_for(1)
    rows = await settled(desk.hub, doc_id)
    assert rows[("email", "SPFL")]["state"] == "delivered"
    (spfl_item,) = (await desk.api.get("/api/v1/items", headers=desk.auth("spfl"))).json()
    assert spfl_item["id"] == new_id and spfl_item["status"] == "delivered"
    doc = await desk.hub.documents.get(doc_id)
    assert doc is not None and doc.status == "redirectionat" and doc.department == "SPFL"
    assert doc.metadata["redirection"]["within_term"] is True
    assert doc.metadata["redirection"]["due"] == view["redirect_due"]
    (mail,) = smtp.received
    assert mail.rcpt_tos == ("spfl@primariatm.test",)


async def test_overdue_items_are_listed_and_reminded_once(desk: Desk, smtp: SmtpSink) -> None:
    first = await desk.submit(kind="corespondenta")
    await desk.submit(kind="act_procedura")
    await smtp.wait_for(1)  # the item itself, e-mailed to SPFL
    await asyncio.sleep(0.01)
    listed = (await desk.api.get("/api/v1/units/overdue", headers=desk.auth("viewer"))).json()
    assert sorted(listed["units"]) == ["DJ", "SPFL"]
    assert listed["units"]["SPFL"][0]["document_id"] == first
    source = desk.hub.sources["units-followup"]
    assert isinstance(source, FollowupSource)
    assert await source.remind_once() == {"overdue": 2, "reminded": 2, "failed": 0}
    assert await source.remind_once() == {"overdue": 0, "reminded": 0, "failed": 0}
    messages = await smtp.wait_for(3)
    reminders = [m for m in messages if str(m["Subject"]).startswith("Reamintire")]
    assert len(reminders) == 2
    to_spfl = next(m for m in reminders if m["To"] == "spfl@primariatm.test")
    assert to_spfl["Cc"] == "sef.spfl@primariatm.test"
    assert "neconfirmate" in str(to_spfl["Subject"])
    events = (await desk.hub.runner.read(desk.hub.ledger.timeline, first))["events"]
    assert [e["actor"] for e in events if e["action"] == "item_reminded"] == ["hub:followup"]
    # Still listed as overdue (with the reminder's time), never reminded again.
    listed = (await desk.api.get("/api/v1/units/overdue", headers=desk.auth("viewer"))).json()
    assert all(i["reminded_at"] for items in listed["units"].values() for i in items)
    assert await source.remind_once() == {"overdue": 0, "reminded": 0, "failed": 0}
    assert len(smtp.received) == 3
