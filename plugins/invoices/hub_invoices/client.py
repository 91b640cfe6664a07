"""An async client of the RO e-Factura REST API (httpx, built with :func:`hub.http.make_client`).

ANAF answers business errors with HTTP 200 and ``{"eroare": "…", "titlu": "…"}``. They map to:

* "Nu exista mesaje …" → an empty page (:class:`ListPage` with no messages);
* "S-au facut deja …" (a daily limit) → :class:`QuotaExceeded`: the source pauses until the
  next ANAF day;
* anything else → :class:`EFacturaError` with ANAF's text: a visible source error (list) or an
  error on that one message (download).

Limits are kept on this side too (:class:`RateLimiter`): 1,000 calls a minute across methods,
and the per-CUI daily list quotas, counted in ``invoices_quota`` so a restart does not reset
them; a call that would pass a daily limit is not sent.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from hub.http import make_client
from hub.redaction import redact_text
from hub_invoices.oauth import TokenManager
from hub_invoices.settings import InvoicesSettings

__all__ = [
    "EFacturaClient",
    "EFacturaError",
    "ListPage",
    "Message",
    "MessageError",
    "QuotaExceeded",
    "RateLimiter",
    "anaf_day",
]

_EROARE = re.compile(r'"eroare"\s*:\s*"((?:[^"\\]|\\.)*)"')


def anaf_day(ts: float, tz: str = "Europe/Bucharest") -> str:
    """The ANAF day (quotas reset at midnight, Romanian time) of an epoch timestamp."""
    return datetime.fromtimestamp(ts, ZoneInfo(tz)).date().isoformat()


def seconds_to_next_day(ts: float, tz: str = "Europe/Bucharest") -> float:
    zone = ZoneInfo(tz)
    now = datetime.fromtimestamp(ts, zone)
    midnight = datetime(now.year, now.month, now.day, tzinfo=zone).timestamp() + 86400
    # A DST day is 23 or 25 hours long: recompute the wall-clock midnight.
    nxt = datetime.fromtimestamp(midnight + 3600, zone)
    start = datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone).timestamp()
    return max(start - ts, 1.0) + 60.0  # a minute past midnight, ANAF's counters reset first


class EFacturaError(Exception):
    """ANAF said no (an ``eroare`` other than "no messages" or a quota, or an HTTP error)."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class QuotaExceeded(EFacturaError):
    """A daily limit is reached (ANAF said so, or the local counter did): wait for tomorrow."""


class MessageError(EFacturaError):
    """This one message cannot be downloaded (ANAF's ``eroare`` for it); the poll goes on."""


@dataclass(frozen=True, slots=True)
class Message:
    """One listed message (``mesaje[]``)."""

    id: str
    cif: str
    tip: str
    id_solicitare: str
    detalii: str
    data_creare: str

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Message:
        mid = str(raw.get("id") or "")
        if not mid.isdigit() or len(mid) > 32:
            raise EFacturaError("list answer has a message without a numeric id")
        return cls(
            id=mid,
            cif=str(raw.get("cif") or "")[:16],
            tip=str(raw.get("tip") or "")[:64],
            id_solicitare=str(raw.get("id_solicitare") or "")[:32],
            detalii=str(raw.get("detalii") or "")[:2000],
            data_creare=str(raw.get("data_creare") or "")[:16],
        )


@dataclass(slots=True)
class ListPage:
    messages: list[Message] = field(default_factory=list)
    total_pages: int = 0
    total: int = 0


class RateLimiter:
    """At most ``per_minute`` calls in any 60 s (sliding window), shared by every method."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()
        self.waited = 0.0

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self.clock()
                while self._sent and self._sent[0] <= now - 60.0:
                    self._sent.popleft()
                if len(self._sent) < self.per_minute:
                    self._sent.append(now)
                    return
                pause = self._sent[0] + 60.0 - now
                self.waited += pause
                await asyncio.sleep(pause)


#: (cif, day, kind, limit) → calls so far; raises QuotaExceeded when the limit is reached.
QuotaTaker = Callable[[str, str, str, int], Awaitable[int]]


class EFacturaClient:
    def __init__(
        self,
        settings: InvoicesSettings,
        tokens: TokenManager,
        take_quota: QuotaTaker,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.tokens = tokens
        self.take_quota = take_quota
        self.clock = clock
        self.limiter = RateLimiter(settings.limits.calls_per_minute)
        self._transport = transport
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = make_client(
                timeout=self.settings.timeout_seconds,
                transport=self._transport,
                kind=self.settings.http_transport,
                max_connections=max(self.settings.download_concurrency, 2),
                base_url=self.settings.api_base,
                headers={"user-agent": "registry-hub-invoices"},
            )
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # --- transport ----------------------------------------------------------------------------

    async def _get(self, path: str, params: dict[str, str], what: str) -> httpx.Response:
        token = await self.tokens.access_token()
        for renewed in (False, True):
            await self.limiter.acquire()
            try:
                resp = await self.http.get(
                    path, params=params, headers={"authorization": f"Bearer {token}"}
                )
            except httpx.TransportError as exc:
                raise EFacturaError(f"e-Factura {what}: {type(exc).__name__}") from None
            if resp.status_code == 401 and not renewed:
                token = (await self.tokens.refresh(token)).access_token
                continue
            if resp.status_code == 429:
                raise QuotaExceeded(f"e-Factura {what}: 429 too many calls", status_code=429)
            if resp.status_code != 200:
                raise EFacturaError(
                    f"e-Factura {what}: HTTP {resp.status_code} {_message(resp)}",
                    status_code=resp.status_code,
                )
            return resp
        raise AssertionError("unreachable")

    # --- list ---------------------------------------------------------------------------------

    async def list_page(
        self, start_ms: int, end_ms: int, page: int, filtru: str | None
    ) -> ListPage:
        """``listaMesajePaginatieFactura``: one page (1-based)."""
        cif = self.settings.cif
        await self.take_quota(
            cif, anaf_day(self.clock()), "paged", self.settings.limits.paged_list_per_day
        )
        params = {
            "startTime": str(start_ms),
            "endTime": str(end_ms),
            "cif": cif,
            "pagina": str(page),
        }
        if filtru:
            params["filtru"] = filtru
        resp = await self._get("/listaMesajePaginatieFactura", params, "list")
        body = _json(resp, "list")
        eroare = body.get("eroare")
        if eroare:
            text = str(eroare)
            if text.startswith("Nu exista mesaje"):
                return ListPage()
            if text.startswith("S-au facut deja"):
                raise QuotaExceeded(f"e-Factura list: {_said(text)}")
            raise EFacturaError(f"e-Factura list: {_said(text)}")
        try:
            mesaje = [Message.from_json(m) for m in body.get("mesaje") or []]
            return ListPage(
                messages=mesaje,
                total_pages=int(body.get("numar_total_pagini") or (1 if mesaje else 0)),
                total=int(body.get("numar_total_inregistrari") or len(mesaje)),
            )
        except (TypeError, ValueError, AttributeError):
            raise EFacturaError(
                "e-Factura list: answer does not have the documented shape"
            ) from None

    async def list_simple(self, days: int, filtru: str | None) -> list[Message]:
        """``listaMesajeFactura`` (≤ 500 messages; the health check uses it sparingly)."""
        cif = self.settings.cif
        await self.take_quota(
            cif, anaf_day(self.clock()), "simple", self.settings.limits.simple_list_per_day
        )
        params = {"zile": str(days), "cif": cif}
        if filtru:
            params["filtru"] = filtru
        body = _json(await self._get("/listaMesajeFactura", params, "list"), "list")
        eroare = body.get("eroare")
        if eroare:
            text = str(eroare)
            if text.startswith("Nu exista mesaje"):
                return []
            if text.startswith("S-au facut deja"):
                raise QuotaExceeded(f"e-Factura list: {_said(text)}")
            raise EFacturaError(f"e-Factura list: {_said(text)}")
        return [Message.from_json(m) for m in body.get("mesaje") or []]

    # --- download -----------------------------------------------------------------------------

    async def download(self, message_id: str) -> bytes:
        """``descarcare?id=…`` → the ZIP bytes, or :class:`MessageError`."""
        resp = await self._get("/descarcare", {"id": message_id}, "download")
        content = resp.content
        if content.startswith(b"PK"):
            return content
        text = _eroare_text(content)
        if text is None:
            raise MessageError("e-Factura download: answer is neither a ZIP nor an eroare")
        if text.startswith("S-au facut deja"):
            raise MessageError(f"e-Factura download: {_said(text)} (retried tomorrow)")
        raise MessageError(f"e-Factura download: {_said(text)}")


def _message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body.get("eroare") or "")[:200]
    return ""


def _json(resp: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        raise EFacturaError(f"e-Factura {what}: answer is not JSON") from None
    if not isinstance(body, dict):
        raise EFacturaError(f"e-Factura {what}: answer is not a JSON object")
    return body


def _eroare_text(content: bytes) -> str | None:
    """ANAF's ``eroare`` — also from its daily-limit answer, whose JSON has a stray ``}``."""
    try:
        body = json.loads(content)
        if isinstance(body, dict) and body.get("eroare"):
            return str(body["eroare"])
    except ValueError:
        pass
    found = _EROARE.search(content[:4096].decode("utf-8", "replace"))
    return found.group(1) if found else None


def _said(text: str) -> str:
    """What ANAF said, short and redacted: its messages name CIFs and may quote more."""
    return redact_text(text[:300])
