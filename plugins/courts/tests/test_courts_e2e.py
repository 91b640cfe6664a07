"""End to end: a real hub polling the simulated portal over SOAP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from courts_helpers import RULES, docs, settled
from hub_courts.simulator import PortalSimulator, local_now
from hub_courts.source import CourtsSource

from hub.runtime import Hub
from hub.testing.hubrun import dispatching


@pytest.fixture
def courts_hub(make_hub: Callable[..., Hub], portal: PortalSimulator) -> Callable[..., Hub]:
    def build(**section: Any) -> Hub:
        return make_hub(rules=RULES, overrides={"courts": portal.settings(**section)})

    return build


async def poll(hub: Hub) -> None:
    src = hub.sources["courts"]
    assert isinstance(src, CourtsSource)
    await hub.source_runner.poll_once("courts", src)


async def test_new_cases_in_every_spelling_reach_the_legal_department(
    courts_hub: Callable[..., Hub], portal: PortalSimulator
) -> None:
    store = portal.store
    cedilla = store.add_case("TribunalulTIMIS", municipality="MUNICIPIUL TIMIŞOARA")
    plain = store.add_case("JudecatoriaLUGOJ", municipality="PRIMARIA MUNICIPIULUI TIMISOARA")
    comma = store.add_case("CurteadeApelTIMISOARA", municipality="Municipiul Timișoara prin Primar")
    store.add_case("JudecatoriaTIMISOARA", municipality=None)  # not the municipality's
    store.add_case("TribunalulARAD", municipality="MUNICIPIUL TIMIȘOARA")  # court not watched
    hub = courts_hub()
    async with dispatching(hub):
        await poll(hub)
        found = docs(hub, source="courts")
        assert sorted(d["external_id"] for d in found) == sorted(
            f"{c.court}:{c.number}:dosar" for c in (cedilla, plain, comma)
        )
        for d in found:
            assert d["kind"] == "act_procedura"
            assert d["channel"] == "instanta"
            assert d["department"] == "DJ"
            assert d["subject"].startswith("Dosar nou ")
            rows = await settled(hub, d["id"])
            assert rows["noop"]["state"] == "delivered" and rows["noop"]["target"] == "DJ"
        assert found[0]["meta"]["issuer"] in {
            "Tribunalul Timiș",
            "Judecătoria Lugoj",
            "Curtea de Apel Timișoara",
        }

        # A second poll with nothing changed brings nothing.
        await poll(hub)
        assert len(docs(hub, source="courts")) == 3

        # A hearing moved → exactly one new hearing document.
        moved = store.move_hearing(cedilla.court, cedilla.number, days=10)
        await poll(hub)
        hearing_docs = docs(hub, source="courts", kind="termen_instanta")
        assert len(hearing_docs) == 1
        doc = hearing_docs[0]
        assert (
            doc["external_id"]
            == f"{cedilla.court}:{cedilla.number}:termen:{moved.at:%Y-%m-%dT%H:%M}"
        )
        assert f"{moved.at:%d.%m.%Y %H:%M}" in doc["subject"]
        assert doc["department"] == "DJ"
        assert (await settled(hub, doc["id"]))["noop"]["state"] == "delivered"

        # A solution, then an appeal: one document each.
        store.rule(plain.court, plain.number)
        store.appeal(plain.court, plain.number, kind="Apel")
        await poll(hub)
        events = sorted(d["meta"]["event"] for d in docs(hub, source="courts"))
        assert events == ["cale_atac", "dosar", "dosar", "dosar", "solutie", "termen"]
        await poll(hub)
        assert len(docs(hub, source="courts")) == 6


async def test_a_1500_case_window_is_read_whole_by_splitting(
    courts_hub: Callable[..., Hub], portal: PortalSimulator
) -> None:
    now = local_now()
    for i in range(1500):
        portal.store.add_case(
            "TribunalulTIMIS",
            municipality="MUNICIPIUL TIMIȘOARA",
            modified=now - timedelta(hours=20) + timedelta(seconds=40 * i),
            hearings=0,
        )
    hub = courts_hub(courts=["TribunalulTIMIS"], party_names=["MUNICIPIUL TIMIȘOARA"])
    src = hub.sources["courts"]
    assert isinstance(src, CourtsSource)
    async with dispatching(hub):
        await hub.source_runner.poll_once("courts", src)
        found = docs(hub, source="courts")
    assert len(found) == 1500
    assert len({d["external_id"] for d in found}) == 1500
    assert src.client.splits >= 1
    # No single answer ever went over the cap.
    assert portal.requests["CautareDosare2"] > 3


async def test_faults_and_illegal_characters_never_stop_the_feed(
    courts_hub: Callable[..., Hub], portal: PortalSimulator
) -> None:
    dirty = portal.store.add_case(
        "TribunalulTIMIS", municipality="MUNICIPIUL TIMIȘOARA", dirty=True
    )
    hub = courts_hub(courts=["TribunalulTIMIS"])
    async with dispatching(hub):
        portal.switches.faults = 1
        await poll(hub)
        assert docs(hub, source="courts") == []
        state = {s["source"]: s for s in hub.ledger.source_states()}["courts"]
        assert "SOAP fault" in (state["last_error"] or "")
        assert hub.ledger.get_cursor("courts") is None  # the window will be read again

        await poll(hub)
        found = docs(hub, source="courts")
    assert [d["external_id"] for d in found] == [f"{dirty.court}:{dirty.number}:dosar"]
    body = found[0]["body"]
    assert "\x0b" not in body and "\x01" not in body
    assert dirty.subject.replace("\ue000", "") in body
    src = hub.sources["courts"]
    assert isinstance(src, CourtsSource)
    assert src.client.transport.cleaned_total >= 2
