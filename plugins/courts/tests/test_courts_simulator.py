"""The simulated portal speaks the WSDL: valid answers, the cap, faults, illegal characters."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
from hub_courts.demo import CourtsDemoSimulator
from hub_courts.simulator import PortalSimulator
from hub_courts.simulator.server import request_schema
from hub_courts.xmlclean import clean_xml
from lxml import etree

from hub.demo.simulators import DemoContext

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
NS = "portalquery.just.ro"
NIL = 'xsi:nil="true"'


def envelope(op: str, inner: str, soap: str = SOAP11) -> bytes:
    return (
        f'<soap:Envelope xmlns:soap="{soap}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f'<soap:Body><{op} xmlns="{NS}">{inner}</{op}></soap:Body></soap:Envelope>'
    ).encode()


def search(party: str = "TIMI", court: str | None = None, soap: str = SOAP11) -> bytes:
    inst = f"<institutie>{court}</institutie>" if court else f"<institutie {NIL}/>"
    return envelope(
        "CautareDosare2",
        f"<numeParte>{party}</numeParte>{inst}<dataStart {NIL}/><dataStop {NIL}/>"
        f"<dataUltimaModificareStart {NIL}/><dataUltimaModificareStop {NIL}/>",
        soap,
    )


async def post(sim: PortalSimulator, body: bytes, soap: str = SOAP11) -> httpx.Response:
    ctype = "text/xml; charset=utf-8" if soap == SOAP11 else "application/soap+xml; charset=utf-8"
    async with httpx.AsyncClient() as client:
        return await client.post(sim.url, content=body, headers={"Content-Type": ctype})


def payload(response: httpx.Response, soap: str = SOAP11) -> Any:
    cleaned, _ = clean_xml(response.content)
    env = etree.fromstring(cleaned, etree.XMLParser(resolve_entities=False, no_network=True))
    return env.find(f"{{{soap}}}Body")[0]


async def test_answers_are_valid_against_the_wsdl_schema(portal: PortalSimulator) -> None:
    portal.store.seed(30)
    portal.store.appeal(*next(iter(portal.store.cases)))
    r = await post(portal, search())
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml")
    body = payload(r)
    assert request_schema().validate(body), request_schema().error_log
    dosare = body.findall(f"{{{NS}}}CautareDosare2Result/{{{NS}}}Dosar")
    assert len(dosare) == sum(
        any("TIMI" in p.upper() for p, _ in c.parties) for c in portal.store.cases.values()
    )
    assert body.find(f".//{{{NS}}}DosarCaleAtac") is not None


async def test_the_cap_and_the_party_spelling(portal: PortalSimulator) -> None:
    for _ in range(12):
        portal.store.add_case("TribunalulTIMIS", municipality="MUNICIPIUL TIMIŞOARA")
    portal.cap = 5
    capped = payload(await post(portal, search("MUNICIPIUL TIMIŞOARA", "TribunalulTIMIS")))
    assert len(capped[0]) == 5
    # The portal matches the letters typed: a comma-below Ș does not find a cedilla Ş.
    other = payload(await post(portal, search("MUNICIPIUL TIMIȘOARA", "TribunalulTIMIS")))
    assert len(other[0]) == 0


async def test_illegal_characters_faults_soap12_and_bad_requests(portal: PortalSimulator) -> None:
    portal.store.add_case("TribunalulTIMIS", dirty=True)
    raw = (await post(portal, search())).content
    assert b"&#x1;" in raw and b"\x0b" in raw
    portal.switches.control_characters = False
    raw = (await post(portal, search())).content
    assert b"&#x1;" not in raw and b"\x0b" not in raw

    portal.switches.faults = 1
    r = await post(portal, search())
    assert r.status_code == 500 and b"<faultcode>soap:Server</faultcode>" in r.content
    assert (await post(portal, search())).status_code == 200

    r = await post(portal, search(soap=SOAP12), SOAP12)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/soap+xml")
    assert request_schema().validate(payload(r, SOAP12))

    missing = envelope("CautareDosare2", "<numeParte>X</numeParte>")  # required elements missing
    r = await post(portal, missing)
    assert r.status_code == 500 and b"soap:Client" in r.content
    nothing = envelope(
        "CautareDosare2",
        f"<institutie {NIL}/><dataStart {NIL}/><dataStop {NIL}/>"
        f"<dataUltimaModificareStart {NIL}/><dataUltimaModificareStop {NIL}/>",
    )
    r = await post(portal, nothing)
    assert r.status_code == 500 and "cel puțin" in r.content.decode()
    doctype = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + search()
    )
    r = await post(portal, doctype)
    assert r.status_code == 500 and b"root:" not in r.content


async def test_hearings_by_day_and_the_wsdl(portal: PortalSimulator) -> None:
    case = portal.store.add_case("JudecatoriaTIMISOARA", hearings=1)
    day = case.hearings[0].at.date().isoformat()
    body = envelope(
        "CautareSedinte",
        f"<dataSedinta>{day}T00:00:00</dataSedinta><institutie>JudecatoriaTIMISOARA</institutie>",
    )
    answer = payload(await post(portal, body))
    assert request_schema().validate(answer)
    numbers = [e.text for e in answer.iter(f"{{{NS}}}numar")]
    assert numbers == [case.number]
    async with httpx.AsyncClient() as client:
        wsdl = await client.get(portal.url + "?WSDL")
    assert wsdl.status_code == 200 and b"CautareDosare2" in wsdl.content


async def test_demo_simulator_serves_and_changes_cases(tmp_path: Any) -> None:
    demo = CourtsDemoSimulator()
    demo.clerk_interval = 0.01
    try:
        settings = await demo.start(DemoContext(data_dir=tmp_path))
        assert settings["courts"]["endpoint_url"] == demo.url()
        before = len(demo.sim.store.cases)
        import asyncio

        while demo.changes < 5:
            await asyncio.sleep(0.01)
        assert demo.counters()["changes"] >= 5 and demo.counters()["cases"] >= before
        r = await post(demo.sim, search())
        assert r.status_code == 200
    finally:
        await demo.stop()


WSDL_SHA256 = "e8f549024a9d3600eea2784d7afc1767dcd901e90561027ee1f666eb3a70cded"


def test_bundled_wsdl_is_the_published_one() -> None:
    from pathlib import Path

    from hub_courts.wsdl import WSDL_PATH, institutions

    assert hashlib.sha256(WSDL_PATH.read_bytes()).hexdigest() == WSDL_SHA256
    shared = Path(__file__).resolve().parents[4] / "shared/specs/portalquery-just-ro.wsdl"
    if shared.exists():  # beside the repository on development machines and in CI
        assert shared.read_bytes() == WSDL_PATH.read_bytes()
    assert len(institutions()) > 240 and "JudecatoriaLUGOJ" in institutions()
