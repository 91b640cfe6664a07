"""The ``fiscal`` connector: fiscal enforcement acts and fines to the Fiscal Directorate.

One signed JSON POST per act to the Directorate's intake (``HUB_FISCAL__BASE_URL`` +
``PATH``), signed per Standard Webhooks with the shared secret (:mod:`hub.builtin.signing`).
The delivery's idempotency key is the ``webhook-id``: the Directorate answers a repeated id with
the number it gave the first time, so a retry after a lost answer never registers an act twice.

The Directorate acknowledges with its own registration number. It becomes the delivery's
receipt (``remote_id`` and ``data.directorate_number``), visible with the document in
``GET /api/v1/documents/{id}``; the receipt also keeps the issuer and the amount, which is all
the daily reconciliation summary needs (:mod:`hub_fiscal.summary`).

Attachments travel inline (base64) or, with ``attachments = "link"`` or above
``max_inline_bytes``, by a short-lived signed download link of the hub (:mod:`hub.links`).
"""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from hub.builtin.signing import sign
from hub.connectors import Connector, ConnectorSettings, HealthCheck
from hub.errors import AmbiguousError, PermanentError, TransientError, classify_http_status
from hub.http import make_client
from hub.links import signed_url
from hub.models import Job, Receipt
from hub_fiscal.act import FiscalAct, read_act
from hub_fiscal.settings import DEMO_SECRET, FiscalSettings

__all__ = ["FiscalConnector"]


class FiscalConnector(Connector):
    name = "fiscal"
    settings_model = FiscalSettings
    description = "Fiscal acts and fines to the Fiscal Directorate's intake (signed JSON)"
    settings: FiscalSettings

    def __init__(
        self, settings: ConnectorSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        super().__init__(settings, transport=transport)
        self._client: httpx.AsyncClient | None = None

    @property
    def url(self) -> str:
        return self.settings.base_url.rstrip("/") + self.settings.path

    async def start(self) -> None:
        if self._client is None:
            self._client = make_client(
                timeout=self.settings.timeout_seconds,
                transport=self.transport,
                kind=self.settings.http_transport,
                max_connections=self.settings.concurrency,
                headers={"content-type": "application/json", "user-agent": "registry-hub"},
            )

    def _link_secret(self) -> str | None:
        hs = self.hub_settings
        if hs is None or hs.download_link_secret is None:
            return None
        return hs.download_link_secret.get_secret_value()

    async def attachments(self, job: Job) -> list[dict[str, Any]]:
        refs = job.document.attachments
        total = sum(a.size for a in refs)
        secret = self._link_secret()
        by_link = self.settings.attachments == "link" or total > self.settings.max_inline_bytes
        if by_link and secret is None:
            raise PermanentError(
                "attachments go by link but HUB_DOWNLOAD_LINK_SECRET is not set "
                f"({total} bytes; inline limit {self.settings.max_inline_bytes})"
            )
        out: list[dict[str, Any]] = []
        for a in refs:
            entry: dict[str, Any] = a.model_dump()
            if by_link:
                assert secret is not None and self.hub_settings is not None
                url, expires = signed_url(
                    self.hub_settings.public_url, secret, a.sha256, self.settings.link_ttl_seconds
                )
                entry["url"] = url
                entry["expires_at"] = datetime.fromtimestamp(expires, UTC).isoformat()
            else:
                content = (
                    await self.documents.attachment_content(a.sha256) if self.documents else None
                )
                if content is None:
                    raise PermanentError(f"attachment {a.sha256[:12]} is missing from the ledger")
                entry["content_base64"] = base64.b64encode(content).decode()
            out.append(entry)
        return out

    def body(self, job: Job, act: FiscalAct, files: list[dict[str, Any]]) -> bytes:
        d = job.document
        data = {
            "hub_document_id": d.id,
            "registration_number": d.registration_number,
            "registered_at": d.registered_at.isoformat() if d.registered_at else None,
            **act.payload(),
            "attachments": files,
        }
        return orjson.dumps(
            {"type": "fiscal.act", "timestamp": datetime.now(UTC).isoformat(), "data": data}
        )

    async def deliver(self, job: Job) -> Receipt:
        act = read_act(job.document)
        if self._client is None:
            await self.start()
        assert self._client is not None
        body = self.body(job, act, await self.attachments(job))
        ts = int(time.time())
        headers = {
            "webhook-id": job.idempotency_key,
            "webhook-timestamp": str(ts),
            "webhook-signature": sign(
                self.settings.secret.get_secret_value(), job.idempotency_key, ts, body
            ),
        }
        try:
            resp = await self._client.post(self.url, content=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TransientError(
                f"cannot connect to the Fiscal Directorate ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            # Sent, answer lost: the same webhook-id on the retry gets the same number back.
            raise AmbiguousError(
                f"no answer from the Fiscal Directorate ({type(exc).__name__})"
            ) from None
        if resp.status_code == 401:
            raise PermanentError(
                "the Fiscal Directorate refused the signature (HTTP 401): check HUB_FISCAL__SECRET",
                status_code=401,
            )
        error = classify_http_status(
            resp.status_code,
            message=f"the Fiscal Directorate answered HTTP {resp.status_code}",
            retry_after=resp.headers.get("retry-after"),
        )
        if error is not None:
            error_type = _error_type(resp)
            if error_type:
                error.error_type = error_type
                error.message += f" ({error_type})"
            raise error
        return self._receipt(resp, act)

    @staticmethod
    def _receipt(resp: httpx.Response, act: FiscalAct) -> Receipt:
        try:
            answer = resp.json()
            number = str(answer["number"])
        except (ValueError, KeyError, TypeError):
            raise AmbiguousError(
                f"the Fiscal Directorate answered HTTP {resp.status_code} without its number"
            ) from None
        return Receipt(
            remote_id=number,
            status="acknowledged",
            data={
                "directorate_number": number,
                "received_at": answer.get("received_at"),
                "kind": act.kind,
                "issuer": act.issuer,
                "amount": f"{act.amount:.2f}",
                "currency": "RON",
            },
        )

    async def health(self) -> list[HealthCheck]:
        checks = [HealthCheck(name="intake", ok=True, detail=httpx.URL(self.url).host)]
        demo = self.settings.secret.get_secret_value() == DEMO_SECRET
        checks.append(
            HealthCheck(
                name="secret",
                ok=not demo,
                detail="the built-in demo secret: set HUB_FISCAL__SECRET" if demo else "",
            )
        )
        if self.settings.attachments == "link":
            ok = self._link_secret() is not None or self.hub_settings is None
            checks.append(
                HealthCheck(
                    name="download links",
                    ok=ok,
                    detail="" if ok else "set HUB_DOWNLOAD_LINK_SECRET for attachments by link",
                )
            )
        return checks

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _error_type(resp: httpx.Response) -> str | None:
    """The Directorate's machine-readable error code (``{"error": {"code": …}}``), if any.
    Only a short identifier is kept: the rest of an error body may echo personal data."""
    try:
        code = resp.json().get("error", {}).get("code")
    except (ValueError, AttributeError):
        return None
    if isinstance(code, str) and code.isidentifier() and len(code) <= 40:
        return code
    return None
