"""The simulated portal: a SOAP 1.1/1.2 server on 127.0.0.1 speaking the bundled WSDL.

Requests are parsed safely (no DTDs, entities or network) and validated against the WSDL's
schema; answers are built from :class:`~hub_courts.simulator.model.Store` and validated against
the same schema before they are sent, so a client that reads the simulator reads the portal.
Like the portal, an answer holds at most :attr:`PortalSimulator.cap` cases, may carry illegal
control characters, and can be switched to SOAP faults or slow answers (:class:`Switches`).
"""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

from aiohttp import web
from lxml import etree  # type: ignore[import-untyped]

from hub_courts.simulator.model import BAD_BYTE, BAD_REF, SimCase, Store
from hub_courts.wsdl import NS, schema_element

__all__ = ["PortalSimulator", "Switches", "request_schema"]

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


@cache
def request_schema() -> etree.XMLSchema:
    """The WSDL's types as an XML Schema (requests and answers are validated with it)."""
    return etree.XMLSchema(etree.fromstring(etree.tostring(schema_element())))


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)


@dataclass
class Switches:
    """Failure modes, switched by tests and the demo."""

    #: The next N calls answer a SOAP fault (HTTP 500).
    faults: int = 0
    #: Seconds every answer waits before it is sent.
    delay_seconds: float = 0.0
    #: Write the illegal characters cases carry (off: they are dropped server-side).
    control_characters: bool = True


class _Fault(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _dt(value: datetime | date) -> str:
    if isinstance(value, datetime):
        return value.replace(microsecond=0).isoformat()
    return f"{value.isoformat()}T00:00:00"


def _text(el: etree._Element | None) -> str | None:
    if el is None or el.get(f"{{{XSI}}}nil") == "true":
        return None
    return (el.text or "").strip() or None


def _when(el: etree._Element | None) -> datetime | None:
    value = _text(el)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _Fault("soap:Client", f"Valoare dateTime invalidă: {value[:40]}") from None
    return parsed.replace(tzinfo=None)


class PortalSimulator:
    """``await sim.start()`` → serving at :attr:`url` (``…/query.asmx``)."""

    def __init__(self, store: Store | None = None, *, cap: int = 1000) -> None:
        self.store = store or Store()
        self.cap = cap
        self.switches = Switches()
        self.requests: Counter[str] = Counter()
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/query.asmx"

    def settings(self, **extra: Any) -> dict[str, Any]:
        """The ``courts`` section pointing at this simulator."""
        return {"endpoint_url": self.url, **extra}

    async def start(self, port: int = 0) -> None:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post("/query.asmx", self._handle)
        app.router.add_get("/query.asmx", self._wsdl)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        self.port = sock.getsockname()[1]
        site = web.SockSite(self._runner, sock)
        await site.start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- HTTP ---------------------------------------------------------------------------------

    async def _wsdl(self, request: web.Request) -> web.Response:
        if "wsdl" not in {k.lower() for k in request.query}:
            return web.Response(status=404)
        from hub_courts.wsdl import WSDL_PATH

        return web.Response(body=WSDL_PATH.read_bytes(), content_type="text/xml")

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        soap_ns = SOAP11
        try:
            try:
                envelope = etree.fromstring(body, _parser())
            except etree.XMLSyntaxError:
                raise _Fault("soap:Client", "Cererea nu este XML valid.") from None
            if envelope.getroottree().docinfo.doctype:
                # As ASP.NET does: DTDs are prohibited in SOAP messages.
                raise _Fault("soap:Client", "DTD is prohibited in this XML document.")
            if envelope.tag not in (f"{{{SOAP11}}}Envelope", f"{{{SOAP12}}}Envelope"):
                raise _Fault("soap:Client", "Lipsește plicul SOAP.")
            soap_ns = etree.QName(envelope).namespace or SOAP11
            soap_body = envelope.find(f"{{{soap_ns}}}Body")
            if soap_body is None or len(soap_body) == 0:
                raise _Fault("soap:Client", "Lipsește corpul SOAP.")
            call = soap_body[0]
            qname = etree.QName(call)
            if qname.namespace != NS:
                raise _Fault("soap:Client", f"Operație necunoscută: {qname.localname}")
            if not request_schema().validate(call):
                raise _Fault("soap:Client", "Cererea nu respectă schema serviciului.")
            self.requests[qname.localname] += 1
            if self.switches.delay_seconds:
                await asyncio.sleep(self.switches.delay_seconds)
            if self.switches.faults > 0:
                self.switches.faults -= 1
                raise _Fault(
                    "soap:Server", "Server was unable to process request. Timeout expired."
                )
            answer = self._dispatch(qname.localname, call)
        except _Fault as fault:
            return self._fault(soap_ns, fault)
        if not request_schema().validate(answer):  # pragma: no cover - a bug in the simulator
            errors = "; ".join(str(e.message) for e in request_schema().error_log)
            raise AssertionError(f"simulator answer is not valid: {errors}")
        return self._envelope(soap_ns, answer)

    def _envelope(self, soap_ns: str, payload: etree._Element) -> web.Response:
        env = etree.Element(f"{{{soap_ns}}}Envelope", nsmap={"soap": soap_ns, "xsi": XSI})
        etree.SubElement(env, f"{{{soap_ns}}}Body").append(payload)
        data = etree.tostring(env, xml_declaration=True, encoding="utf-8")
        bad_ref, bad_byte = BAD_REF.encode(), BAD_BYTE.encode()
        if self.switches.control_characters:
            data = data.replace(bad_ref, b"&#x1;").replace(bad_byte, b"\x0b")
        else:
            data = data.replace(bad_ref, b"").replace(bad_byte, b"")
        ctype = "text/xml" if soap_ns == SOAP11 else "application/soap+xml"
        return web.Response(body=data, content_type=ctype, charset="utf-8")

    def _fault(self, soap_ns: str, fault: _Fault) -> web.Response:
        env = etree.Element(f"{{{soap_ns}}}Envelope", nsmap={"soap": soap_ns})
        body = etree.SubElement(env, f"{{{soap_ns}}}Body")
        f = etree.SubElement(body, f"{{{soap_ns}}}Fault")
        if soap_ns == SOAP11:
            etree.SubElement(f, "faultcode").text = fault.code
            etree.SubElement(f, "faultstring").text = fault.message
        else:
            code = etree.SubElement(f, f"{{{soap_ns}}}Code")
            sender = "Sender" if fault.code.endswith("Client") else "Receiver"
            etree.SubElement(code, f"{{{soap_ns}}}Value").text = f"soap:{sender}"
            reason = etree.SubElement(f, f"{{{soap_ns}}}Reason")
            etree.SubElement(reason, f"{{{soap_ns}}}Text").text = fault.message
        data = etree.tostring(env, xml_declaration=True, encoding="utf-8")
        ctype = "text/xml" if soap_ns == SOAP11 else "application/soap+xml"
        return web.Response(status=500, body=data, content_type=ctype, charset="utf-8")

    # --- operations ---------------------------------------------------------------------------

    def _dispatch(self, operation: str, call: etree._Element) -> etree._Element:
        def arg(name: str) -> etree._Element | None:
            return call.find(f"{{{NS}}}{name}")

        if operation == "HelloWorld":
            out = etree.Element(f"{{{NS}}}HelloWorldResponse", nsmap={None: NS})
            etree.SubElement(out, f"{{{NS}}}HelloWorldResult").text = "Hello World"
            return out
        if operation in ("CautareDosare", "CautareDosare2"):
            number, subject, party = (
                _text(arg("numarDosar")),
                _text(arg("obiectDosar")),
                _text(arg("numeParte")),
            )
            if not (number or subject or party):
                raise _Fault(
                    "soap:Server",
                    "Trebuie specificat cel puțin unul dintre: numărul dosarului, obiectul "
                    "dosarului sau numele părții.",
                )
            cases = self.find(
                number=number,
                subject=subject,
                party=party,
                court=_text(arg("institutie")),
                filed_from=_when(arg("dataStart")),
                filed_to=_when(arg("dataStop")),
                modified_from=_when(arg("dataUltimaModificareStart")),
                modified_to=_when(arg("dataUltimaModificareStop")),
            )
            out = etree.Element(f"{{{NS}}}{operation}Response", nsmap={None: NS, "xsi": XSI})
            result = etree.SubElement(out, f"{{{NS}}}{operation}Result")
            for case in cases[: self.cap]:
                result.append(self._dosar(case))
            return out
        if operation == "CautareSedinte":
            return self._sessions(_when(arg("dataSedinta")), _text(arg("institutie")))
        raise _Fault("soap:Client", f"Operație necunoscută: {operation}")

    def find(
        self,
        *,
        number: str | None = None,
        subject: str | None = None,
        party: str | None = None,
        court: str | None = None,
        filed_from: datetime | None = None,
        filed_to: datetime | None = None,
        modified_from: datetime | None = None,
        modified_to: datetime | None = None,
    ) -> list[SimCase]:
        """The portal's matching: party names as typed (letters, not diacritics, are folded to
        upper case), ranges inclusive; ordered by case number."""
        out = []
        for case in self.store.cases.values():
            if number and case.number != number:
                continue
            if court and case.court != court:
                continue
            if subject and subject.upper() not in case.subject.upper():
                continue
            if party and not any(party.upper() in p.upper() for p, _ in case.parties):
                continue
            if filed_from and case.filed_on < filed_from:
                continue
            if filed_to and case.filed_on > filed_to:
                continue
            if modified_from and case.modified < modified_from:
                continue
            if modified_to and case.modified > modified_to:
                continue
            out.append(case)
        out.sort(key=lambda c: (c.court, c.number))
        return out

    def _dosar(self, case: SimCase) -> etree._Element:
        E = _Builder()
        d = E.el("Dosar")
        parti = E.sub(d, "parti")
        for name, role in case.parties:
            p = E.sub(parti, "DosarParte")
            E.sub(p, "nume", name)
            E.sub(p, "calitateParte", role)
        sedinte = E.sub(d, "sedinte")
        for h in case.hearings:
            s = E.sub(sedinte, "DosarSedinta")
            E.sub(s, "complet", h.panel)
            E.sub(s, "data", _dt(h.at.date()))
            E.sub(s, "ora", h.at.strftime("%H:%M"))
            E.sub(s, "solutie", h.solution)
            E.sub(s, "solutieSumar", h.summary)
            E.nillable(s, "dataPronuntare", _dt(h.pronounced_on) if h.pronounced_on else None)
            E.nillable(s, "documentSedinta", h.document)
            E.sub(s, "numarDocument", h.document_number)
            E.nillable(s, "dataDocument", _dt(h.pronounced_on) if h.pronounced_on else None)
        if case.appeals:
            cai = E.sub(d, "caiAtac")
            for a in case.appeals:
                c = E.sub(cai, "DosarCaleAtac")
                E.nillable(c, "dataDeclarare", _dt(a.declared_on))
                E.sub(c, "parteDeclaratoare", a.party)
                E.sub(c, "tipCaleAtac", a.kind)
        E.sub(d, "numar", case.number)
        E.sub(d, "numarVechi", "")
        E.sub(d, "data", _dt(case.filed_on))
        E.sub(d, "institutie", case.court)
        E.sub(d, "departament", case.department)
        E.nillable(d, "categorieCaz", case.category)
        E.nillable(d, "stadiuProcesual", case.stage)
        E.sub(d, "obiect", case.subject)
        E.sub(d, "dataModificare", _dt(case.modified))
        E.sub(d, "categorieCazNume", case.category_name)
        E.sub(d, "stadiuProcesualNume", case.stage)
        return d

    def _sessions(self, day: datetime | None, court: str | None) -> etree._Element:
        E = _Builder()
        out = etree.Element(f"{{{NS}}}CautareSedinteResponse", nsmap={None: NS, "xsi": XSI})
        result = E.sub(out, "CautareSedinteResult")
        panels: dict[tuple[str, datetime], list[SimCase]] = {}
        for case in self.store.cases.values():
            if court and case.court != court:
                continue
            for h in case.hearings:
                if day is None or h.at.date() == day.date():
                    panels.setdefault((h.panel, h.at), []).append(case)
        for (panel, at), cases in sorted(panels.items()):
            s = E.sub(result, "Sedinta")
            E.sub(s, "departament", cases[0].department)
            E.sub(s, "complet", panel)
            E.sub(s, "data", _dt(at.date()))
            E.sub(s, "ora", at.strftime("%H:%M"))
            dosare = E.sub(s, "dosare")
            for c in cases:
                sd = E.sub(dosare, "SedintaDosar")
                E.sub(sd, "numar", c.number)
                E.sub(sd, "numar_vechi", "")
                E.sub(sd, "data", _dt(at.date()))
                E.sub(sd, "ora", at.strftime("%H:%M"))
                E.nillable(sd, "categorieCaz", c.category)
                E.nillable(sd, "stadiuProcesual", c.stage)
                E.sub(sd, "categorieCazNume", c.category_name)
                E.sub(sd, "stadiuProcesualNume", c.stage)
        return out


class _Builder:
    def el(self, name: str) -> etree._Element:
        return etree.Element(f"{{{NS}}}{name}")

    def sub(self, parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
        child = etree.SubElement(parent, f"{{{NS}}}{name}")
        if text is not None:
            child.text = text
        return child

    def nillable(self, parent: etree._Element, name: str, text: str | None) -> etree._Element:
        child = etree.SubElement(parent, f"{{{NS}}}{name}")
        if text is None:
            child.set(f"{{{XSI}}}nil", "true")
        else:
            child.text = text
        return child
