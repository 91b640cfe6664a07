"""Bearer tokens with scopes, checked against the ledger and cached briefly in memory.

Tokens are created with ``hub token create`` (:meth:`hub.db.ledger.Ledger.create_token`): the
plaintext is shown once, the ledger keeps its sha256. Scopes:

=========  =================================================================
intake     ``POST /api/v1/documents``
read       every ``GET`` under ``/api/v1`` (personal data masked)
operator   replay and cancel deliveries, and everything ``read`` allows
metrics    ``GET /metrics`` (``read`` and ``operator`` may scrape too)
pii        see the sender unmasked in ``GET /api/v1/documents/{id}`` (audited)
admin      everything
unit       a receiving unit's own items under ``/api/v1/items`` (token bound to one unit,
           ``hub token create --scope unit --unit DJ``; other units' items are 404)
=========  =================================================================

Plugin endpoints (``hub_register_routes``) declare the scope they need with
:func:`require_scope`::

    @router.post("/things/{thing_id}/close")
    async def close(
        thing_id: int, body: CloseIn, principal: Principal = Depends(require_scope("operator"))
    ) -> dict[str, Any]: ...

A dependency runs before FastAPI validates the path, query and body, so a token without the
scope gets 403 whatever it sent, never a 422 that describes the request's shape.

A verified token is cached for :data:`TOKEN_CACHE_SECONDS` so that a request costs a dictionary
look-up, not a database round trip. The price: **a revoked token keeps working for up to that
many seconds in each running process.** Unknown tokens are cached for the same time, so a client
retrying with a bad token does not hammer the ledger either. The cache keys are the tokens'
sha256 digests, never the plaintext.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import Request

from hub.api.errors import ApiError

__all__ = ["SCOPES", "TOKEN_CACHE_SECONDS", "Authenticator", "Principal", "require_scope"]

#: Seconds a verified (or rejected) token is remembered; revocation takes effect within it.
TOKEN_CACHE_SECONDS = 5.0

SCOPES: frozenset[str] = frozenset(
    {"intake", "read", "operator", "metrics", "pii", "admin", "unit"}
)

#: scope an endpoint needs → scopes of a token that grant it.
_GRANTED_BY: dict[str, frozenset[str]] = {
    "intake": frozenset({"intake", "admin"}),
    "read": frozenset({"read", "operator", "admin"}),
    "operator": frozenset({"operator", "admin"}),
    "metrics": frozenset({"metrics", "read", "operator", "admin"}),
    "pii": frozenset({"pii", "admin"}),
    "admin": frozenset({"admin"}),
    "unit": frozenset({"unit"}),
}

#: name, scopes and (optionally) the unit a ``unit`` token is bound to.
Verify = Callable[
    [str],
    Awaitable[tuple[str, frozenset[str]] | tuple[str, frozenset[str], str | None] | None],
]

_bearer = HTTPBearer(
    auto_error=False,
    description="An API token (`hub token create NAME --scope …`), as `Authorization: Bearer`.",
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's name and scopes (and the unit a ``unit`` token serves)."""

    name: str
    scopes: frozenset[str]
    unit: str | None = None

    @property
    def actor(self) -> str:
        """How the audit trail names this caller."""
        return f"token:{self.name}"

    def has(self, scope: str) -> bool:
        return not _GRANTED_BY[scope].isdisjoint(self.scopes)


def _unauthorized() -> ApiError:
    return ApiError(
        401,
        "a valid bearer token is required",
        headers={"WWW-Authenticate": 'Bearer realm="hub"'},
    )


class Authenticator:
    """Verifies tokens through ``verify`` (a ledger read off the event loop), with a TTL cache."""

    def __init__(
        self,
        verify: Verify,
        *,
        ttl: float = TOKEN_CACHE_SECONDS,
        max_entries: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.verify = verify
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._cache: dict[bytes, tuple[float, Principal | None]] = {}

    async def authenticate(self, token: str) -> Principal | None:
        key = hashlib.sha256(token.encode()).digest()
        now = self.clock()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        found = await self.verify(token)
        principal = Principal(*found) if found is not None else None
        if self.ttl > 0:
            if len(self._cache) >= self.max_entries:
                self._evict(now)
            self._cache[key] = (now + self.ttl, principal)
        return principal

    def _evict(self, now: float) -> None:
        self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
        if len(self._cache) >= self.max_entries:
            self._cache.clear()

    async def check(self, request: Request, scope: str | None) -> Principal:
        """401 without a valid bearer token, 403 without ``scope`` (None: any valid token).

        Handlers on the hot path call it directly, which spares FastAPI's per-request
        dependency resolution; everything else uses :meth:`require` (plugin endpoints:
        :func:`require_scope`). The principal is also left in ``request.state.principal``."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _unauthorized()
        principal = await self.authenticate(token)
        if principal is None:
            raise _unauthorized()
        if scope is not None and not principal.has(scope):
            raise ApiError(403, f"this token lacks the {scope!r} scope")
        request.state.principal = principal
        return principal

    def require(self, scope: str | None) -> Callable[..., Awaitable[Principal]]:
        """A dependency doing :meth:`check`; it also marks the route as needing a bearer token
        in the OpenAPI document."""
        _known(scope)

        async def dependency(
            request: Request,
            _credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
        ) -> Principal:
            return await self.check(request, scope)

        return dependency


def require_scope(scope: str | None) -> Callable[..., Awaitable[Principal]]:
    """A dependency for plugin endpoints: the caller's :class:`Principal`, or 401 without a
    valid bearer token and 403 without ``scope`` (None: any valid token).

    Write ``principal: Principal = Depends(require_scope("operator"))`` in the handler's
    signature (or ``dependencies=[Depends(require_scope("read"))]`` on the route when the
    principal is not needed). It is :meth:`Authenticator.require` of the app's authenticator
    (``app.state.authenticator``), found at request time because plugins register their
    routes before they could be handed one; the token was verified by the router's gate a
    moment earlier, so this costs a cache look-up. Being a dependency, it answers before the
    request is validated: 403, not 422, for a caller without the scope. An unknown scope
    raises ``ValueError`` when the route is declared."""
    _known(scope)

    async def dependency(
        request: Request,
        _credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    ) -> Principal:
        authenticator: Authenticator = request.app.state.authenticator
        return await authenticator.check(request, scope)

    return dependency


def _known(scope: str | None) -> None:
    if scope is not None and scope not in _GRANTED_BY:
        raise ValueError(f"unknown scope {scope!r}")
