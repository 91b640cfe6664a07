"""Paper acts through the intake API, the daily centralizator, the handover that closes their
deliveries, the notice board with its records and reminder, and the hearing calendar."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, timedelta
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from courts_helpers import RULES, delivery_rows, registration_day, settled
from hub_courts.noticeboard import NoticeBoardSource
from hub_courts.simulator import PortalSimulator
from hub_courts.source import CourtsSource
from icalendar import Calendar
from pypdf import PdfReader
from sqlalchemy import select

from hub.api.app import create_app
from hub.db.schema import events
from hub.runtime import Hub
from hub.testing.hubrun import dispatching

TZ = ZoneInfo("Europe/Bucharest")


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF")
    return "\n".join(p.extract_text() for p in PdfReader(BytesIO(data)).pages)


def paper_act(n: int, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": "ghiseu",
        "external_id": f"act-{n}",
        "channel": "executor",
        "subject": f"Adresă de înființare a popririi nr. {n}",
        "department": "DJ",
        "metadata": {
            "act_type": "poprire",
            "issuer": "Biroul executorului judecătoresc Ștefănescu",
            "case_number": f"{n}/2026",
        },
    }
    body.update(overrides)
    return body


@pytest.fixture
async def api(make_hub: Callable[..., Hub], portal: PortalSimulator) -> Any:
    hub = make_hub(rules=RULES, overrides={"courts": portal.settings(courts=["TribunalulTIMIS"])})
    async with dispatching(hub):
        tokens = {
            scope: await hub.runner.write(hub.ledger.create_token, f"t-{scope}", [scope])
            for scope in ("intake", "read", "operator")
        }
        transport = httpx.ASGITransport(app=create_app(hub))
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
            yield hub, client, {s: {"Authorization": f"Bearer {t}"} for s, t in tokens.items()}


async def test_paper_acts_centralizator_and_handover(api: Any) -> None:
    hub, client, auth = api
    ids = []
    for n in range(1, 4):
        r = await client.post("/api/v1/documents", json=paper_act(n), headers=auth["intake"])
        assert r.status_code in (200, 201, 202), r.text
        ids.append(r.json()["document_id"] if "document_id" in r.json() else r.json()["id"])
    fiscal = paper_act(
        9,
        department=None,
        metadata={"act_type": "titlu_executoriu", "fiscal": True, "issuer": "ANAF"},
    )
    r = await client.post("/api/v1/documents", json=fiscal, headers=auth["intake"])
    assert r.status_code in (200, 201, 202), r.text

    for doc_id in ids:
        rows = await settled(hub, doc_id)
        assert rows["noop"]["state"] == "delivered"
        assert rows["handover"]["state"] == "pending"  # awaiting the signature
        doc = await hub.documents.get(doc_id)
        assert doc is not None and doc.kind == "act_procedura" and doc.department == "DJ"
    fiscal_doc = [d for d in hub.ledger.find_documents(kind="act_executare_fiscala")]
    assert len(fiscal_doc) == 1

    today = registration_day(hub, ids[0]).isoformat()
    r = await client.get(
        "/api/v1/courts/centralizator",
        params={"date": today, "department": "DJ"},
        headers=auth["read"],
    )
    assert r.status_code == 200
    acts = r.json()["acts"]
    assert [a["document_id"] for a in acts] == ids
    assert acts[0]["issuer"] == "Biroul executorului judecătoresc Ștefănescu"
    assert acts[0]["act"] == "Adresă de înființare a popririi"

    r = await client.get(
        "/api/v1/courts/centralizator",
        params={"date": today, "department": "DJ", "format": "pdf"},
        headers=auth["read"],
    )
    text = pdf_text(r.content)
    assert "Centralizator acte de procedură primite" in text
    assert "Ștefănescu" in text and "Semnătură primire" in text
    assert "1/2026" in text and "3/2026" in text

    r = await client.get(
        "/api/v1/courts/centralizator",
        params={"date": today, "department": "DJ", "format": "csv"},
        headers=auth["read"],
    )
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "Nr. crt." and rows[0][-1] == "Semnătură"
    assert len(rows) == 4 and rows[1][5] == "1/2026"

    handover = {"date": today, "department": "DJ", "received_by": "Ioana Mureșan"}
    denied = await client.post("/api/v1/courts/handovers", json=handover, headers=auth["read"])
    assert denied.status_code == 403
    r = await client.post("/api/v1/courts/handovers", json=handover, headers=auth["operator"])
    assert r.status_code == 200, r.text
    assert r.json()["documents"] == 3 and r.json()["deliveries_closed"] == 3
    for doc_id in ids:
        rows = {d["connector"]: d for d in delivery_rows(hub, doc_id)}
        assert rows["handover"]["state"] == "delivered"
        assert rows["handover"]["receipt"]["data"]["received_by"] == "Ioana Mureșan"
    with hub.ledger.reader.connect() as conn:
        completed = conn.execute(select(events).where(events.c.action == "completed")).all()
    assert len(completed) == 3 and all(e.actor == "token:t-operator" for e in completed)

    # Again: nothing new to hand over, nothing closed twice.
    r = await client.post("/api/v1/courts/handovers", json=handover, headers=auth["operator"])
    assert r.json()["documents"] == 0 and r.json()["deliveries_closed"] == 0
    r = await client.get(
        "/api/v1/courts/centralizator",
        params={"date": today, "department": "DJ", "format": "pdf"},
        headers=auth["read"],
    )
    assert "Ioana Mureșan" in pdf_text(r.content)

    bad = await client.post(
        "/api/v1/courts/handovers", json=handover | {"received_by": ""}, headers=auth["operator"]
    )
    assert bad.status_code == 422


async def test_notice_board_posting_removal_records_and_one_reminder(api: Any) -> None:
    hub, client, auth = api
    posted_on = date(2026, 12, 18)  # + 7 days = 25 December (Crăciun) → 28 December (Monday)
    body = {
        "act": "Citație în dosarul 1234/30/2026",
        "posted_on": posted_on.isoformat(),
        "posted_by": "Mihaela Țurcanu",
        "issuer": "Tribunalul Timiș",
        "case_number": "1234/30/2026",
        "addressee": "Popescu Ion",
    }
    assert (
        await client.post("/api/v1/notice-board", json=body, headers=auth["read"])
    ).status_code == 403
    r = await client.post("/api/v1/notice-board", json=body, headers=auth["operator"])
    assert r.status_code == 201, r.text
    posting = r.json()
    assert posting["removal_due"] == "2026-12-28"

    listed = (await client.get("/api/v1/notice-board", headers=auth["read"])).json()
    assert [p["id"] for p in listed] == [posting["id"]]

    r = await client.get(
        f"/api/v1/notice-board/{posting['id']}/proces-verbal-afisare.pdf", headers=auth["read"]
    )
    text = pdf_text(r.content)
    assert "Proces-verbal de afișare" in text
    assert "Mihaela Țurcanu" in text and "18.12.2026" in text and "28.12.2026" in text
    assert "art. 163" in text and "Citație în dosarul 1234/30/2026" in text
    r = await client.get(
        f"/api/v1/notice-board/{posting['id']}/proces-verbal-dezafisare.pdf", headers=auth["read"]
    )
    assert r.status_code == 409

    # The reminder: once, however many rounds run.
    source = hub.sources["courts-notice-board"]
    assert isinstance(source, NoticeBoardSource)
    source.today = lambda: date(2026, 12, 27)  # type: ignore[method-assign]
    await hub.source_runner.poll_once("courts-notice-board", source)
    source.today = lambda: date(2026, 12, 28)  # type: ignore[method-assign]
    for _ in range(3):
        await hub.source_runner.poll_once("courts-notice-board", source)
    with hub.ledger.reader.connect() as conn:
        reminders = conn.execute(
            select(events).where(events.c.action == "posting_due_removal")
        ).all()
    assert len(reminders) == 1 and "2026-12-28" in reminders[0].reason

    early = await client.post(
        f"/api/v1/notice-board/{posting['id']}/removal",
        json={"removed_on": "2026-12-01", "removed_by": "Ana Pop"},
        headers=auth["operator"],
    )
    assert early.status_code == 422
    r = await client.post(
        f"/api/v1/notice-board/{posting['id']}/removal",
        json={"removed_on": "2026-12-28", "removed_by": "Ștefan Dinu"},
        headers=auth["operator"],
    )
    assert r.status_code == 200 and r.json()["removed_on"] == "2026-12-28"
    assert (await client.get("/api/v1/notice-board", headers=auth["read"])).json() == []
    every = (
        await client.get("/api/v1/notice-board", params={"all": "true"}, headers=auth["read"])
    ).json()
    assert len(every) == 1
    r = await client.get(
        f"/api/v1/notice-board/{posting['id']}/proces-verbal-dezafisare.pdf", headers=auth["read"]
    )
    text = pdf_text(r.content)
    assert "Proces-verbal de dezafișare" in text and "Ștefan Dinu" in text and "28.12.2026" in text
    assert (
        await client.get("/api/v1/notice-board/999/proces-verbal-afisare.pdf", headers=auth["read"])
    ).status_code == 404


async def test_hearings_calendar_is_valid_icalendar(api: Any, portal: PortalSimulator) -> None:
    hub, client, auth = api
    store = portal.store
    case = store.add_case("TribunalulTIMIS", municipality="MUNICIPIUL TIMIŞOARA", hearings=2)
    src = hub.sources["courts"]
    assert isinstance(src, CourtsSource)
    await hub.source_runner.poll_once("courts", src)
    store.move_hearing(case.court, case.number, days=3)
    await hub.source_runner.poll_once("courts", src)

    r = await client.get("/api/v1/courts/hearings.ics", headers=auth["read"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    cal = Calendar.from_ical(r.content)
    evs = cal.walk("VEVENT")
    assert len(evs) == 2
    starts = sorted(e.decoded("dtstart") for e in evs)
    expected = sorted(h.at.replace(tzinfo=TZ) for h in store.get(case.court, case.number).hearings)
    assert starts == expected
    assert all(e["uid"] for e in evs) and len({str(e["uid"]) for e in evs}) == 2
    assert "Tribunalul Timiș" in str(evs[0]["summary"])
    assert cal.walk("VTIMEZONE")
    assert cal["version"] == "2.0" and cal["prodid"]

    listed = (await client.get("/api/v1/courts/hearings", headers=auth["read"])).json()
    assert [h["number"] for h in listed] == [case.number, case.number]
    assert listed[0]["at"] < listed[1]["at"]
    assert (await client.get("/api/v1/courts/hearings.ics")).status_code == 401
    _ = timedelta
