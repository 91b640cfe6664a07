"""``/status``: where is my request? — the citizens' page, outside ``/api/v1``, without a token.

``GET /status`` shows the form (``?nr=`` pre-fills the number: the receipt's QR code links
here); ``POST /status`` (form fields ``nr``, ``cod``) answers with the document's state,
department, term and release date. The code travels in the body, never in a URL, so it stays
out of access logs and browser history.

No personal data is shown, ever. A wrong code and an unknown number get the very same page, and
every look-up costs a token from the client address's bucket (``RATE_CAPACITY`` per
``RATE_WINDOW_SECONDS``, refilled continuously): past it the answer is 429 with a Romanian
message and ``Retry-After``, so registration numbers cannot be enumerated. The page is plain
HTML with one stylesheet; no script runs (its Content-Security-Policy forbids any).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from hub.log import get_logger
from hub.receipts import find_by_code
from hub.runtime import Hub
from hub.templating import templates
from hub.terms import local_date
from hub.units import UnitDirectory, load_units

__all__ = ["RateLimiter", "public_status_router"]

log = get_logger("hub.public_status")

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
RATE_CAPACITY = 10
RATE_WINDOW_SECONDS = 15 * 60

#: Ledger status → what a citizen reads.
STATES: dict[str, str] = {
    "received": "Primit, în curs de înregistrare",
    "registered": "Înregistrat, în curs de soluționare",
    "closed": "Soluționat",
    "released": "Soluționat, răspunsul a fost eliberat",
    "filed": "Clasat",
}
IN_PROGRESS = "În curs de soluționare"
NOT_FOUND = (
    "Nu am găsit un document cu acest număr de înregistrare și acest cod de acces. "
    "Verificați datele de pe recipisă."
)
TOO_MANY = (
    "Ați făcut prea multe încercări. Din motive de securitate, vă rugăm să reveniți "
    "peste {minutes} minute."
)
HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


class RateLimiter:
    """Token buckets per client key, in memory (one ``hub run`` process serves the page).

    At most ``max_clients`` buckets are kept; the least recently used goes first."""

    def __init__(
        self,
        capacity: int = RATE_CAPACITY,
        window_seconds: float = RATE_WINDOW_SECONDS,
        *,
        max_clients: int = 50_000,
        clock: Any = time.monotonic,
    ) -> None:
        self.capacity = capacity
        self.rate = capacity / window_seconds
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        """0 when allowed (a token taken), else the seconds until a token is back."""
        now = self.clock()
        tokens, last = self._buckets.pop(key, (float(self.capacity), now))
        tokens = min(float(self.capacity), tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait


@dataclass(frozen=True, slots=True)
class StatusView:
    number: str
    registered: str
    state: str
    department: str
    due: str
    released: str


def _ro(moment: datetime | None) -> str:
    return f"{local_date(moment):%d.%m.%Y}" if moment else ""


def view_of(row: dict[str, Any], units: UnitDirectory) -> StatusView:
    meta = row.get("meta") or {}
    release = meta.get("release") if isinstance(meta, dict) else None
    released = ""
    if isinstance(release, dict) and release.get("released_at"):
        released = _ro(datetime.fromisoformat(str(release["released_at"])))
    code = row.get("department")
    unit = units.get(code) if code else None
    due = row.get("due_date")
    extended = isinstance(meta, dict) and bool((meta.get("term") or {}).get("extended"))
    return StatusView(
        number=str(row["registration_number"]),
        registered=_ro(row.get("registered_at") or row.get("created_at")),
        state=STATES.get(str(row.get("status")), IN_PROGRESS),
        department=unit.name if unit else (code or "Registratura"),
        due=(f"{due:%d.%m.%Y}" + (" (prelungit)" if extended else ""))
        if due
        else "fără termen legal de răspuns",
        released=released or "răspunsul nu a fost încă eliberat",
    )


def public_status_router(hub: Hub, limiter: RateLimiter | None = None) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    limiter = limiter or RateLimiter()
    units = load_units(hub.settings.units_file)
    css = (TEMPLATES / "public" / "status.css").read_bytes()

    def page(status: int = 200, **context: Any) -> HTMLResponse:
        context = {"message": "", "message_class": "", "result": None, "number": ""} | context
        html = templates().get_template("public/status.html").render(**context)
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    @router.get("/status", response_class=HTMLResponse)
    async def status_form(nr: str = "") -> HTMLResponse:
        return page(number=nr[:64])

    @router.post("/status", response_class=HTMLResponse)
    async def status_lookup(
        request: Request, nr: str = Form(""), cod: str = Form("")
    ) -> HTMLResponse:
        # Over-long input is cut, not refused: the citizen gets the same Romanian page.
        nr, cod = nr.strip()[:64], cod.strip()[:32]
        client = request.client.host if request.client else "unknown"
        wait = limiter.take(client)
        if wait > 0:
            minutes = max(1, int(wait // 60) + 1)
            resp = page(
                429,
                number=nr,
                message=TOO_MANY.format(minutes=minutes),
                message_class="warning",
            )
            resp.headers["retry-after"] = str(int(wait) + 1)
            log.warning("hub.public_status.rate_limited")
            return resp
        row = await hub.runner.read(find_by_code, hub.ledger, nr, cod) if nr and cod else None
        if row is None:
            return page(number=nr, message=NOT_FOUND, message_class="warning")
        return page(number=nr, result=view_of(row, units))

    @router.get("/status/status.css")
    async def status_css() -> Response:
        return Response(
            css,
            media_type="text/css; charset=utf-8",
            headers={"cache-control": "public, max-age=3600", "x-content-type-options": "nosniff"},
        )

    return router
