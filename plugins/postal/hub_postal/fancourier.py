"""A client of a courier API shaped like FAN Courier's public API v2 (selfAWB, JSON).

* ``POST /login`` (``username``, ``password``) → ``{"status": "success", "data": {"token",
  "expiresAt"}}``; the token goes as ``Authorization: Bearer``. It is cached until
  ``token_refresh_margin_seconds`` before it expires and renewed once when the API answers 401
  (the request is then sent again, once).
* ``POST /intern-awb`` (``clientId``, ``shipments: [{info, recipient}]``) → ``{"response":
  [{"awbNumber", "tariff", "errors"}]}``: one result per shipment, refused ones with
  ``errors`` = field path → message. The delivery's idempotency key travels in ``info.content``
  (the API has no idempotency key of its own).
* ``GET /reports/awb?clientId&date&page&perPage`` → the day's AWBs with their ``content``:
  :meth:`find_shipment` looks for the key there after a lost answer.
* ``GET /reports/awb/tracking?clientId&awb[]=…`` → events per AWB (``id`` code, ``name``,
  ``location``, ``date`` in local time) and ``confirmation`` (who signed, when).
* ``GET /reports/get-awb-confirmations?clientId&awb[]=…`` → the scanned signed proof.

Error texts of the API are never copied into hub errors (they may echo the addressee): only
statuses, field paths and the courier's error type.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import httpx

from hub.connectors import HealthCheck
from hub.errors import (
    AmbiguousError,
    DeliveryError,
    PermanentError,
    TransientError,
    classify_http_status,
)
from hub.http import TokenCache, make_client
from hub.log import get_logger
from hub_postal.contractor import CreatedShipment, Proof, Shipment, Tracking, TrackingEventIn
from hub_postal.settings import PostalSettings
from hub_postal.store import LOCAL_TZ

__all__ = ["FanCourierClient", "parse_local"]

log = get_logger("hub_postal.fancourier")
#: Lifetime assumed for a token whose answer has no ``expiresAt``.
DEFAULT_TOKEN_SECONDS = 24 * 3600.0
PAGE_SIZE = 100


def parse_local(value: Any) -> datetime | None:
    """FAN's ``2026-11-29 10:15:00`` (Romanian local time) or ISO 8601, as an aware datetime."""
    if not value:
        return None
    text = str(value).strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=LOCAL_TZ)


def _transport_error(exc: httpx.TransportError, what: str, *, changes: bool) -> DeliveryError:
    name = type(exc).__name__
    if (
        isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        or not changes
    ):
        return TransientError(f"courier {what}: no answer ({name})", error_type=name)
    return AmbiguousError(f"courier {what}: sent, no answer ({name})", error_type=name)


class FanCourierClient:
    name = "fancourier"

    def __init__(
        self, settings: PostalSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._tokens = TokenCache(self._login)

    @property
    def logins(self) -> int:
        """Logins so far (tests read it)."""
        return self._tokens.fetched

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = make_client(
                timeout=self.settings.timeout_seconds,
                transport=self._transport,
                kind=self.settings.http_transport,
                max_connections=max(self.settings.concurrency, 8),
                base_url=self.settings.base_url,
                headers={"accept": "application/json", "user-agent": "registry-hub-postal"},
            )
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # --- authentication -------------------------------------------------------------------------

    async def _login(self) -> tuple[str, float]:
        """Log in; the token is used until ``token_refresh_margin_seconds`` before it expires."""
        try:
            response = await self.http.post(
                "/login",
                json={
                    "username": self.settings.username,
                    "password": self.settings.password.get_secret_value(),
                },
            )
        except httpx.TransportError as exc:
            raise _transport_error(exc, "login", changes=False) from None
        if response.status_code in (401, 403):
            raise PermanentError(
                "courier login refused: check HUB_POSTAL__USERNAME and HUB_POSTAL__PASSWORD",
                status_code=response.status_code,
                error_type="login_refused",
            )
        error = classify_http_status(
            response.status_code,
            message=f"courier login answered HTTP {response.status_code}",
            retry_after=response.headers.get("retry-after"),
        )
        if error is not None:
            raise error
        data = self._json(response, "login").get("data") or {}
        token = data.get("token")
        if not isinstance(token, str) or not token:
            raise TransientError("courier login answered without a token")
        lifetime = DEFAULT_TOKEN_SECONDS
        expires = parse_local(data.get("expiresAt"))
        if expires is not None:
            lifetime = max(expires.timestamp() - time.time(), 1.0)
        log.info("hub_postal.courier_login", contractor=self.name, expires_in=int(lifetime))
        return token, lifetime - self.settings.token_refresh_margin_seconds

    async def _call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        changes: bool = False,
        json: Any = None,
        params: Any = None,
    ) -> httpx.Response:
        token = await self._tokens.get()
        for again in (True, False):
            try:
                response = await self.http.request(
                    method,
                    path,
                    json=json,
                    params=params,
                    headers={"authorization": f"Bearer {token}"},
                )
            except httpx.TransportError as exc:
                raise _transport_error(exc, what, changes=changes) from None
            if response.status_code == 401 and again:
                token = await self._tokens.renew(token)
                continue
            error = classify_http_status(
                response.status_code,
                message=f"courier {what} answered HTTP {response.status_code}",
                retry_after=response.headers.get("retry-after"),
            )
            if error is not None:
                raise error
            return response
        raise TransientError(f"courier {what}: the new token was refused too", status_code=401)

    @staticmethod
    def _json(response: httpx.Response, what: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            raise TransientError(f"courier {what} answered something that is not JSON") from None
        if not isinstance(body, dict):
            raise TransientError(f"courier {what} answered an unexpected shape")
        return body

    # --- shipments ------------------------------------------------------------------------------

    def shipment_body(self, shipment: Shipment) -> dict[str, Any]:
        a = shipment.addressee
        addr = a.address
        from hub_postal.address import county_name

        options = [self.settings.proof_option] if shipment.proof_of_delivery else []
        return {
            "info": {
                "service": self.settings.courier_service,
                "packages": {"parcel": 0, "envelope": shipment.envelopes},
                "weight": shipment.weight_kg,
                "payment": "sender",
                "returnPayment": "sender",
                "observation": shipment.observation,
                "content": shipment.reference,
                "options": options,
            },
            "recipient": {
                "name": a.name,
                "contactPerson": a.contact_person or a.name,
                "phone": a.phone,
                "email": a.email,
                "address": {
                    "county": county_name(addr.county),
                    "locality": addr.locality,
                    "street": addr.street,
                    "streetNo": addr.number,
                    "zipCode": addr.postal_code,
                    "building": addr.building,
                    "entrance": addr.entrance,
                    "floor": addr.floor,
                    "apartment": addr.apartment,
                },
            },
        }

    async def create_shipment(self, shipment: Shipment) -> CreatedShipment:
        body = {"clientId": self.settings.client_id, "shipments": [self.shipment_body(shipment)]}
        response = await self._call("POST", "/intern-awb", "AWB creation", changes=True, json=body)
        results = self._json(response, "AWB creation").get("response")
        if not isinstance(results, list) or len(results) != 1:
            raise AmbiguousError("courier AWB creation answered an unexpected shape")
        result = results[0] or {}
        errors = result.get("errors")
        if errors:
            fields = sorted(errors) if isinstance(errors, dict) else ["?"]
            raise PermanentError(
                "courier refused the shipment; fields: " + ", ".join(str(f)[:60] for f in fields),
                status_code=response.status_code,
                error_type="shipment_invalid",
            )
        awb = result.get("awbNumber")
        if not awb:
            raise AmbiguousError("courier AWB creation answered without an AWB number")
        return CreatedShipment(awb=str(awb), tariff_ron=_float(result.get("tariff")))

    async def find_shipment(self, reference: str) -> CreatedShipment | None:
        today = datetime.now(LOCAL_TZ).date()
        for day in (today, today - timedelta(days=1)):
            found = await self._find_on(day, reference)
            if found is not None:
                return found
        return None

    async def _find_on(self, day: date, reference: str) -> CreatedShipment | None:
        page = 1
        while True:
            response = await self._call(
                "GET",
                "/reports/awb",
                "AWB search",
                params={
                    "clientId": self.settings.client_id,
                    "date": day.isoformat(),
                    "page": page,
                    "perPage": PAGE_SIZE,
                },
            )
            data = self._json(response, "AWB search").get("data") or []
            for item in data:
                info = item.get("info") if isinstance(item.get("info"), dict) else item
                if str(info.get("content") or "") == reference and info.get("awbNumber"):
                    return CreatedShipment(str(info["awbNumber"]), _float(info.get("tariff")))
            if len(data) < PAGE_SIZE:
                return None
            page += 1

    async def track(self, awbs: Sequence[str]) -> list[Tracking]:
        if not awbs:
            return []
        response = await self._call(
            "GET",
            "/reports/awb/tracking",
            "tracking",
            params=[("clientId", self.settings.client_id), *(("awb[]", a) for a in awbs)],
        )
        out = []
        for item in self._json(response, "tracking").get("data") or []:
            awb = str(item.get("awbNumber") or "")
            if not awb:
                continue
            confirmation = item.get("confirmation") or {}
            events = [
                TrackingEventIn(
                    code=str(e.get("id") or ""),
                    description=str(e.get("name") or ""),
                    location=str(e.get("location") or ""),
                    occurred_at=parse_local(e.get("date")),
                )
                for e in item.get("events") or []
                if e.get("id")
            ]
            out.append(
                Tracking(
                    awb=awb,
                    events=events,
                    signer=(confirmation.get("name") or None),
                    signed_at=parse_local(confirmation.get("date")),
                )
            )
        return out

    async def proof(self, awb: str) -> Proof | None:
        response = await self._call(
            "GET",
            "/reports/get-awb-confirmations",
            "proof of delivery",
            params=[("clientId", self.settings.client_id), ("awb[]", awb)],
        )
        for item in self._json(response, "proof of delivery").get("data") or []:
            if str(item.get("awbNumber")) != awb or not item.get("image"):
                continue
            try:
                content = base64.b64decode(str(item["image"]), validate=True)
            except (binascii.Error, ValueError):
                raise TransientError("courier proof of delivery is not valid base64") from None
            ctype = str(item.get("mimeType") or "application/pdf")
            ext = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}.get(
                ctype, "bin"
            )
            return Proof(
                awb=awb,
                signer=item.get("name") or None,
                signed_at=parse_local(item.get("date")),
                content=content,
                content_type=ctype,
                filename=f"confirmare-{awb}.{ext}",
            )
        return None

    async def health(self) -> list[HealthCheck]:
        if not self.settings.enabled:
            return [HealthCheck(name="courier", ok=True, detail="disabled (HUB_POSTAL__ENABLED)")]
        if not self.settings.base_url:
            return [HealthCheck(name="courier", ok=True, detail="not configured, not in use")]
        if not self.settings.configured:
            return [
                HealthCheck(
                    name="courier",
                    ok=False,
                    detail="not configured: set " + ", ".join(self.settings.missing()),
                )
            ]
        try:
            await self._tokens.renew(self._tokens.current)
        except DeliveryError as exc:
            return [HealthCheck(name="courier login", ok=False, detail=exc.message)]
        return [HealthCheck(name="courier login", ok=True, detail=f"{self.name} token valid")]


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
