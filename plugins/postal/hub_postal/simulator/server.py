"""The simulated courier: a real HTTP server (aiohttp) with FAN Courier API v2's shapes.

* ``POST /login`` → ``{"status": "success", "data": {"token", "expiresAt"}}``; tokens expire
  after ``token_seconds`` (and :meth:`CourierSimulator.expire_tokens` expires them at once);
  calls with an unknown or expired token answer 401.
* ``POST /intern-awb`` → ``{"response": [...]}`` with one result per shipment: an AWB number and
  a tariff, or ``errors`` (field path → message) for a shipment it refuses (unknown county,
  missing phone, postal code not of 6 digits, no envelope or parcel, weight not positive…).
* ``GET /reports/awb`` → the AWBs created on a local ``date`` (paged), with their ``content``.
* ``GET /reports/awb/tracking?awb[]=…`` → events per AWB and ``confirmation`` (signer, date).
* ``GET /reports/get-awb-confirmations?awb[]=…`` → the signed proof (a PDF, base64) of
  delivered shipments created with the proof option.

Each shipment follows a script of events — delivered: C0 picked up → H10 in transit → S1 out
for delivery → S2 delivered (signed by the contact person); refused: … S6; returned: … S12,
S43; lost: C0, H10, S50. It advances one event every ``step_seconds`` after creation (none when
``step_seconds`` is None) or when a test calls :meth:`CourierSimulator.advance`. Outcomes come
from :attr:`CourierSimulator.outcomes` (a queue) or, when it is empty, from the creation order:
every 7th shipment is refused and every 11th returned.

Faults (:meth:`CourierSimulator.fault`): ``status`` (an error answer before anything happens),
``drop`` (connection closed before), ``drop_after_commit`` (the AWB is created, the answer is
lost), ``hang`` (a delay), per operation ``login``, ``create``, ``search``, ``track``, ``proof``
or ``any``.
"""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
import time
import unicodedata
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from aiohttp import web

from hub.pdf import PdfDocument
from hub.testing.loopback import LoopbackServer
from hub_postal.address import COUNTIES
from hub_postal.store import LOCAL_TZ

__all__ = ["SCRIPTS", "CourierSimulator", "FaultRule", "SimShipment"]

SCRIPTS: dict[str, list[tuple[str, str]]] = {
    "delivered": [
        ("C0", "Expediție ridicată"),
        ("H10", "Expediție în tranzit spre depozitul de destinație"),
        ("S1", "Expediție în livrare"),
        ("S2", "Livrat"),
    ],
    "refused": [
        ("C0", "Expediție ridicată"),
        ("H10", "Expediție în tranzit spre depozitul de destinație"),
        ("S1", "Expediție în livrare"),
        ("S6", "Refuz primire"),
    ],
    "returned": [
        ("C0", "Expediție ridicată"),
        ("H10", "Expediție în tranzit spre depozitul de destinație"),
        ("S1", "Expediție în livrare"),
        ("S12", "Contactat; livrare ulterioară"),
        ("S43", "Retur la expeditor"),
    ],
    "lost": [
        ("C0", "Expediție ridicată"),
        ("H10", "Expediție în tranzit spre depozitul de destinație"),
        ("S50", "Expediție pierdută"),
    ],
}
OPERATIONS = frozenset({"login", "create", "search", "track", "proof", "any"})
_COUNTY_NAMES = {
    "".join(c for c in unicodedata.normalize("NFKD", n) if not unicodedata.combining(c)).lower()
    for n in COUNTIES.values()
}


@dataclass
class FaultRule:
    kind: str
    op: str = "any"
    count: int = 1
    status: int = 503
    seconds: float = 5.0

    def __post_init__(self) -> None:
        if self.kind not in ("status", "drop", "drop_after_commit", "hang"):
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if self.op not in OPERATIONS:
            raise ValueError(f"unknown operation {self.op!r}")


@dataclass
class SimShipment:
    awb: str
    created: float
    created_day: date
    content: str
    options: list[str]
    recipient: dict[str, Any]
    tariff: float
    outcome: str
    steps_done: int = 0
    event_times: list[datetime] = field(default_factory=list)

    @property
    def script(self) -> list[tuple[str, str]]:
        return SCRIPTS[self.outcome]

    @property
    def finished(self) -> bool:
        return self.steps_done >= len(self.script)


class CourierSimulator(LoopbackServer):
    def __init__(
        self,
        *,
        client_id: str = "7032158",
        username: str = "registratura",
        password: str = "parola-simulator-123",  # noqa: S107 - the simulator's own
        token_seconds: float = 3600.0,
        step_seconds: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client_id = client_id
        self.username = username
        self.password = password
        self.token_seconds = token_seconds
        self.step_seconds = step_seconds
        self.clock = clock
        self.tokens: dict[str, float] = {}
        self.shipments: dict[str, SimShipment] = {}
        self.outcomes: list[str] = []
        self.faults: list[FaultRule] = []
        self.requests: Counter[str] = Counter()
        self.latency_ms = 0.0
        self._serial = 0
        self.app = self._build_app()

    # --- settings (start, stop and url: LoopbackServer) -----------------------------------------

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """A ``postal`` settings section that fits this simulator."""
        return {
            "base_url": self.url,
            "client_id": self.client_id,
            "username": self.username,
            "password": self.password,
            **overrides,
        }

    # --- controls -------------------------------------------------------------------------------

    def fault(self, kind: str, op: str = "any", **options: Any) -> FaultRule:
        rule = FaultRule(kind, op, **options)
        self.faults.append(rule)
        return rule

    def expire_tokens(self) -> None:
        self.tokens = {t: 0.0 for t in self.tokens}

    def advance(self, awb: str | None = None, steps: int = 1) -> None:
        """Move one shipment (or all) ``steps`` events further."""
        for s in [self.shipments[awb]] if awb else list(self.shipments.values()):
            for _ in range(steps):
                if not s.finished:
                    s.steps_done += 1
                    s.event_times.append(datetime.fromtimestamp(self.clock(), LOCAL_TZ))

    def _catch_up(self, s: SimShipment) -> None:
        if self.step_seconds is None:
            return
        due = min(len(s.script), int((self.clock() - s.created) // self.step_seconds))
        while s.steps_done < due:
            at = s.created + (s.steps_done + 1) * self.step_seconds
            s.event_times.append(datetime.fromtimestamp(at, LOCAL_TZ))
            s.steps_done += 1

    # --- plumbing -------------------------------------------------------------------------------

    def _take(self, op: str, kinds: tuple[str, ...]) -> FaultRule | None:
        for rule in self.faults:
            if rule.kind in kinds and rule.count != 0 and rule.op in (op, "any"):
                if rule.count > 0:
                    rule.count -= 1
                return rule
        return None

    async def _before(self, request: web.Request, op: str) -> None:
        self.requests[op] += 1
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)
        rule = self._take(op, ("status", "drop", "hang"))
        if rule is None:
            return
        if rule.kind == "hang":
            await asyncio.sleep(rule.seconds)
        elif rule.kind == "drop":
            raise _Dropped
        else:
            raise _error(rule.status, "Simulated failure")

    def _authorised(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        if not token or self.tokens.get(token, 0.0) <= self.clock():
            raise _error(401, "Unauthenticated.")

    def _client(self, request: web.Request, value: Any) -> None:
        if str(value or "") != self.client_id:
            raise _error(403, "This action is unauthorized for this client.")

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[_middleware], client_max_size=20 * 1024 * 1024)
        app.router.add_post("/login", self._login)
        app.router.add_post("/intern-awb", self._create)
        app.router.add_get("/reports/awb", self._search)
        app.router.add_get("/reports/awb/tracking", self._track)
        app.router.add_get("/reports/get-awb-confirmations", self._confirmations)
        return app

    # --- handlers -------------------------------------------------------------------------------

    async def _login(self, request: web.Request) -> web.StreamResponse:
        await self._before(request, "login")
        body = await _json_body(request)
        if body.get("username") != self.username or body.get("password") != self.password:
            raise _error(401, "Invalid credentials.")
        token = f"{len(self.tokens) + 1}|{secrets.token_urlsafe(24)}"
        expires = self.clock() + self.token_seconds
        self.tokens[token] = expires
        at = datetime.fromtimestamp(expires, LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")
        return web.json_response({"status": "success", "data": {"token": token, "expiresAt": at}})

    async def _create(self, request: web.Request) -> web.StreamResponse:
        await self._before(request, "create")
        self._authorised(request)
        body = await _json_body(request)
        self._client(request, body.get("clientId"))
        shipments = body.get("shipments")
        if not isinstance(shipments, list) or not shipments:
            raise _error(422, "The shipments field is required.")
        results: list[dict[str, Any]] = []
        for item in shipments:
            errors = _validate(item if isinstance(item, dict) else {})
            if errors:
                results.append({"awbNumber": None, "success": False, "errors": errors})
                continue
            self._serial += 1
            awb = f"2{self._serial:012d}"
            outcome = self.outcomes.pop(0) if self.outcomes else _default_outcome(self._serial)
            now = self.clock()
            info = item["info"]
            tariff = round(14.5 + float(info.get("weight") or 0) * 2, 2)
            self.shipments[awb] = SimShipment(
                awb=awb,
                created=now,
                created_day=datetime.fromtimestamp(now, LOCAL_TZ).date(),
                content=str(info.get("content") or ""),
                options=[str(o) for o in info.get("options") or []],
                recipient=item["recipient"],
                tariff=tariff,
                outcome=outcome,
            )
            ok: dict[str, Any] = {
                "awbNumber": int(awb),
                "tariff": tariff,
                "packages": 1,
                "routingCode": "3000",
                "office": "Timisoara",
                "errors": None,
            }
            results.append(ok)
        if self._take("create", ("drop_after_commit",)) is not None:
            raise _Dropped
        return web.json_response({"response": results})

    async def _search(self, request: web.Request) -> web.StreamResponse:
        await self._before(request, "search")
        self._authorised(request)
        self._client(request, request.query.get("clientId"))
        try:
            day = date.fromisoformat(request.query.get("date", ""))
            page = max(int(request.query.get("page", "1")), 1)
            per_page = min(max(int(request.query.get("perPage", "100")), 1), 1000)
        except ValueError:
            raise _error(422, "The date field must be a valid date.") from None
        found = [s for s in self.shipments.values() if s.created_day == day]
        chunk = found[(page - 1) * per_page : page * per_page]
        data = [
            {"info": {"awbNumber": int(s.awb), "content": s.content, "tariff": s.tariff}}
            for s in chunk
        ]
        return web.json_response({"status": "success", "data": data})

    async def _track(self, request: web.Request) -> web.StreamResponse:
        await self._before(request, "track")
        self._authorised(request)
        self._client(request, request.query.get("clientId"))
        awbs = request.query.getall("awb[]", [])
        if not awbs:
            raise _error(422, "The awb field is required.")
        data: list[dict[str, Any]] = []
        for awb in awbs:
            s = self.shipments.get(awb)
            if s is None:
                data.append({"awbNumber": awb, "message": "AWB-ul nu a fost găsit"})
                continue
            self._catch_up(s)
            events = [
                {
                    "id": code,
                    "name": name,
                    "location": "Timișoara",
                    "date": s.event_times[i].strftime("%Y-%m-%d %H:%M:%S"),
                }
                for i, (code, name) in enumerate(s.script[: s.steps_done])
            ]
            confirmation: dict[str, Any] = {"name": "", "date": ""}
            if s.finished and s.outcome == "delivered":
                confirmation = {
                    "name": _signer(s),
                    "date": s.event_times[-1].strftime("%Y-%m-%d %H:%M:%S"),
                }
            data.append(
                {
                    "awbNumber": s.awb,
                    "content": s.content,
                    "date": datetime.fromtimestamp(s.created, LOCAL_TZ).strftime("%Y-%m-%d"),
                    "confirmation": confirmation,
                    "events": events,
                }
            )
        return web.json_response({"status": "success", "data": data})

    async def _confirmations(self, request: web.Request) -> web.StreamResponse:
        await self._before(request, "proof")
        self._authorised(request)
        self._client(request, request.query.get("clientId"))
        data = []
        for awb in request.query.getall("awb[]", []):
            s = self.shipments.get(awb)
            if s is None:
                continue
            self._catch_up(s)
            if not (s.finished and s.outcome == "delivered" and s.options):
                continue
            signed = s.event_times[-1]
            data.append(
                {
                    "awbNumber": s.awb,
                    "name": _signer(s),
                    "date": signed.strftime("%Y-%m-%d %H:%M:%S"),
                    "mimeType": "application/pdf",
                    "image": base64.b64encode(_proof_pdf(s, signed)).decode(),
                }
            )
        return web.json_response({"status": "success", "data": data})


def _signer(s: SimShipment) -> str:
    return str(s.recipient.get("contactPerson") or s.recipient.get("name") or "")


def _proof_pdf(s: SimShipment, signed: datetime) -> bytes:
    doc = PdfDocument(
        "Confirmare de livrare",
        subtitle=f"AWB {s.awb}",
        header=("FAN Courier (simulator)",),
        generated_at=signed,
    )
    doc.fields([("Semnat de", _signer(s)), ("Data livrării", f"{signed:%d.%m.%Y %H:%M}")])
    return doc.render()


def _default_outcome(serial: int) -> str:
    if serial % 7 == 0:
        return "refused"
    if serial % 11 == 0:
        return "returned"
    return "delivered"


def _validate(item: dict[str, Any]) -> dict[str, str]:
    """FAN-style per-shipment validation: field path → message."""
    errors: dict[str, str] = {}
    info: dict[str, Any] = item["info"] if isinstance(item.get("info"), dict) else {}
    recipient: dict[str, Any] = item["recipient"] if isinstance(item.get("recipient"), dict) else {}
    address: dict[str, Any] = (
        recipient["address"] if isinstance(recipient.get("address"), dict) else {}
    )
    if not info.get("service"):
        errors["info.service"] = "The service field is required."
    packages = info.get("packages") or {}
    if int(packages.get("parcel") or 0) + int(packages.get("envelope") or 0) < 1:
        errors["info.packages"] = "At least one envelope or parcel is required"
    try:
        if float(info.get("weight") or 0) <= 0:
            errors["info.weight"] = "The weight must be greater than 0."
    except (TypeError, ValueError):
        errors["info.weight"] = "The weight must be a number."
    if info.get("payment") not in ("sender", "recipient"):
        errors["info.payment"] = "The selected payment is invalid."
    if not recipient.get("name"):
        errors["recipient.name"] = "The recipient name field is required."
    if not recipient.get("phone"):
        errors["recipient.phone"] = "The recipient phone field is required."
    county = "".join(
        c
        for c in unicodedata.normalize("NFKD", str(address.get("county") or ""))
        if not unicodedata.combining(c)
    ).lower()
    if county not in _COUNTY_NAMES:
        errors["recipient.address.county"] = "The selected county is invalid."
    if not address.get("locality"):
        errors["recipient.address.locality"] = "The locality field is required."
    if not address.get("street"):
        errors["recipient.address.street"] = "The street field is required."
    zip_code = str(address.get("zipCode") or "")
    if zip_code and not re.fullmatch(r"\d{6}", zip_code):
        errors["recipient.address.zipCode"] = "The zip code must be 6 digits."
    return errors


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise _error(400, "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise _error(400, "The request body must be an object.")
    return body


class _ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Dropped(Exception):
    """Close the connection without an answer."""


def _error(status: int, message: str) -> _ApiError:
    return _ApiError(status, message)


@web.middleware
async def _middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except _ApiError as exc:
        headers = {"Retry-After": "1"} if exc.status in (429, 503) else None
        return web.json_response(
            {"status": "error", "message": exc.message}, status=exc.status, headers=headers
        )
    except _Dropped:
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=500)
