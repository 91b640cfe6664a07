"""ANAF OAuth2: the token pair, stored encrypted, and its refresh.

ANAF issues tokens only after an interactive login with a qualified certificate
(``hub invoices login`` walks a person through it). Access tokens live 90 days, refresh tokens
365; a refresh answers a *new pair* and the old refresh token stops working, so both new tokens
are written in the same transaction before the access token is used. Tokens are encrypted at
rest with Fernet (``HUB_INVOICES__TOKEN_KEY``) and never logged or printed.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Engine, select

from hub.errors import ConfigurationError
from hub.http import make_client
from hub_invoices.settings import InvoicesSettings
from hub_invoices.tables import tokens

__all__ = ["OAuthError", "TokenManager", "TokenPair", "TokenStore", "authorization_url"]

ACCESS_TTL = 90 * 86400.0
REFRESH_TTL = 365 * 86400.0


class OAuthError(ConfigurationError):
    """ANAF refused to issue tokens (wrong client, expired refresh token, no login yet)."""


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    access_expires_at: float
    refresh_expires_at: float

    def __repr__(self) -> str:
        return (
            f"TokenPair(<secret>, access_expires_at={self.access_expires_at:.0f}, "
            f"refresh_expires_at={self.refresh_expires_at:.0f})"
        )

    __str__ = __repr__


def fernet(settings: InvoicesSettings) -> Fernet:
    key = settings.token_key.get_secret_value()
    if not key:
        raise ConfigurationError("HUB_INVOICES__TOKEN_KEY is not set (a Fernet key)")
    try:
        return Fernet(key.encode())
    except (ValueError, TypeError):
        raise ConfigurationError(
            "HUB_INVOICES__TOKEN_KEY is not a Fernet key (32 url-safe base64 bytes)"
        ) from None


class TokenStore:
    """``invoices_tokens``: one encrypted pair per CUI. Synchronous (run on the DB threads)."""

    def __init__(self, engine: Engine, key: Fernet, clock: Callable[[], float] = time.time):
        self.engine = engine
        self.key = key
        self.clock = clock

    def load(self, cif: str) -> TokenPair | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(tokens).where(tokens.c.cif == cif)).mappings().first()
        if row is None:
            return None
        try:
            access = self.key.decrypt(row["access_token"].encode()).decode()
            refresh = self.key.decrypt(row["refresh_token"].encode()).decode()
        except InvalidToken:
            raise ConfigurationError(
                "stored e-Factura tokens cannot be decrypted with HUB_INVOICES__TOKEN_KEY "
                "(key changed?): run `hub invoices login` again"
            ) from None
        return TokenPair(access, refresh, row["access_expires_at"], row["refresh_expires_at"])

    def save(self, cif: str, pair: TokenPair) -> None:
        values = {
            "access_token": self.key.encrypt(pair.access_token.encode()).decode(),
            "refresh_token": self.key.encrypt(pair.refresh_token.encode()).decode(),
            "access_expires_at": pair.access_expires_at,
            "refresh_expires_at": pair.refresh_expires_at,
            "updated_at": self.clock(),
        }
        with self.engine.begin() as conn:
            updated = conn.execute(tokens.update().where(tokens.c.cif == cif).values(**values))
            if updated.rowcount == 0:
                conn.execute(tokens.insert().values(cif=cif, **values))


def authorization_url(settings: InvoicesSettings) -> str:
    """Where the person with the qualified certificate authorizes the hub's application."""
    params = httpx.QueryParams(
        {
            "response_type": "code",
            "client_id": settings.client_id,
            "redirect_uri": settings.redirect_uri,
            "token_content_type": "jwt",
        }
    )
    return f"{settings.authorize_url}?{params}"


class TokenManager:
    """The current access token: loaded from the store, refreshed before it expires or when
    ANAF answers 401, the new pair saved before use. One refresh at a time."""

    def __init__(
        self,
        settings: InvoicesSettings,
        store: TokenStore,
        *,
        run: Callable[..., Any],
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self._run = run  # awaitable runner for the sync store (DbRunner.write)
        self._transport = transport
        self.clock = clock
        self._pair: TokenPair | None = None
        self._lock = asyncio.Lock()
        self.refreshes = 0

    def _basic(self) -> str:
        raw = f"{self.settings.client_id}:{self.settings.client_secret.get_secret_value()}"
        return "Basic " + base64.b64encode(raw.encode()).decode()

    async def exchange(self, form: dict[str, str]) -> TokenPair:
        """POST the token endpoint (Basic auth, ``token_content_type=jwt``) → a new pair."""
        form = {**form, "token_content_type": "jwt"}
        async with make_client(
            timeout=self.settings.timeout_seconds,
            transport=self._transport,
            kind=self.settings.http_transport,
            max_connections=2,
        ) as http:
            try:
                resp = await http.post(
                    self.settings.token_url, data=form, headers={"authorization": self._basic()}
                )
            except httpx.TransportError as exc:
                raise ConnectionError(
                    f"ANAF token endpoint unreachable ({type(exc).__name__})"
                ) from None
        if resp.status_code != 200:
            try:
                code = str(resp.json().get("error") or resp.status_code)
            except ValueError:
                code = str(resp.status_code)
            if resp.status_code >= 500:
                raise ConnectionError(f"ANAF token endpoint answered {resp.status_code}")
            raise OAuthError(
                f"ANAF refused the token request ({resp.status_code} {code[:40]}): check "
                "HUB_INVOICES__CLIENT_ID/CLIENT_SECRET, or run `hub invoices login` again"
            )
        try:
            body = resp.json()
            access, refresh = str(body["access_token"]), str(body["refresh_token"])
        except (ValueError, KeyError, TypeError):
            raise OAuthError("ANAF token answer has no access_token/refresh_token") from None
        now = self.clock()
        lifetime = float(body.get("expires_in") or ACCESS_TTL)
        return TokenPair(access, refresh, now + lifetime, now + REFRESH_TTL)

    async def store_pair(self, pair: TokenPair) -> None:
        await self._run(self.store.save, self.settings.cif, pair)
        self._pair = pair

    async def _load(self) -> TokenPair | None:
        if self._pair is None:
            self._pair = await self._run(self.store.load, self.settings.cif)
        if self._pair is None and self.settings.refresh_token.get_secret_value():
            # A seed refresh token from the settings: exchanged once, then the store rules.
            pair = await self.exchange(
                {
                    "grant_type": "refresh_token",
                    "refresh_token": self.settings.refresh_token.get_secret_value(),
                }
            )
            await self.store_pair(pair)
        return self._pair

    async def access_token(self) -> str:
        pair = await self._load()
        if pair is None:
            raise OAuthError(
                "no e-Factura tokens stored: run `hub invoices login` (one-time, with the "
                "qualified certificate)"
            )
        margin = self.settings.token_refresh_margin_days * 86400
        if self.clock() >= pair.access_expires_at - margin:
            pair = await self.refresh(pair.access_token)
        return pair.access_token

    async def refresh(self, rejected: str | None = None) -> TokenPair:
        """Exchange the refresh token for a new pair (unless another task just did)."""
        async with self._lock:
            current = await self._load()
            if current is None:
                raise OAuthError("no e-Factura tokens stored: run `hub invoices login`")
            margin = self.settings.token_refresh_margin_days * 86400
            if current.access_token != rejected and self.clock() < (
                current.access_expires_at - margin
            ):
                return current
            if self.clock() >= current.refresh_expires_at:
                raise OAuthError(
                    "the e-Factura refresh token expired (365 days): run `hub invoices login`"
                )
            pair = await self.exchange(
                {"grant_type": "refresh_token", "refresh_token": current.refresh_token}
            )
            await self.store_pair(pair)
            self.refreshes += 1
            return pair

    def expiry(self) -> tuple[float, float] | None:
        if self._pair is None:
            return None
        return self._pair.access_expires_at, self._pair.refresh_expires_at
