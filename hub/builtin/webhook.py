"""The ``webhook`` connector: a routed document, POSTed to a unit's HTTPS endpoint, signed.

Each routing destination names a *target* (a department or institution code); its endpoint and
secret are settings::

    HUB_WEBHOOK__ENDPOINTS__DJ__URL=https://juridic.example/hooks/registry
    HUB_WEBHOOK__ENDPOINTS__DJ__SECRET=whsec_…

The delivery's idempotency key is the ``webhook-id``, the same on every attempt, so a receiver
deduplicates retries. 2xx is delivered; 408/425/429/5xx and network errors are retried
(``Retry-After`` honoured); other 4xx are dead letters. Attachments travel as metadata
(name, type, size, sha256); their content is fetched by reference (see docs/connectors.md).
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Any

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from hub.builtin.signing import SignatureError, secret_key, sign_with_key
from hub.connectors import Connector, ConnectorSettings, HealthCheck
from hub.errors import AmbiguousError, PermanentError, TransientError, classify_http_status
from hub.hookspecs import hookimpl
from hub.http import make_transport, send_through, timeout_extension
from hub.models import Job, Receipt

__all__ = ["WebhookConnector", "WebhookEndpoint", "WebhookSettings"]


class WebhookEndpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^https?://", description="Where to POST; https in production")
    secret: SecretStr = Field(description="Standard Webhooks secret, whsec_<base64>")

    @field_validator("secret")
    @classmethod
    def _whsec(cls, v: SecretStr) -> SecretStr:
        if not v.get_secret_value().startswith("whsec_"):
            raise ValueError("must start with whsec_ (Standard Webhooks secret format)")
        try:
            secret_key(v.get_secret_value())
        except SignatureError:
            raise ValueError("must be whsec_ followed by base64") from None
        return v


class WebhookSettings(ConnectorSettings):
    endpoints: dict[str, WebhookEndpoint] = Field(
        default_factory=dict,
        description="Target code → endpoint (HUB_WEBHOOK__ENDPOINTS__<CODE>__URL)",
    )
    include_body: bool = Field(default=True, description="Send the document's text body")

    @field_validator("endpoints")
    @classmethod
    def _lower_keys(cls, v: dict[str, WebhookEndpoint]) -> dict[str, WebhookEndpoint]:
        return {k.lower(): e for k, e in v.items()}


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


class WebhookConnector(Connector):
    name = "webhook"
    settings_model = WebhookSettings
    description = (
        "Signed HTTPS POST to a department's or institution's endpoint (Standard Webhooks)"
    )
    settings: WebhookSettings

    def __init__(
        self, settings: ConnectorSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        super().__init__(settings, transport=transport)
        self._sender: httpx.AsyncBaseTransport | None = None
        self._owns_sender = False
        self._timeout = timeout_extension(self.settings.timeout_seconds)
        # Parsed and decoded once, not on every request (~20 µs each, docs/performance.md).
        self._routes = {
            code: (httpx.URL(e.url), secret_key(e.secret.get_secret_value()))
            for code, e in self.settings.endpoints.items()
        }

    async def start(self) -> None:
        # Requests go straight through the transport (hub.http.send_through): no client.
        if self._sender is None:
            self._owns_sender = self.transport is None
            self._sender = self.transport or make_transport(
                self.settings.http_transport, max_connections=self.settings.concurrency
            )

    def payload(self, job: Job) -> bytes:
        d = job.document
        data: dict[str, Any] = {
            "id": d.id,
            "source": d.source,
            "external_id": d.external_id,
            "channel": d.channel.value,
            "kind": d.kind,
            "subject": d.subject,
            "department": d.department,
            "target": job.target,
            "registration_number": d.registration_number,
            # isoformat, not orjson's own: orjson refuses datetime subclasses (freezegun's,
            # pendulum's) that a plugin's document may carry.
            "registered_at": _iso(d.registered_at),
            "received_at": _iso(d.received_at),
            "due_date": _iso(d.due_date),
            "sender": d.sender.model_dump(exclude_none=True) if d.sender else None,
            "attachments": [a.model_dump() for a in d.attachments],
            "metadata": d.metadata,
        }
        if self.settings.include_body:
            data["body"] = d.body
        return orjson.dumps(
            {"type": "document.routed", "timestamp": datetime.now(UTC).isoformat(), "data": data}
        )

    async def deliver(self, job: Job) -> Receipt:
        target = (job.target or "").lower()
        route = self._routes.get(target)
        if route is None:
            code = (job.target or "<CODE>").upper()
            raise PermanentError(
                f"no webhook endpoint for target {job.target!r} "
                f"(set HUB_WEBHOOK__ENDPOINTS__{code}__URL and __SECRET)"
            )
        if self._sender is None:
            await self.start()
        assert self._sender is not None
        url, key = route
        body = self.payload(job)
        ts = int(time.time())
        headers = {
            "content-type": "application/json",
            "user-agent": "registry-hub",
            "webhook-id": job.idempotency_key,
            "webhook-timestamp": str(ts),
            "webhook-signature": sign_with_key(key, job.idempotency_key, ts, body),
        }
        request = httpx.Request(
            "POST", url, content=body, headers=headers, extensions=self._timeout
        )
        try:
            resp = await send_through(self._sender, request)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TransientError(
                f"cannot connect to {target} endpoint ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            # Sent, answer lost: the receiver may have it. Same webhook-id on the retry.
            raise AmbiguousError(
                f"no answer from {target} endpoint ({type(exc).__name__})"
            ) from None
        error = classify_http_status(
            resp.status_code,
            message=f"{target} endpoint answered HTTP {resp.status_code}",
            retry_after=resp.headers.get("retry-after"),
        )
        if error is not None:
            raise error
        return Receipt(remote_id=job.idempotency_key, status=str(resp.status_code))

    async def health(self) -> list[HealthCheck]:
        if not self.settings.endpoints:
            return [HealthCheck(name="endpoints", ok=True, detail="no endpoints configured")]
        return [
            HealthCheck(name=f"endpoint {code}", ok=True, detail=httpx.URL(e.url).host)
            for code, e in sorted(self.settings.endpoints.items())
        ]

    async def aclose(self) -> None:
        if self._sender is not None and self._owns_sender:
            await self._sender.aclose()
        self._sender = None


@hookimpl
def hub_register_connectors(register: Any) -> None:
    register(WebhookConnector)
