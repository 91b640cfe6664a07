"""The simulated RO e-Factura API and ANAF's OAuth2 server: a real HTTP server (aiohttp) on
127.0.0.1, following ANAF's swagger pages (``/work/shared/specs/anaf-efactura``).

Served:

* ``GET /anaf-oauth2/v1/authorize`` — the interactive step, simulated: redirects to
  ``redirect_uri?code=…`` (the person with the qualified certificate has consented);
* ``POST /anaf-oauth2/v1/token`` — ``authorization_code`` and ``refresh_token`` grants, client
  id/secret as HTTP Basic, ``token_content_type=jwt``; a refresh returns a new pair and the old
  refresh token stops working;
* ``GET /{prod|test}/FCTEL/rest/listaMesajePaginatieFactura`` and ``…/listaMesajeFactura`` with
  every documented ``eroare`` answer (HTTP 200), the 400 shape for missing parameters, pages of
  500;
* ``GET …/descarcare?id=`` — the message's ZIP, or the documented ``eroare`` answers (the daily
  limit one with ANAF's stray closing brace);
* quotas: 1,000 calls/minute per token (429), 1,500 simple and 100,000 paged list calls per CUI
  per day, 10 downloads per message per day;
* faults: :meth:`EFacturaSimulator.fail_next` (HTTP errors or an ``eroare`` text), ``delay``.

Use it in-process (``async with EFacturaSimulator() as sim``) or on its own:
``python -m hub_invoices.simulator --port 8082``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import secrets
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from hub.testing.loopback import LoopbackServer
from hub_invoices.simulator.invoices import (
    SUPPLIERS,
    Supplier,
    credit_note_xml,
    error_report_xml,
    invoice_xml,
    make_zip,
)

__all__ = ["EFacturaSimulator", "SimMessage"]

BUCHAREST = ZoneInfo("Europe/Bucharest")
PAGE_SIZE = 500
ACCESS_TTL = 90 * 86400
FILTERS = {"E": "ERORI FACTURA", "T": "FACTURA TRIMISA", "P": "FACTURA PRIMITA", "R": "MESAJ"}
DEFAULT_CIF = "14756536"  # Municipiul Timișoara


def _ts(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, BUCHAREST).strftime("%d-%m-%Y %H:%M:%S")


def _custom_error(status: int, message: str) -> web.Response:
    reason = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 429: "Too Many Requests"}
    body = {
        "timestamp": datetime.now(BUCHAREST).strftime("%d-%m-%Y %H:%M:%S"),
        "status": status,
        "error": reason.get(status, "Internal Server Error"),
        "message": message,
    }
    return web.json_response(body, status=status)


def _eroare(text: str, titlu: str = "Lista Mesaje") -> web.Response:
    return web.json_response({"eroare": text, "titlu": titlu})


def _numeric(value: str) -> bool:
    return value.isdigit() and len(value) < 19


@dataclass
class SimMessage:
    """One message in the simulated SPV inbox."""

    id: str
    cif: str
    tip: str
    id_solicitare: str
    detalii: str
    created_ms: int
    content: bytes | None = None  # the XML inside; built lazily when None
    zip_override: bytes | None = None  # hostile ZIPs for tests
    build: Any = None  # callable() -> bytes

    def listing(self) -> dict[str, str]:
        return {
            "data_creare": datetime.fromtimestamp(self.created_ms / 1000, BUCHAREST).strftime(
                "%Y%m%d%H%M"
            ),
            "cif": self.cif,
            "id_solicitare": self.id_solicitare,
            "detalii": self.detalii,
            "tip": self.tip,
            "id": self.id,
        }

    def zip(self) -> bytes:
        if self.zip_override is not None:
            return self.zip_override
        if self.content is None:
            self.content = self.build()
        return make_zip(self.id, self.content)


@dataclass
class _Token:
    client_id: str
    cifs: frozenset[str]
    expires_at: float


@dataclass
class _Fault:
    endpoint: str
    status: int
    eroare: str | None
    remaining: int


@dataclass
class SimState:
    messages: dict[str, SimMessage] = field(default_factory=dict)


class EFacturaSimulator(LoopbackServer):
    """One simulated ANAF (OAuth2 + e-Factura) for one or more CUIs.

    Args:
        cif: the CUI whose SPV the simulated certificate may read.
        client_id / client_secret: the registered OAuth application.
        quotas: override ANAF's daily limits (``simple``, ``paged``, ``download``) and
            ``per_minute``, e.g. to exercise the quota answers quickly.
    """

    def __init__(
        self,
        *,
        cif: str = DEFAULT_CIF,
        client_id: str = "hub-client",
        client_secret: str = "hub-secret",  # noqa: S107 (the simulator's own)
        quotas: dict[str, int] | None = None,
        clock: Any = time.time,
    ) -> None:
        self.cif = cif
        self.client_id = client_id
        self.client_secret = client_secret
        self.limits = {"simple": 1500, "paged": 100_000, "download": 10, "per_minute": 1000}
        self.limits.update(quotas or {})
        self.clock = clock
        self.messages: dict[str, SimMessage] = {}
        self.requests: Counter[str] = Counter()
        self.daily: Counter[tuple[str, str, str]] = Counter()  # (cif|msg, day, kind)
        self.delay = 0.0
        #: Messages per page (ANAF: 500); tests lower it to walk many pages cheaply.
        self.page_size = PAGE_SIZE
        self._faults: list[_Fault] = []
        self._minute: dict[str, deque[float]] = defaultdict(deque)
        self._access: dict[str, _Token] = {}
        self._refresh: dict[str, _Token] = {}
        self._codes: dict[str, frozenset[str]] = {}
        self._next_id = 3_001_000_000
        self._next_upload = 5_001_000_000
        self._numbers: Counter[str] = Counter()
        self.app = self._build_app()

    # --- settings (start, stop and url: LoopbackServer) ---------------------------------------

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """An ``invoices`` settings section that fits this simulator (a refresh token seeded)."""
        section: dict[str, Any] = {
            "environment": "test",
            "base_url": f"{self.url}/test/FCTEL/rest",
            "token_url": f"{self.url}/anaf-oauth2/v1/token",
            "authorize_url": f"{self.url}/anaf-oauth2/v1/authorize",
            "redirect_uri": "https://registratura.example/anaf/callback",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "cif": self.cif,
            "token_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "refresh_token": self.issue_refresh_token(),
        }
        section.update(overrides)
        return section

    # --- tokens -------------------------------------------------------------------------------

    def _jwt(self, kind: str) -> str:
        header = base64.urlsafe_b64encode(b'{"alg":"RS512","typ":"JWT"}').rstrip(b"=").decode()
        claims = json.dumps({"typ": kind, "jti": secrets.token_hex(8), "iat": int(self.clock())})
        body = base64.urlsafe_b64encode(claims.encode()).rstrip(b"=").decode()
        return f"{header}.{body}.{secrets.token_urlsafe(32)}"

    def issue_refresh_token(self, cifs: frozenset[str] | None = None) -> str:
        token = self._jwt("refresh")
        self._refresh[token] = _Token(
            self.client_id, cifs or frozenset({self.cif}), self.clock() + 365 * 86400
        )
        return token

    def issue_code(self) -> str:
        code = secrets.token_urlsafe(16)
        self._codes[code] = frozenset({self.cif})
        return code

    def revoke_access_tokens(self) -> None:
        """Every access token stops working (as after ANAF revokes them): clients refresh."""
        self._access.clear()

    # --- faults and messages ------------------------------------------------------------------

    def fail_next(
        self, endpoint: str, status: int = 500, *, eroare: str | None = None, count: int = 1
    ) -> None:
        """The next ``count`` calls of ``endpoint`` (``paged``, ``simple``, ``download``,
        ``token``) answer ``status`` — or HTTP 200 with ``eroare`` when given."""
        self._faults.append(_Fault(endpoint, status, eroare, count))

    def _fault(self, endpoint: str) -> _Fault | None:
        for f in self._faults:
            if f.endpoint == endpoint and f.remaining > 0:
                f.remaining -= 1
                return f
        return None

    def _ids(self) -> tuple[str, str]:
        self._next_id += 1
        self._next_upload += 1
        return str(self._next_id), str(self._next_upload)

    def add_invoice(
        self,
        supplier: Supplier | None = None,
        *,
        number: str | None = None,
        issue: date | None = None,
        created_ms: int | None = None,
        order_ref: str | None = None,
        contract_ref: str | None = None,
        credit_note: bool = False,
        xml: bytes | None = None,
        zip_bytes: bytes | None = None,
        detalii_cif: str | None = None,
        seed: int | None = None,
    ) -> SimMessage:
        """A received invoice (or credit note, or any XML / ZIP for hostile-input tests)."""
        supplier = supplier or SUPPLIERS[0]
        mid, upload = self._ids()
        prefix = "".join(w[0] for w in supplier.name.split()[:3]).upper()
        if number is None:
            self._numbers[prefix] += 1
            number = f"{prefix} {self._numbers[prefix]:05d}"
        issue = issue or datetime.fromtimestamp(self.clock(), BUCHAREST).date()
        rng = random.Random(seed if seed is not None else int(mid))
        num, when = number, issue

        def build() -> bytes:
            if credit_note:
                return credit_note_xml(
                    supplier,
                    self.cif,
                    num,
                    when,
                    rng,
                    corrects=f"{num}-ORIG",
                    contract_ref=contract_ref,
                )
            return invoice_xml(
                supplier, self.cif, num, when, rng, order_ref=order_ref, contract_ref=contract_ref
            )

        msg = SimMessage(
            id=mid,
            cif=self.cif,
            tip="FACTURA PRIMITA",
            id_solicitare=upload,
            detalii=(
                f"Factura cu id_incarcare={upload} emisa de "
                f"cif_emitent={detalii_cif or supplier.cui} pentru cif_beneficiar={self.cif}"
            ),
            created_ms=created_ms or int(self.clock() * 1000) - 60_000,
            content=xml,
            zip_override=zip_bytes,
            build=build,
        )
        self.messages[mid] = msg
        return msg

    def add_error_message(self, *, created_ms: int | None = None) -> SimMessage:
        """An "ERORI FACTURA" message: ANAF's validation report instead of an invoice."""
        mid, upload = self._ids()
        report = error_report_xml(
            upload,
            [
                "E: validari globale (BR-RO-010) eroare: cbc:IssueDate nu poate fi in viitor",
                "E: validari globale (BR-CO-15) eroare: totalul cu TVA nu este corect",
            ],
        )
        msg = SimMessage(
            id=mid,
            cif=self.cif,
            tip="ERORI FACTURA",
            id_solicitare=upload,
            detalii=f"Erori de validare identificate la factura primita cu id_incarcare={upload}",
            created_ms=created_ms or int(self.clock() * 1000) - 60_000,
            content=report,
        )
        self.messages[mid] = msg
        return msg

    def generate(
        self,
        count: int,
        *,
        seed: int = 7,
        credit_notes: float = 0.08,
        errors: float = 0.04,
        spread_hours: float = 48.0,
    ) -> list[SimMessage]:
        """``count`` messages from the suppliers over the last ``spread_hours``: invoices with
        contract or order references, some credit notes and some error messages."""
        rng = random.Random(seed)
        now_ms = int(self.clock() * 1000) - 120_000
        out = []
        for _ in range(count):
            created = now_ms - int(rng.random() * spread_hours * 3_600_000)
            roll = rng.random()
            if roll < errors:
                out.append(self.add_error_message(created_ms=created))
                continue
            supplier = rng.choice(SUPPLIERS)
            dept = rng.choice(["DE", "DT", "DIT", "DM"])
            out.append(
                self.add_invoice(
                    supplier,
                    created_ms=created,
                    credit_note=roll < errors + credit_notes,
                    contract_ref=f"CTR-{dept}-{rng.randint(1, 400)}/2026"
                    if rng.random() < 0.7
                    else None,
                    order_ref=f"CMD-{rng.randint(1000, 9999)}" if rng.random() < 0.4 else None,
                    seed=rng.randint(0, 1 << 30),
                )
            )
        return out

    # --- HTTP ---------------------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_get("/anaf-oauth2/v1/authorize", self._authorize)
        app.router.add_post("/anaf-oauth2/v1/token", self._token)
        for env in ("prod", "test"):
            base = f"/{env}/FCTEL/rest"
            app.router.add_get(f"{base}/listaMesajePaginatieFactura", self._paged)
            app.router.add_get(f"{base}/listaMesajeFactura", self._simple)
            app.router.add_get(f"{base}/descarcare", self._download)
        return app

    def _day(self) -> str:
        return datetime.fromtimestamp(self.clock(), BUCHAREST).date().isoformat()

    async def _authorize(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        if q.get("client_id") != self.client_id or q.get("response_type") != "code":
            return _custom_error(400, "client_id sau response_type invalid")
        redirect = q.get("redirect_uri", "")
        raise web.HTTPFound(f"{redirect}?code={self.issue_code()}")

    async def _token(self, request: web.Request) -> web.Response:
        self.requests["token"] += 1
        fault = self._fault("token")
        if fault is not None:
            return _custom_error(fault.status, "eroare simulata")
        auth = request.headers.get("authorization", "")
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if auth != f"Basic {expected}":
            return web.json_response(
                {"error": "invalid_client", "error_description": "Bad client credentials"},
                status=401,
            )
        form = await request.post()
        grant = form.get("grant_type")
        if grant == "authorization_code":
            cifs = self._codes.pop(str(form.get("code", "")), None)
        elif grant == "refresh_token":
            old = self._refresh.pop(str(form.get("refresh_token", "")), None)
            cifs = old.cifs if old is not None and old.expires_at > self.clock() else None
        else:
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        if cifs is None:
            return web.json_response(
                {"error": "invalid_grant", "error_description": "Invalid code or refresh token"},
                status=400,
            )
        if form.get("token_content_type") != "jwt":
            return web.json_response(
                {"error": "invalid_request", "error_description": "token_content_type=jwt"},
                status=400,
            )
        access = self._jwt("access")
        self._access[access] = _Token(self.client_id, cifs, self.clock() + ACCESS_TTL)
        refresh = self.issue_refresh_token(cifs)
        return web.json_response(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": ACCESS_TTL,
                "refresh_token": refresh,
                "scope": "clientappid issuer role",
            }
        )

    async def _guard(
        self, request: web.Request, endpoint: str
    ) -> tuple[_Token | None, web.Response | None]:
        """Bearer token, per-minute limit and faults; (token, None) or (None, response)."""
        self.requests[endpoint] += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        auth = request.headers.get("authorization", "")
        token = self._access.get(auth[7:]) if auth.startswith("Bearer ") else None
        if token is None or token.expires_at <= self.clock():
            return None, _custom_error(401, "Unauthorized")
        window = self._minute[auth]
        now = self.clock()
        while window and window[0] <= now - 60:
            window.popleft()
        if len(window) >= self.limits["per_minute"]:
            return None, _custom_error(429, "Limita de apeluri pe minut a fost depasita")
        window.append(now)
        fault = self._fault(endpoint)
        if fault is not None:
            if fault.eroare is not None:
                titlu = "Descarcare mesaj" if endpoint == "download" else "Lista Mesaje"
                return None, _eroare(fault.eroare, titlu)
            return None, _custom_error(fault.status, "eroare simulata")
        return token, None

    def _rights(self, token: _Token, cif: str) -> web.Response | None:
        if not token.cifs:
            return _eroare("Nu exista niciun CIF pentru care sa aveti drept in SPV")
        if cif not in token.cifs:
            return _eroare(f"Nu aveti drept in SPV pentru CIF={cif}")
        return None

    def _filtered(self, cif: str, filtru: str | None) -> list[SimMessage]:
        tip = FILTERS.get(filtru or "")
        return [
            m
            for m in self.messages.values()
            if m.cif == cif and (tip is None or m.tip.startswith(tip))
        ]

    def _count_call(self, cif: str, kind: str) -> web.Response | None:
        key = (cif, self._day(), kind)
        if self.daily[key] >= self.limits[kind]:
            return _eroare(
                f"S-au facut deja {self.daily[key]} interogari de lista mesaje de catre "
                "utilizator in cursul zilei"
            )
        self.daily[key] += 1
        return None

    async def _paged(self, request: web.Request) -> web.Response:
        token, refused = await self._guard(request, "paged")
        if refused is not None:
            return refused
        assert token is not None
        q = request.query
        if any(not q.get(k) for k in ("startTime", "endTime", "cif", "pagina")):
            return _custom_error(
                400, "Parametrii startTime, endTime, cif si pagina sunt obligatorii"
            )
        start, end, cif, page = q["startTime"], q["endTime"], q["cif"], q["pagina"]
        if not _numeric(cif):
            return _eroare(
                f"CIF introdus= {cif} nu este un numar sau nu are o valoare acceptata de sistem"
            )
        for name, value in (("startTime", start), ("endTime", end), ("pagina", page)):
            if not _numeric(value):
                return _eroare(
                    f"{name} = {value} nu este un numar sau nu are o valoare acceptata de sistem"
                )
        start_ms, end_ms, page_no = int(start), int(end), int(page)
        now_ms = int(self.clock() * 1000)
        if start_ms < now_ms - 60 * 86_400_000:
            return _eroare(
                f"startTime = {_ts(start_ms)} nu poate fi mai vechi de 60 de zile fata de "
                "momentul requestului"
            )
        if end_ms <= start_ms:
            return _eroare(f"endTime = {_ts(end_ms)} nu poate fi <= startTime = {_ts(start_ms)}")
        if end_ms > now_ms:
            return _eroare(
                f"endTime = {_ts(end_ms)} nu poate in viitor fata de momentul requestului"
            )
        filtru = q.get("filtru")
        if filtru is not None and filtru not in FILTERS:
            return _eroare("Valorile acceptate pentru parametrul filtru sunt E, T, P sau R")
        denied = self._rights(token, cif)
        if denied is not None:
            return denied
        over = self._count_call(cif, "paged")
        if over is not None:
            return over
        found = sorted(
            (m for m in self._filtered(cif, filtru) if start_ms <= m.created_ms < end_ms),
            key=lambda m: (m.created_ms, m.id),
        )
        if not found:
            return _eroare("Nu exista mesaje in intervalul selectat")
        size = self.page_size
        pages = (len(found) + size - 1) // size
        if page_no > pages or page_no < 1:
            return _eroare(
                f"Pagina solicitata {page_no} este mai mare decat numarul toatal de pagini {pages}"
            )
        chunk = found[(page_no - 1) * size : page_no * size]
        return web.json_response(
            {
                "mesaje": [m.listing() for m in chunk],
                "numar_inregistrari_in_pagina": len(chunk),
                "numar_total_inregistrari_per_pagina": size,
                "numar_total_inregistrari": len(found),
                "numar_total_pagini": pages,
                "index_pagina_curenta": page_no,
                "serial": "1234AA456",
                "cui": cif,
                "titlu": f"Lista Mesaje disponibile din intervalul {_ts(start_ms)} - {_ts(end_ms)}",
            }
        )

    async def _simple(self, request: web.Request) -> web.Response:
        token, refused = await self._guard(request, "simple")
        if refused is not None:
            return refused
        assert token is not None
        q = request.query
        if not q.get("zile") or not q.get("cif"):
            return _custom_error(400, "Parametrii zile si cif sunt obligatorii")
        cif, zile = q["cif"], q["zile"]
        if not _numeric(cif):
            return _eroare(f"CIF introdus= {cif} nu este un numar")
        if not _numeric(zile):
            return _eroare(f"Numarul de zile introdus= {zile} nu este un numar intreg")
        days = int(zile)
        if not 1 <= days <= 60:
            return _eroare("Numarul de zile trebuie sa fie intre 1 si 60")
        filtru = q.get("filtru")
        if filtru is not None and filtru not in FILTERS:
            return _eroare("Valorile acceptate pentru parametrul filtru sunt E, T, P sau R")
        denied = self._rights(token, cif)
        if denied is not None:
            return denied
        over = self._count_call(cif, "simple")
        if over is not None:
            return over
        since = int(self.clock() * 1000) - days * 86_400_000
        found = [m for m in self._filtered(cif, filtru) if m.created_ms >= since]
        if not found:
            return _eroare(f"Nu exista mesaje in ultimele {days} zile")
        if len(found) > PAGE_SIZE:
            return _eroare(
                "Lista de mesaje este mai mare decat numarul de 500 elemente permise in pagina. "
                "Folositi endpoint-ul cu paginatie."
            )
        return web.json_response(
            {
                "mesaje": [m.listing() for m in sorted(found, key=lambda m: m.created_ms)],
                "serial": "1234AA456",
                "cui": cif,
                "titlu": f"Lista Mesaje disponibile din ultimele {days} zile",
            }
        )

    async def _download(self, request: web.Request) -> web.StreamResponse:
        token, refused = await self._guard(request, "download")
        if refused is not None:
            return refused
        assert token is not None
        mid = request.query.get("id")
        if not mid:
            return _custom_error(400, "Parametrul id este obligatoriu")
        if not _numeric(mid):
            return _eroare(
                f"Id descarcare introdus= {mid} nu este un numar intreg", "Descarcare mesaj"
            )
        msg = self.messages.get(mid)
        if msg is None:
            return _eroare(
                f"Pentru id={mid} nu exista inregistrata nici o factura", "Descarcare mesaj"
            )
        if msg.cif not in token.cifs:
            return _eroare("Nu aveti dreptul sa descarcati acesta factura", "Descarcare mesaj")
        key = (mid, self._day(), "download")
        if self.daily[key] >= self.limits["download"]:
            # Verbatim from ANAF's page, stray brace included.
            return web.Response(
                text='{"eroare":"S-au facut deja 10 descarcari de mesaj in cursul zilei",'
                '"titlu":"Descarcare mesaj"}}',
                content_type="application/json",
            )
        self.daily[key] += 1
        return web.Response(
            body=msg.zip(),
            content_type="application/zip",
            headers={"content-disposition": f'attachment; filename="{mid}.zip"'},
        )

    # --- for tests ----------------------------------------------------------------------------

    def downloads_of(self, message_id: str) -> int:
        return sum(
            n for (k, _, kind), n in self.daily.items() if k == message_id and kind == "download"
        )

    def list_calls_today(self, kind: str = "paged") -> int:
        return self.daily[(self.cif, self._day(), kind)]

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def back(self, **delta: float) -> int:
        """Epoch ms ``delta`` ago (``minutes=5``)."""
        return int((datetime.now(UTC) - timedelta(**delta)).timestamp() * 1000)
