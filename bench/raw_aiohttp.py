"""A what-if for the benchmark only (never shipped, never routed to in production): the webhook
connector with aiohttp as its client API instead of httpx.

It is the shipped :class:`~hub.builtin.webhook.WebhookConnector` — same settings section, same
payload, same signature, same status mapping — with only the HTTP call swapped. Its row in the
benchmark separates what the hub's dispatcher and ledger cost from what httpx's API costs on
top of aiohttp, which is the number a decision about the client API needs.
"""

from __future__ import annotations

import time
from typing import Any

import aiohttp

from hub.builtin.signing import sign
from hub.builtin.webhook import WebhookConnector
from hub.errors import AmbiguousError, PermanentError, TransientError, classify_http_status
from hub.hookspecs import hookimpl
from hub.models import Job, Receipt


class RawAiohttpWebhook(WebhookConnector):
    name = "webhook_raw"
    settings_section = "webhook"
    description = "Benchmark only: the webhook connector on raw aiohttp"

    _session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.settings.concurrency),
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout_seconds),
                headers={"content-type": "application/json", "user-agent": "registry-hub"},
                trust_env=False,
            )

    async def deliver(self, job: Job) -> Receipt:
        target = (job.target or "").lower()
        endpoint = self.settings.endpoints.get(target)
        if endpoint is None:
            raise PermanentError(f"no webhook endpoint for target {job.target!r}")
        if self._session is None:
            await self.start()
        assert self._session is not None
        body = self.payload(job)
        ts = int(time.time())
        headers = {
            "webhook-id": job.idempotency_key,
            "webhook-timestamp": str(ts),
            "webhook-signature": sign(
                endpoint.secret.get_secret_value(), job.idempotency_key, ts, body
            ),
        }
        try:
            async with self._session.post(endpoint.url, data=body, headers=headers) as resp:
                await resp.read()
                status, retry_after = resp.status, resp.headers.get("retry-after")
        except aiohttp.ClientConnectorError as exc:
            raise TransientError(f"cannot connect to {target} ({type(exc).__name__})") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise AmbiguousError(f"no answer from {target} ({type(exc).__name__})") from None
        error = classify_http_status(
            status, message=f"{target} endpoint answered HTTP {status}", retry_after=retry_after
        )
        if error is not None:
            raise error
        return Receipt(remote_id=job.idempotency_key, status=str(status))

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class RawAiohttpPlugin:
    @hookimpl
    def hub_register_connectors(self, register: Any) -> None:
        register(RawAiohttpWebhook)
