"""Small rules: the removal date, paper-act classification, the handover connector's fallback,
the calendar's RFC 5545 form, and no personal data in the feed's logs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pytest
import structlog
from courts_helpers import RULES, delivery_rows, registration_day, settled
from hub_courts.handover import HandoverConnector
from hub_courts.ical import hearings_calendar
from hub_courts.noticeboard import removal_date
from hub_courts.paper import classify
from hub_courts.settings import CourtsSettings, NoticeBoardSettings
from hub_courts.simulator import PortalSimulator
from hub_courts.source import CourtsSource
from pydantic import ValidationError

from hub.errors import TransientError
from hub.models import Channel, DocumentIn, Job
from hub.runtime import Hub
from hub.testing.hubrun import dispatching


@pytest.mark.parametrize(
    ("posted", "rule", "due"),
    [
        (date(2026, 11, 2), NoticeBoardSettings(), date(2026, 11, 9)),  # Monday → Monday
        (date(2026, 11, 7), NoticeBoardSettings(), date(2026, 11, 16)),  # Sat 14 → Mon 16
        (date(2026, 11, 23), NoticeBoardSettings(), date(2026, 12, 2)),  # 30.11 and 1.12 holidays
        (date(2026, 11, 7), NoticeBoardSettings(extend_to_working_day=False), date(2026, 11, 14)),
        (date(2026, 11, 2), NoticeBoardSettings(days=15), date(2026, 11, 17)),
    ],
)
def test_removal_date(posted: date, rule: NoticeBoardSettings, due: date) -> None:
    assert removal_date(posted, rule) == due


def test_settings_refuse_unknown_courts_and_expand_spellings() -> None:
    with pytest.raises(ValidationError, match="unknown Institutie"):
        CourtsSettings(courts=["TribunalulNARNIA"])
    s = CourtsSettings()
    assert "MUNICIPIUL TIMIŞOARA" in s.party_variants and "MUNICIPIUL TIMISOARA" in s.party_variants


def paper(**meta: Any) -> DocumentIn:
    return DocumentIn(external_id="x", channel=Channel.EXECUTOR, metadata=meta)


def test_paper_acts_are_classified_from_their_type() -> None:
    assert classify(paper(act_type="citatie")) == "act_procedura"
    assert classify(paper(act_type="poprire")) == "act_procedura"
    assert classify(paper(act_type="poprire", fiscal=True)) == "act_executare_fiscala"
    assert classify(paper(act_type="proces_verbal_contraventie")) == "amenda"
    assert classify(paper(act_type="scrisoare")) is None
    assert classify(paper()) is None


def test_the_calendar_is_rfc5545_shaped() -> None:
    body = hearings_calendar(
        [
            {
                "at": datetime(2026, 12, 9, 11, 30),
                "court": "TribunalulTIMIS",
                "number": "4521/30/2026",
                "subject": "anulare act administrativ " * 8,
                "panel": "C7",
                "solution": "",
            }
        ],
        tz="Europe/Bucharest",
    )
    lines = body.split(b"\r\n")
    assert lines[0] == b"BEGIN:VCALENDAR" and lines[-2] == b"END:VCALENDAR" and lines[-1] == b""
    assert all(len(line) <= 75 for line in lines)  # folded at 75 octets
    assert b"\n" not in body.replace(b"\r\n", b"")
    assert b"DTSTART;TZID=Europe/Bucharest:20261209T113000" in body
    assert b"BEGIN:VTIMEZONE" in body and b"TZID:Europe/Bucharest" in body


async def test_the_handover_connector_completes_only_handed_over_acts(
    make_hub: Callable[..., Hub],
) -> None:
    hub = make_hub(rules=RULES, overrides={"handover": {"enabled": True, "recheck_seconds": 60}})
    conn = hub.connectors["handover"]
    assert isinstance(conn, HandoverConnector) and conn.settings.enabled
    async with dispatching(hub):
        doc = paper(act_type="citatie", issuer="Judecătoria Timișoara").model_copy(
            update={"department": "DJ", "external_id": "cit-1"}
        )
        doc_id = (await hub.intake.submit(hub.intake.prepare(doc))).document_id
        document = await hub.documents.get(doc_id)
        assert document is not None
        job = Job(1, "handover", "k", 1, document, "DJ")
        with pytest.raises(TransientError, match="awaiting handover") as info:
            await conn.deliver(job)
        assert info.value.retry_after == 60
        from hub_courts import service

        today = registration_day(hub, doc_id)
        done, ids = await hub.runner.write(
            service.record, hub, today, "DJ", received_by="Ana Pop", received_at=None, actor="t"
        )
        assert done.documents == 1 and ids == [doc_id]
        receipt = await conn.deliver(job)
    assert receipt.status == "handed_over" and receipt.data["received_by"] == "Ana Pop"


async def test_feed_logs_carry_no_party_names(
    make_hub: Callable[..., Hub], portal: PortalSimulator
) -> None:
    portal.store.add_case("TribunalulTIMIS", municipality="MUNICIPIUL TIMIȘOARA", dirty=True)
    hub = make_hub(rules=RULES, overrides={"courts": portal.settings(courts=["TribunalulTIMIS"])})
    names = {p for c in portal.store.cases.values() for p, _ in c.parties}
    async with dispatching(hub):
        src = hub.sources["courts"]
        assert isinstance(src, CourtsSource)
        with structlog.testing.capture_logs() as logs:
            await hub.source_runner.poll_once("courts", src)
            portal.switches.faults = 1
            await hub.source_runner.poll_once("courts", src)
    text = repr(logs)
    assert any(e["event"] == "hub_courts.polled" for e in logs)
    assert any(e["event"] == "hub.source.poll_failed" for e in logs)
    for name in names:
        assert name.split()[0] not in text


async def test_a_recorded_handover_releases_deliveries_waiting_for_it(
    make_hub: Callable[..., Hub],
) -> None:
    rules = {
        "rule": [
            {
                "name": "paper acts: hand over, then archive",
                "kinds": ["act_procedura"],
                "department": "DJ",
                "destinations": [
                    {"connector": "handover", "target": "DJ"},
                    {"connector": "noop", "target": "archive", "after": "handover"},
                ],
            }
        ],
        "fallback": {"destinations": [{"connector": "noop"}]},
    }
    hub = make_hub(rules=rules)
    async with dispatching(hub):
        doc = paper(act_type="comunicare").model_copy(update={"external_id": "com-1"})
        doc_id = (await hub.intake.submit(hub.intake.prepare(doc))).document_id
        states = {d["connector"]: d["state"] for d in delivery_rows(hub, doc_id)}
        assert states == {"handover": "pending", "noop": "waiting"}
        from hub_courts import service

        today = registration_day(hub, doc_id)
        done, ids = await hub.runner.write(
            service.record, hub, today, "DJ", received_by="Ana Pop", received_at=None, actor="t"
        )
        assert await service.close_handover(hub, done, ids, "cli:test") == 1
        assert await service.close_handover(hub, done, ids, "cli:test") == 0  # idempotent
        hub.dispatcher.wake()
        rows = await settled(hub, doc_id)
    assert rows["handover"]["state"] == "delivered"
    assert rows["noop"]["state"] == "delivered"
    timeline = hub.ledger.timeline(doc_id)
    actions = [e["action"] for e in timeline["events"]]
    assert "completed" in actions and "released" in actions
