"""An async client of the WEBCON BPS REST API (httpx, built with :func:`hub.http.make_client`).

OAuth2 client credentials: ``POST {base}/api/oauth2/token`` (form-encoded ``grant_type``,
``client_id``, ``client_secret``, optional ``scope``). The bearer token is cached until
``refresh_margin`` seconds before it expires (``expires_in``; 3600 s when WEBCON leaves it out),
shared by every request in flight, and renewed once — by one request, the others wait — when
WEBCON answers 401; the failed request is then sent again, once.

Data calls go to ``{base}/api/data/{api_version}/db/{db_id}/…``. Error answers and transport
failures become hub errors through :mod:`hub_webcon.errors` (the one table).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from hub.errors import TransientError
from hub.http import TokenCache, make_client
from hub_webcon.errors import (
    WebconApiError,
    WebconConfigurationError,
    delivery_error,
    transport_error,
)
from hub_webcon.settings import WebconSettings

__all__ = ["DEFAULT_EXPIRES_IN", "WebconClient"]

#: Lifetime assumed for a token whose answer has no ``expires_in``.
DEFAULT_EXPIRES_IN = 3600.0


class WebconClient:
    def __init__(
        self,
        settings: WebconSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_connections: int | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._transport = transport
        self._max_connections = max_connections or max(settings.concurrency, 8)
        self._http: httpx.AsyncClient | None = None
        self._tokens = TokenCache(self._fetch_token, clock=clock)

    @property
    def tokens_fetched(self) -> int:
        """Tokens fetched so far (tests and the health check read it)."""
        return self._tokens.fetched

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = make_client(
                timeout=self.settings.timeout_seconds,
                transport=self._transport,
                kind=self.settings.http_transport,
                max_connections=self._max_connections,
                base_url=self.settings.base_url,
                headers={"accept": "application/json", "user-agent": "registry-hub-webcon"},
            )
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    @property
    def data_prefix(self) -> str:
        return f"/api/data/{self.settings.api_version}"

    @property
    def db_prefix(self) -> str:
        return f"{self.data_prefix}/db/{self.settings.db_id}"

    # --- token --------------------------------------------------------------------------------

    async def token(self) -> str:
        """A valid bearer token, fetched only when the cached one is (nearly) expired."""
        return await self._tokens.get()

    async def _renew(self, rejected: str) -> str:
        """After a 401: renew unless another request already did."""
        return await self._tokens.renew(rejected)

    async def _fetch_token(self) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.settings.client_id,
            "client_secret": self.settings.client_secret.get_secret_value(),
        }
        if self.settings.scope.strip():
            form["scope"] = self.settings.scope.strip()
        try:
            resp = await self.http.post("/api/oauth2/token", data=form)
        except httpx.TransportError as exc:
            raise transport_error(exc, "token", changes=False) from None
        if resp.status_code != 200:
            err = WebconApiError.from_response(resp)
            if resp.status_code >= 500:
                raise delivery_error(err, "token")
            raise WebconConfigurationError(
                f"configuration problem: WEBCON refused a token ({resp.status_code} "
                f"{err.type or 'error'}): check HUB_WEBCON__CLIENT_ID, "
                "HUB_WEBCON__CLIENT_SECRET and HUB_WEBCON__SCOPE",
                status_code=resp.status_code,
                error_type=(err.type or "token_refused")[:64],
            )
        try:
            body = resp.json()
            token = str(body["access_token"])
        except (ValueError, KeyError, TypeError):
            raise TransientError("WEBCON token: answer without access_token") from None
        lifetime = float(body.get("expires_in") or DEFAULT_EXPIRES_IN)
        margin = min(self.settings.token_refresh_margin_seconds, lifetime / 2)
        return token, lifetime - margin

    # --- requests -----------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        changes: bool,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """Send one call with the bearer token; the parsed JSON answer, or a hub error."""
        token = await self.token()
        for renewed in (False, True):
            try:
                resp = await self.http.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    headers={"authorization": f"Bearer {token}"},
                )
            except httpx.TransportError as exc:
                raise transport_error(exc, what, changes=changes) from None
            if resp.status_code == 401 and not renewed:
                token = await self._renew(token)
                continue
            if resp.status_code >= 300:
                err = WebconApiError.from_response(resp)
                if resp.status_code == 401:
                    raise TransientError(
                        f"WEBCON {what}: a fresh token was rejected too (401 {err.type})",
                        status_code=401,
                        error_type=(err.type or "http_401")[:64],
                        remote_ref=err.error_guid,
                    )
                raise delivery_error(err, what)
            if not resp.content:
                return None
            try:
                return resp.json()
            except ValueError:
                raise TransientError(f"WEBCON {what}: answer is not JSON") from None
        raise AssertionError("unreachable")

    # --- the API the connector uses -----------------------------------------------------------

    async def create_element(self, body: dict[str, Any], path: str) -> dict[str, Any]:
        """``POST …/elements?path=…`` → ``{id, instanceNumber, status}``."""
        result: dict[str, Any] = await self.request(
            "POST",
            f"{self.db_prefix}/elements",
            what="create element",
            changes=True,
            params={"path": path},
            json=body,
        )
        return result

    async def get_element(self, element_id: int | str) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(
            "GET", f"{self.db_prefix}/elements/{element_id}", what="read element", changes=False
        )
        return result

    async def update_element(
        self, element_id: int | str, body: dict[str, Any], path: str | None = None
    ) -> dict[str, Any]:
        """``PATCH …/elements/{id}[?path=…]``: save fields, and move along a path if given."""
        result: dict[str, Any] = await self.request(
            "PATCH",
            f"{self.db_prefix}/elements/{element_id}",
            what="update element",
            changes=True,
            params={"path": path} if path else None,
            json=body,
        )
        return result

    async def add_attachment(self, element_id: int | str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(
            "POST",
            f"{self.db_prefix}/elements/{element_id}/attachments",
            what="upload attachment",
            changes=True,
            json=body,
        )
        return result

    async def search(
        self, application: str, phrase: str, *, page: int = 1, size: int = 50
    ) -> dict[str, Any]:
        """``GET …/applications/{app}/search``: Solr search within one application."""
        result: dict[str, Any] = await self.request(
            "GET",
            f"{self.db_prefix}/applications/{application}/search",
            what="search",
            changes=False,
            params={"search": phrase, "page": page, "size": size, "order": "Created"},
        )
        return result

    async def metadata(
        self, suffix: str, *, admin: bool = False, params: dict[str, str] | None = None
    ) -> Any:
        """A metadata read, e.g. ``metadata("workflows/<guid>")``."""
        prefix = f"{self.data_prefix}/admin/db/{self.settings.db_id}" if admin else self.db_prefix
        return await self.request(
            "GET", f"{prefix}/{suffix}", what="read metadata", changes=False, params=params
        )
