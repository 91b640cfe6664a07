"""The Fiscal Directorate's intake, simulated: a real HTTP server on 127.0.0.1 (aiohttp).

What it does, as the Directorate's system would:

* ``POST /api/intake/v1/acts`` — verifies the Standard Webhooks signature (401
  ``invalid_signature`` when it is missing, stale or wrong), validates the act (422
  ``validation_failed`` naming the fields), fetches attachments sent by link and checks every
  attachment's sha256 (422 ``attachment_mismatch``), and acknowledges with its own number
  ``DFMT/<year>/<seq>`` (201). A ``webhook-id`` seen before answers 200 with the same number;
* ``GET /api/intake/v1/acts/{number}`` — one act as registered;
* ``GET /health`` — 200.

Faults, switchable at run time (tests and ``hub demo``): ``down`` (503 with ``Retry-After``),
``latency`` (seconds before answering: slow), ``fail_next(status, count)``, and
``drop_after_commit`` (the act is registered, the connection is closed without an answer).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from aiohttp import web
from stdnum.ro import cf as ro_cf
from stdnum.ro import cnp as ro_cnp

from hub.builtin.signing import SignatureError, new_secret, verify
from hub.testing.loopback import LoopbackServer

__all__ = ["DirectorateSimulator", "ReceivedAct"]

_AMOUNT = re.compile(r"^(0|[1-9]\d{0,11})\.\d{2}$")
PATH = "/api/intake/v1/acts"


@dataclass
class ReceivedAct:
    number: str
    webhook_id: str
    received_at: datetime
    data: dict[str, Any]
    #: sha256 → content of every attachment, as received (inline) or fetched (link).
    files: dict[str, bytes] = field(default_factory=dict)


@dataclass
class Faults:
    down: bool = False
    #: ``Retry-After`` (seconds) of the 503 answered while down.
    retry_after: int = 5
    latency: float = 0.0
    fail_status: int = 503
    fail_count: int = 0
    drop_after_commit: int = 0

    def fail_next(self, status: int = 503, count: int = 1) -> None:
        self.fail_status, self.fail_count = status, count

    def clear(self) -> None:
        self.down, self.latency, self.fail_count, self.drop_after_commit = False, 0.0, 0, 0


def _error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    body = {"error": {"code": code, "message": message, **extra}}
    return web.json_response(body, status=status, dumps=lambda o: orjson.dumps(o).decode())


class DirectorateSimulator(LoopbackServer):
    """``secret`` is the shared Standard Webhooks secret (a fresh one by default)."""

    def __init__(self, secret: str | None = None, *, fetch_links: bool = True) -> None:
        self.secret = secret or new_secret()
        self.fetch_links = fetch_links
        self.faults = Faults()
        self.acts: dict[str, ReceivedAct] = {}
        self.by_number: dict[str, ReceivedAct] = {}
        self.requests: Counter[str] = Counter()
        self._seq = 0
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.app.router.add_post(PATH, self._intake)
        self.app.router.add_get(PATH + "/{number:.+}", self._get)
        self.app.router.add_get("/health", self._health)

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """A ``fiscal`` settings section pointing at this simulator."""
        return {"base_url": self.url, "secret": self.secret, "path": PATH} | overrides

    # --- handlers -----------------------------------------------------------------------------

    async def _health(self, request: web.Request) -> web.Response:
        if self.faults.down:
            return _error(503, "maintenance", "intake is down", retry_after=5)
        return web.json_response({"status": "ok"})

    async def _get(self, request: web.Request) -> web.Response:
        act = self.by_number.get(request.match_info["number"])
        if act is None:
            return _error(404, "not_found", "no such act")
        return web.json_response({"number": act.number, "kind": act.data.get("kind")})

    async def _intake(self, request: web.Request) -> web.StreamResponse:
        self.requests["intake"] += 1
        body = await request.read()
        if self.faults.latency:
            # Slow *after* reading: a client that gives up meanwhile still gets its act
            # registered, as a real slow server would (the answer is what is lost).
            await asyncio.sleep(self.faults.latency)
        if self.faults.down:
            self.requests["down"] += 1
            resp = _error(503, "maintenance", "intake is down for maintenance")
            resp.headers["Retry-After"] = str(self.faults.retry_after)
            return resp
        if self.faults.fail_count > 0:
            self.faults.fail_count -= 1
            return _error(self.faults.fail_status, "injected", "injected failure")
        try:
            verify(self.secret, dict(request.headers), body)
        except SignatureError as exc:
            self.requests["rejected"] += 1
            return _error(401, "invalid_signature", str(exc))
        webhook_id = request.headers["webhook-id"]
        seen = self.acts.get(webhook_id)
        if seen is not None:
            self.requests["duplicate"] += 1
            return self._ack(seen, 200)
        try:
            envelope = orjson.loads(body)
            data = envelope["data"]
            assert isinstance(data, dict)
        except (orjson.JSONDecodeError, KeyError, TypeError, AssertionError):
            return _error(400, "bad_request", "body is not a fiscal.act envelope")
        problems = _validate(data)
        if problems:
            self.requests["invalid"] += 1
            return _error(422, "validation_failed", "the act is not valid", fields=problems)
        files, problem = await self._files(data.get("attachments") or [])
        if problem:
            return _error(422, "attachment_mismatch", problem)
        seen = self.acts.get(webhook_id)  # a retry may have overtaken us while we fetched
        if seen is not None:
            self.requests["duplicate"] += 1
            return self._ack(seen, 200)
        self._seq += 1
        now = datetime.now(UTC)
        act = ReceivedAct(f"DFMT/{now.year}/{self._seq:06d}", webhook_id, now, data, files)
        self.acts[webhook_id] = act
        self.by_number[act.number] = act
        self.requests["registered"] += 1
        if self.faults.drop_after_commit > 0:
            self.faults.drop_after_commit -= 1
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        return self._ack(act, 201)

    @staticmethod
    def _ack(act: ReceivedAct, status: int) -> web.Response:
        return web.json_response(
            {
                "number": act.number,
                "received_at": act.received_at.isoformat(),
                "status": "inregistrat",
            },
            status=status,
        )

    async def _files(self, entries: list[Any]) -> tuple[dict[str, bytes], str | None]:
        files: dict[str, bytes] = {}
        for entry in entries:
            sha = str(entry.get("sha256", ""))
            if "content_base64" in entry:
                try:
                    content = base64.b64decode(entry["content_base64"], validate=True)
                except (binascii.Error, ValueError):
                    return files, "content_base64 is not base64"
            elif "url" in entry and self.fetch_links:
                try:
                    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as client:
                        resp = await client.get(entry["url"])
                except httpx.HTTPError as exc:
                    return files, f"attachment link unreachable ({type(exc).__name__})"
                if resp.status_code != 200:
                    return files, f"attachment link answered HTTP {resp.status_code}"
                content = resp.content
            else:
                continue
            if hashlib.sha256(content).hexdigest() != sha:
                return files, "attachment sha256 does not match its content"
            files[sha] = content
        return files, None


def _validate(data: dict[str, Any]) -> list[str]:
    problems = []
    if data.get("kind") not in ("amenda", "act_executare_fiscala"):
        problems.append("kind")
    for key in ("issuer", "legal_basis", "communicated_on"):
        if not data.get(key):
            problems.append(key)
    report = data.get("report") or {}
    if not (report.get("series") and report.get("number")):
        problems.append("report")
    amount = data.get("amount") or {}
    if amount.get("currency") != "RON" or not _AMOUNT.fullmatch(str(amount.get("value", ""))):
        problems.append("amount")
    offender = data.get("offender") or {}
    if offender.get("type") == "pf":
        if not ro_cnp.is_valid(str(offender.get("cnp", ""))):
            problems.append("offender.cnp")
    elif offender.get("type") == "pj":
        if not ro_cf.is_valid(str(offender.get("cui", ""))):
            problems.append("offender.cui")
    else:
        problems.append("offender.type")
    return problems
