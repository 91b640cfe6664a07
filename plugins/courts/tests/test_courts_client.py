"""The SOAP client against recorded-shape answers (respx) and the simulator's switches."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import httpx
import pytest
import respx
from hub_courts.client import PortalClient
from hub_courts.names import court_label, fold, name_variants
from hub_courts.simulator import PortalSimulator
from hub_courts.xmlclean import clean_xml
from lxml import etree

from hub.errors import TransientError

FIXTURES = Path(__file__).parent / "fixtures"
URL = "http://127.0.0.1:9/query.asmx"
WINDOW = (datetime(2026, 11, 1), datetime(2026, 11, 4))


def test_clean_xml_drops_only_what_xml_forbids() -> None:
    raw = b"<a>x&#x1;y&#31;z&#xB;\x0b&#0;&#xFFFE;|&#xA;&#13;&#x219;&#9;&amp;#x1;</a>"
    cleaned, removed = clean_xml(raw)
    assert removed == 6
    assert cleaned == b"<a>xyz|&#xA;&#13;&#x219;&#9;&amp;#x1;</a>"
    assert etree.fromstring(cleaned).text == "xyz|\n\rș\t&#x1;"


def test_party_name_variants_cover_every_spelling() -> None:
    variants = name_variants(["PRIMĂRIA MUNICIPIULUI TIMIŞOARA", "MUNICIPIUL TIMIȘOARA"])
    assert variants == [
        "PRIMĂRIA MUNICIPIULUI TIMIȘOARA",
        "PRIMĂRIA MUNICIPIULUI TIMIŞOARA",
        "PRIMARIA MUNICIPIULUI TIMISOARA",
        "MUNICIPIUL TIMIȘOARA",
        "MUNICIPIUL TIMIŞOARA",
        "MUNICIPIUL TIMISOARA",
    ]
    assert fold("Municipiul  Timişoara") == fold("MUNICIPIUL TIMIȘOARA")
    assert court_label("JudecatoriaTIMISOARA") == "Judecătoria Timișoara"
    assert court_label("CurteadeApelTIMISOARA") == "Curtea de Apel Timișoara"


@respx.mock(assert_all_called=True)
async def test_a_recorded_answer_with_illegal_characters_parses(
    respx_mock: respx.MockRouter,
) -> None:
    route = respx_mock.post(URL).mock(
        return_value=httpx.Response(
            200,
            content=(FIXTURES / "cautare-dosare2-dirty.xml").read_bytes(),
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )
    )
    client = PortalClient(URL)
    try:
        cases = await client.search("TribunalulTIMIS", "MUNICIPIUL TIMIŞOARA", *WINDOW)
    finally:
        await client.aclose()
    sent = route.calls.last.request
    assert sent.headers["SOAPAction"] == '"portalquery.just.ro/CautareDosare2"'
    body = etree.fromstring(sent.content)
    ns = {"p": "portalquery.just.ro", "xsi": "http://www.w3.org/2001/XMLSchema-instance"}
    assert body.findtext(".//p:numeParte", namespaces=ns) == "MUNICIPIUL TIMIŞOARA"
    assert body.findtext(".//p:dataUltimaModificareStart", namespaces=ns) == "2026-11-01T00:00:00"
    # Required-but-nil arguments are sent as nil, as the service demands.
    assert body.find(".//p:dataStart", namespaces=ns).get(f"{{{ns['xsi']}}}nil") == "true"
    assert client.transport.cleaned_total == 3

    first, second = cases
    assert first.number == "4521/30/2026" and first.court == "TribunalulTIMIS"
    assert first.subject == "anulare act administrativ"
    assert first.parties[1] == ("SC ALFA CONSTRUCT SRL", "Reclamant")
    assert first.parties[0][0] == "MUNICIPIUL TIMIŞOARA PRIN PRIMAR"
    assert first.modified == datetime(2026, 11, 2, 14, 37, 12, 433000)
    ruled, upcoming = first.hearings
    assert ruled.at == datetime(2026, 10, 14, 9, 0) and ruled.summary == "Admite cererea"
    assert ruled.solution == "Admite acţiunea. Anulează dispoziţia nr. 123/2026."
    assert ruled.pronounced_on == date(2026, 10, 14) and ruled.document == "Hotarare"
    assert upcoming.at == datetime(2026, 12, 9, 11, 30) and upcoming.solution == ""
    assert upcoming.pronounced_on is None
    assert first.appeals[0].kind == "Recurs" and first.appeals[0].declared_on == date(2026, 10, 30)
    keys = [e.key for e in first.events()]
    assert keys[0] == "TribunalulTIMIS:4521/30/2026:dosar"
    assert "TribunalulTIMIS:4521/30/2026:termen:2026-12-09T11:30" in keys
    assert sum(k.split(":")[2] == "solutie" for k in keys) == 1
    assert sum(k.split(":")[2] == "cale_atac" for k in keys) == 1
    assert second.hearings == () and second.appeals == ()


@respx.mock(assert_all_called=True)
async def test_faults_and_http_errors_are_transient(respx_mock: respx.MockRouter) -> None:
    respx_mock.post(URL).mock(
        side_effect=[
            httpx.Response(
                500,
                content=(FIXTURES / "fault.xml").read_bytes(),
                headers={"Content-Type": "text/xml"},
            ),
            httpx.Response(503, text="Service Unavailable"),
            httpx.Response(
                200, content=b"<html>maintenance</html>", headers={"Content-Type": "text/html"}
            ),
            httpx.ConnectError("refused"),
        ]
    )
    client = PortalClient(URL)
    try:
        messages = []
        for _ in range(4):
            with pytest.raises(TransientError) as info:
                await client.search(None, "MUNICIPIUL TIMIȘOARA", *WINDOW)
            messages.append(info.value.message)
    finally:
        await client.aclose()
    assert "SOAP fault (soap:Server)" in messages[0]
    assert "HTTP 503" in messages[1]
    assert "unreadable answer" in messages[2]
    assert "ConnectError" in messages[3]
    assert all("TIMI" not in m for m in messages)


async def test_slow_answers_time_out(portal: PortalSimulator) -> None:
    portal.switches.delay_seconds = 2.0
    client = PortalClient(portal.url, timeout=0.3)
    try:
        with pytest.raises(TransientError, match="timed out"):
            await client.search(None, "MUNICIPIUL TIMIȘOARA", *WINDOW)
    finally:
        await client.aclose()


async def test_at_the_cap_the_window_is_halved_until_it_is_not(portal: PortalSimulator) -> None:
    portal.cap = 10
    base = datetime(2026, 11, 1)
    from datetime import timedelta

    for i in range(25):
        portal.store.add_case(
            "TribunalulTIMIS", modified=base + timedelta(minutes=10 * i), hearings=0
        )
    client = PortalClient(portal.url, result_cap=10)
    try:
        cases = await client.search_all(
            "TribunalulTIMIS", "MUNICIPIUL TIMIȘOARA", base, base + timedelta(days=1)
        )
    finally:
        await client.aclose()
    assert len({c.number for c in cases}) == 25
    assert client.splits >= 2
