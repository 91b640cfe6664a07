"""OpenID Connect sign-in against a tiny identity provider running on 127.0.0.1 in the test
(discovery, authorize with auto-consent, token endpoint checking PKCE and the client secret,
JWKS). The hub lets in only a user created with that ``sub``, and refuses forged state, a
wrong nonce and a token signed by another key."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import select

from hub.db.schema import events
from tests.dashboard_harness import OVERRIDES, DashboardHarness, running_dashboard
from tests.fixtures import MakeHub
from tests.servers import serve_asgi

CLIENT_ID, CLIENT_SECRET = "registry-hub", "client-secret-for-tests"


@dataclass
class Provider:
    """What the provider will say: the person's ``sub``, and ways to misbehave."""

    subject: str = "ana@primariatm.ro"
    wrong_nonce: bool = False
    foreign_key: bool = False
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1"}))
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    token_requests: int = 0


def provider_app(p: Provider) -> FastAPI:
    app = FastAPI()

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    @app.get("/.well-known/openid-configuration")
    async def discovery(request: Request) -> dict[str, Any]:
        b = base(request)
        return {
            "issuer": b,
            "authorization_endpoint": f"{b}/authorize",
            "token_endpoint": f"{b}/token",
            "jwks_uri": f"{b}/jwks",
            "response_types_supported": ["code"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    @app.get("/jwks")
    async def jwks() -> dict[str, Any]:
        return {"keys": [p.key.as_dict(private=False)]}

    @app.get("/authorize")
    async def authorize(request: Request) -> RedirectResponse:
        q = request.query_params
        assert q["client_id"] == CLIENT_ID and q["response_type"] == "code"
        assert q["scope"] == "openid" and q["code_challenge_method"] == "S256"
        code = secrets.token_urlsafe(16)
        p.codes[code] = {
            "nonce": q["nonce"],
            "challenge": q["code_challenge"],
            "redirect_uri": q["redirect_uri"],
        }
        return RedirectResponse(
            f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}", 302
        )

    @app.post("/token")
    async def token(
        request: Request,
        grant_type: str = Form(),
        code: str = Form(),
        redirect_uri: str = Form(),
        code_verifier: str = Form(),
    ) -> JSONResponse:
        p.token_requests += 1
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return JSONResponse({"error": "invalid_client"}, 401)
        grant = p.codes.pop(code, None)
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        if (
            grant_type != "authorization_code"
            or grant is None
            or grant["challenge"] != challenge
            or grant["redirect_uri"] != redirect_uri
        ):
            return JSONResponse({"error": "invalid_grant"}, 400)
        now = int(time.time())
        claims = {
            "iss": base(request),
            "aud": CLIENT_ID,
            "sub": p.subject,
            "nonce": "not-the-nonce" if p.wrong_nonce else grant["nonce"],
            "iat": now,
            "exp": now + 300,
            "name": "Ana Popescu",
        }
        key = RSAKey.generate_key(2048, parameters={"kid": "k1"}) if p.foreign_key else p.key
        id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)
        return JSONResponse({"access_token": "at", "token_type": "Bearer", "id_token": id_token})

    return app


@dataclass
class Setup:
    dash: DashboardHarness
    provider: Provider


@pytest.fixture
async def setup(make_hub: MakeHub) -> AsyncIterator[Setup]:
    provider = Provider()
    async with serve_asgi(provider_app(provider)) as issuer:
        overrides = OVERRIDES | {
            "oidc": {"issuer": issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        }
        hub = make_hub(overrides=overrides, entry_points=False, rules={})
        async with running_dashboard(hub) as dash:
            dash.store.create("ana", "operator", None, oidc_subject="ana@primariatm.ro")
            yield Setup(dash, provider)


async def oidc_sign_in(client: httpx.AsyncClient, next_: str = "/sources") -> httpx.Response:
    """Through the whole flow as a browser would: hub → provider → hub callback."""
    r = await client.get("/login/oidc", params={"next": next_})
    assert r.status_code == 303, r.text
    to_provider = r.headers["location"]
    r = await client.get(to_provider)
    assert r.status_code == 302, r.text
    return await client.get(r.headers["location"])


async def test_sign_in_through_the_provider(setup: Setup) -> None:
    client = setup.dash.new_client()
    page = await client.get("/login")
    assert 'href="/login/oidc?next=/"' in page.text and "Autentificare instituțională" in page.text
    r = await oidc_sign_in(client)
    assert r.status_code == 200, r.text
    assert '<meta http-equiv="refresh" content="0;url=/sources">' in r.text
    assert "hub_session=" in r.headers["set-cookie"]
    page = await client.get("/sources")
    assert page.status_code == 200 and "ana · operator" in page.text
    with setup.dash.hub.reader.connect() as conn:
        [ev] = conn.execute(select(events).where(events.c.action == "signed_in")).all()
    assert ev.actor == "user:ana" and ev.reason == "oidc"
    # Nothing from the token but the subject is kept: the name is nowhere in the ledger.
    with setup.dash.hub.reader.connect() as conn:
        assert "Ana Popescu" not in str(conn.execute(select(events)).all())


async def test_the_authorization_request_uses_pkce_and_state(setup: Setup) -> None:
    client = setup.dash.new_client()
    r = await client.get("/login/oidc")
    q = parse_qs(urlsplit(r.headers["location"]).query)
    assert q["code_challenge_method"] == ["S256"] and len(q["code_challenge"][0]) == 43
    assert len(q["state"][0]) >= 32 and len(q["nonce"][0]) >= 32
    assert q["redirect_uri"] == [f"{setup.dash.base_url}/login/oidc/callback"]
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=600" in cookie


async def test_unknown_subject_is_refused(setup: Setup) -> None:
    setup.provider.subject = "stranger@example.org"
    r = await oidc_sign_in(setup.dash.new_client())
    assert r.status_code == 403 and "nu are acces la hub" in r.text
    assert "hub_session=" not in r.headers.get("set-cookie", "")


async def test_disabled_user_is_refused(setup: Setup) -> None:
    setup.dash.store.set_disabled("ana", True)
    r = await oidc_sign_in(setup.dash.new_client())
    assert r.status_code == 403


@pytest.mark.parametrize("state", ["forged", "%C8%99tat"])  # non-ASCII: a 403, never a 500
async def test_forged_state_is_refused(setup: Setup, state: str) -> None:
    client = setup.dash.new_client()
    r = await client.get("/login/oidc")
    r = await client.get(r.headers["location"])
    callback = re.sub(r"state=[^&]+", f"state={state}", r.headers["location"])
    r = await client.get(callback)
    assert r.status_code == 403 and "expirat" in r.text
    assert setup.provider.token_requests == 0  # the code was never even exchanged


@pytest.mark.parametrize("misbehaviour", ["wrong_nonce", "foreign_key"])
async def test_bad_id_tokens_are_refused(setup: Setup, misbehaviour: str) -> None:
    setattr(setup.provider, misbehaviour, True)
    r = await oidc_sign_in(setup.dash.new_client())
    assert r.status_code == 401 and "a eșuat" in r.text
    assert "hub_session=" not in r.headers.get("set-cookie", "")
