"""OpenID Connect sign-in (authorization code flow with PKCE) against the institution's
identity provider.

The discovery document and the provider's keys are fetched with httpx and cached; the ID token
is verified with joserfc (the JOSE library authlib is built on, installed with it): signature
against the provider's JWKS, ``iss``, ``aud``, ``exp`` and the ``nonce`` this hub sent. Only
the ``sub`` claim is used: it names a hub user (``users.oidc_subject``), whose role decides the
rest. Nothing from the token (names, e-mail) is stored or logged.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from hub.auth.settings import OidcSettings

__all__ = ["OidcClient", "OidcError", "new_flow", "s256"]

#: Discovery document and keys are re-read after this long (key rotation).
CACHE_SECONDS = 3600.0
ALGORITHMS = ["RS256", "PS256", "ES256"]


class OidcError(Exception):
    """The provider's answer could not be used (the message names the step, never a token)."""


def new_flow() -> dict[str, str]:
    """Fresh ``state`` (against CSRF), ``nonce`` (against replayed ID tokens) and PKCE
    ``verifier`` for one sign-in."""
    return {
        "state": secrets.token_urlsafe(24),
        "nonce": secrets.token_urlsafe(24),
        "verifier": secrets.token_urlsafe(48),
    }


def s256(verifier: str) -> str:
    """The PKCE S256 code challenge (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OidcClient:
    """One per app. Sign-ins are rare, so each request to the provider opens its own short-lived
    HTTP client (nothing to close at shutdown); the discovery document and keys are cached."""

    def __init__(
        self, settings: OidcSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.issuer = settings.issuer.rstrip("/")
        self.transport = transport
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._keys: tuple[float, KeySet] | None = None

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=10.0, transport=self.transport)

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            async with self._client() as client:
                r = await client.get(url)
            r.raise_for_status()
            data = r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcError(f"{what}: {type(exc).__name__}") from None
        if not isinstance(data, dict):
            raise OidcError(f"{what}: not a JSON object")
        return data

    async def metadata(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._metadata is None or self._metadata[0] < now:
            meta = await self._get_json(
                f"{self.issuer}/.well-known/openid-configuration", "discovery document"
            )
            if str(meta.get("issuer", "")).rstrip("/") != self.issuer:
                raise OidcError("discovery document: issuer does not match HUB_OIDC__ISSUER")
            for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(meta.get(key), str):
                    raise OidcError(f"discovery document: {key} missing")
            self._metadata = (now + CACHE_SECONDS, meta)
        return self._metadata[1]

    async def _key_set(self, refresh: bool = False) -> KeySet:
        now = time.monotonic()
        if refresh or self._keys is None or self._keys[0] < now:
            meta = await self.metadata()
            jwks = await self._get_json(meta["jwks_uri"], "provider keys")
            try:
                self._keys = (now + CACHE_SECONDS, KeySet.import_key_set(jwks))  # type: ignore[arg-type]
            except (JoseError, ValueError, KeyError) as exc:
                raise OidcError(f"provider keys: {type(exc).__name__}") from None
        return self._keys[1]

    async def authorization_url(self, flow: dict[str, str], redirect_uri: str) -> str:
        meta = await self.metadata()
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.settings.client_id,
                "redirect_uri": redirect_uri,
                "scope": "openid",
                "state": flow["state"],
                "nonce": flow["nonce"],
                "code_challenge": s256(flow["verifier"]),
                "code_challenge_method": "S256",
            }
        )
        endpoint: str = meta["authorization_endpoint"]
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    async def subject(self, code: str, flow: dict[str, str], redirect_uri: str) -> str:
        """Exchange ``code`` for tokens, verify the ID token, return its ``sub``."""
        meta = await self.metadata()
        secret = self.settings.client_secret.get_secret_value()
        try:
            async with self._client() as client:
                r = await client.post(
                    meta["token_endpoint"],
                    data={
                        "grant_type": "authorization_code",
                        "code": code,
                        "redirect_uri": redirect_uri,
                        "code_verifier": flow["verifier"],
                    },
                    auth=(self.settings.client_id, secret),
                )
            r.raise_for_status()
            tokens = r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcError(f"token endpoint: {type(exc).__name__}") from None
        id_token = tokens.get("id_token") if isinstance(tokens, dict) else None
        if not isinstance(id_token, str):
            raise OidcError("token endpoint: no id_token")
        claims = await self._verify(id_token, flow["nonce"])
        return str(claims["sub"])

    async def _verify(self, id_token: str, nonce: str) -> dict[str, Any]:
        registry = jwt.JWTClaimsRegistry(
            leeway=60,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.settings.client_id},
            nonce={"essential": True, "value": nonce},
            exp={"essential": True},
            sub={"essential": True},
        )
        for refresh in (False, True):  # a key we do not know yet: the provider rotated
            try:
                token = jwt.decode(id_token, await self._key_set(refresh), algorithms=ALGORITHMS)
                registry.validate(token.claims)
                return dict(token.claims)
            except JoseError as exc:
                if refresh or "key" not in type(exc).__name__.lower():
                    raise OidcError(f"id_token rejected: {type(exc).__name__}") from None
            except ValueError as exc:
                raise OidcError(f"id_token rejected: {type(exc).__name__}") from None
        raise AssertionError("unreachable")
