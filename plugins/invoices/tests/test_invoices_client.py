"""Unit tests of the e-Factura client and the OAuth token manager (respx: no network)."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx
from cryptography.fernet import Fernet
from hub_invoices import client as client_mod
from hub_invoices.client import (
    EFacturaClient,
    EFacturaError,
    MessageError,
    QuotaExceeded,
    RateLimiter,
    seconds_to_next_day,
)
from hub_invoices.oauth import OAuthError, TokenManager, TokenPair, TokenStore, authorization_url
from hub_invoices.settings import InvoicesSettings
from hub_invoices.tables import metadata
from pydantic import ValidationError
from sqlalchemy import create_engine

from hub.errors import ConfigurationError

BASE = "https://api.anaf.ro/test/FCTEL/rest"
TOKEN_URL = "https://logincert.anaf.ro/anaf-oauth2/v1/token"
CIF = "14756536"


def settings(**extra: Any) -> InvoicesSettings:
    values: dict[str, Any] = {
        "environment": "test",
        "client_id": "cid",
        "client_secret": "csecret",
        "cif": CIF,
        "token_key": Fernet.generate_key().decode(),
        "http_transport": "httpx",
    }
    values.update(extra)
    return InvoicesSettings.model_validate(values)


async def _run(fn: Any, *args: Any) -> Any:
    return fn(*args)


def manager(s: InvoicesSettings, pair: TokenPair | None = None) -> TokenManager:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    store = TokenStore(engine, Fernet(s.token_key.get_secret_value().encode()))
    if pair is not None:
        store.save(s.cif, pair)
    return TokenManager(s, store, run=_run)


def valid_pair(access: str = "acc-1", refresh: str = "ref-1") -> TokenPair:
    now = time.time()
    return TokenPair(access, refresh, now + 80 * 86400, now + 300 * 86400)


async def no_quota(cif: str, day: str, kind: str, limit: int) -> int:
    return 1


def make_client(s: InvoicesSettings, tm: TokenManager) -> EFacturaClient:
    return EFacturaClient(s, tm, no_quota)


# --- settings ----------------------------------------------------------------------------------


def test_settings_validate_cui_and_window() -> None:
    assert settings(cif="RO14756536").cif == CIF
    with pytest.raises(ValidationError, match="not a valid CUI"):
        settings(cif="14756537")
    with pytest.raises(ValidationError):
        settings(window_days=61)
    assert settings().api_base == BASE
    assert "client_secret" not in repr(settings()) or "csecret" not in repr(settings())


# --- list ---------------------------------------------------------------------------------------


@respx.mock
async def test_list_page_parses_messages_and_sends_documented_params() -> None:
    s = settings()
    route = respx.get(f"{BASE}/listaMesajePaginatieFactura").mock(
        return_value=httpx.Response(
            200,
            json={
                "mesaje": [
                    {
                        "data_creare": "202211011336",
                        "cif": CIF,
                        "id_solicitare": "5001131297",
                        "detalii": "Factura cu id_incarcare=5001131297 emisa de "
                        "cif_emitent=8000000000 pentru cif_beneficiar=14756536",
                        "tip": "FACTURA PRIMITA",
                        "id": "3001503294",
                    }
                ],
                "numar_inregistrari_in_pagina": 1,
                "numar_total_inregistrari_per_pagina": 500,
                "numar_total_inregistrari": 501,
                "numar_total_pagini": 2,
                "index_pagina_curenta": 1,
            },
        )
    )
    c = make_client(s, manager(s, valid_pair()))
    page = await c.list_page(1_000, 2_000, 1, "P")
    assert page.total_pages == 2 and page.total == 501
    assert page.messages[0].id == "3001503294" and page.messages[0].tip == "FACTURA PRIMITA"
    req = route.calls[0].request
    assert dict(req.url.params) == {
        "startTime": "1000",
        "endTime": "2000",
        "cif": CIF,
        "pagina": "1",
        "filtru": "P",
    }
    assert req.headers["authorization"] == "Bearer acc-1"
    await c.aclose()


@pytest.mark.parametrize(
    ("eroare", "outcome"),
    [
        ("Nu exista mesaje in intervalul selectat", "empty"),
        (
            "S-au facut deja 1000 interogari de lista mesaje de catre utilizator in cursul zilei",
            "quota",
        ),
        ("Nu aveti drept in SPV pentru CIF=14756536", "error"),
        (
            "startTime = 09-07-2022 10:41:11 nu poate fi mai vechi de 60 de zile fata de "
            "momentul requestului",
            "error",
        ),
        ("Pagina solicitata 50 este mai mare decat numarul toatal de pagini 29", "error"),
    ],
)
@respx.mock
async def test_list_eroare_mapping(eroare: str, outcome: str) -> None:
    s = settings()
    respx.get(f"{BASE}/listaMesajePaginatieFactura").mock(
        return_value=httpx.Response(200, json={"eroare": eroare, "titlu": "Lista Mesaje"})
    )
    c = make_client(s, manager(s, valid_pair()))
    if outcome == "empty":
        page = await c.list_page(1, 2, 1, "P")
        assert page.messages == [] and page.total_pages == 0
    elif outcome == "quota":
        with pytest.raises(QuotaExceeded, match="S-au facut deja"):
            await c.list_page(1, 2, 1, "P")
    else:
        with pytest.raises(EFacturaError, match=eroare[:20]) as info:
            await c.list_page(1, 2, 1, "P")
        assert not isinstance(info.value, QuotaExceeded)


@respx.mock
async def test_list_400_shape_is_an_error_with_anaf_message() -> None:
    s = settings()
    respx.get(f"{BASE}/listaMesajePaginatieFactura").mock(
        return_value=httpx.Response(
            400,
            json={
                "timestamp": "19-08-2021 11:59:29",
                "status": 400,
                "error": "Bad Request",
                "message": "Parametrii startTime, endTime, cif si pagina sunt obligatorii",
            },
        )
    )
    c = make_client(s, manager(s, valid_pair()))
    with pytest.raises(EFacturaError, match="HTTP 400 Parametrii startTime"):
        await c.list_page(1, 2, 1, None)


# --- download -----------------------------------------------------------------------------------


@respx.mock
async def test_download_zip_and_error_answers() -> None:
    s = settings()
    route = respx.get(f"{BASE}/descarcare")
    route.side_effect = [
        httpx.Response(
            200, content=b"PK\x03\x04zipbytes", headers={"content-type": "application/zip"}
        ),
        # ANAF's daily-limit answer, stray brace included.
        httpx.Response(
            200,
            text='{"eroare":"S-au facut deja 10 descarcari de mesaj in cursul zilei",'
            '"titlu":"Descarcare mesaj"}}',
        ),
        httpx.Response(
            200,
            json={
                "eroare": "Pentru id=21 nu exista inregistrata nici o factura",
                "titlu": "Descarcare mesaj",
            },
        ),
        httpx.Response(200, text="<html>maintenance</html>"),
    ]
    c = make_client(s, manager(s, valid_pair()))
    assert await c.download("1") == b"PK\x03\x04zipbytes"
    with pytest.raises(MessageError, match="10 descarcari"):
        await c.download("2")
    with pytest.raises(MessageError, match="nu exista inregistrata"):
        await c.download("21")
    with pytest.raises(MessageError, match="neither a ZIP"):
        await c.download("3")
    assert route.calls[0].request.url.params["id"] == "1"


@respx.mock
async def test_401_refreshes_once_and_keeps_the_new_pair() -> None:
    s = settings()
    tm = manager(s, valid_pair("old-access", "old-refresh"))
    token = respx.post(TOKEN_URL).mock(
        return_value=httpx.Response(
            200,
            json={
                "access_token": "new-access",
                "refresh_token": "new-refresh",
                "expires_in": 7776000,
                "token_type": "Bearer",
            },
        )
    )
    dl = respx.get(f"{BASE}/descarcare")
    dl.side_effect = [
        httpx.Response(401, json={"status": 401}),
        httpx.Response(200, content=b"PK.."),
    ]
    c = make_client(s, tm)
    assert await c.download("5") == b"PK.."
    assert dl.calls[1].request.headers["authorization"] == "Bearer new-access"
    form = dict(httpx.QueryParams(token.calls[0].request.content.decode()))
    assert form == {
        "grant_type": "refresh_token",
        "refresh_token": "old-refresh",
        "token_content_type": "jwt",
    }
    basic = base64.b64encode(b"cid:csecret").decode()
    assert token.calls[0].request.headers["authorization"] == f"Basic {basic}"
    stored = tm.store.load(CIF)
    assert stored is not None
    assert (stored.access_token, stored.refresh_token) == ("new-access", "new-refresh")
    assert stored.refresh_expires_at > time.time() + 364 * 86400


@respx.mock
async def test_refused_refresh_is_a_configuration_error_naming_login() -> None:
    s = settings()
    respx.post(TOKEN_URL).mock(return_value=httpx.Response(400, json={"error": "invalid_grant"}))
    tm = manager(s, TokenPair("a", "r", time.time() - 1, time.time() + 100))
    with pytest.raises(OAuthError, match="hub invoices login"):
        await tm.access_token()


async def test_no_tokens_and_wrong_key_are_clear_errors() -> None:
    s = settings()
    with pytest.raises(OAuthError, match="hub invoices login"):
        await manager(s).access_token()
    tm = manager(s, valid_pair())
    tm.store.key = Fernet(Fernet.generate_key())
    with pytest.raises(ConfigurationError, match="cannot be decrypted"):
        tm.store.load(CIF)


def test_authorization_url_has_no_secret() -> None:
    s = settings(redirect_uri="https://registratura.example/cb")
    url = authorization_url(s)
    assert url.startswith("https://logincert.anaf.ro/anaf-oauth2/v1/authorize?")
    assert "client_id=cid" in url and "token_content_type=jwt" in url
    assert "csecret" not in url


# --- limits -------------------------------------------------------------------------------------


async def test_rate_limiter_waits_for_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(client_mod.asyncio, "sleep", fake_sleep)
    limiter = RateLimiter(3, clock=lambda: now[0])
    for _ in range(3):
        await limiter.acquire()
        now[0] += 1.0
    await limiter.acquire()  # the 4th call in the same minute waits for the first to age out
    assert slept == [pytest.approx(57.0)]


def test_next_day_is_bucharest_midnight() -> None:
    ts = datetime(2026, 11, 29, 21, 0, tzinfo=UTC).timestamp()  # 23:00 in Bucharest
    assert seconds_to_next_day(ts) == pytest.approx(3600 + 60)
    dst = datetime(2026, 10, 24, 21, 30, tzinfo=UTC).timestamp()  # 00:30 EEST, a 25 h day
    assert seconds_to_next_day(dst) == pytest.approx(24.5 * 3600 + 60)


def test_tokens_never_in_repr() -> None:
    pair = valid_pair("tok-access-1", "tok-refresh-1")
    assert "tok-" not in repr(pair) and "tok-" not in str(pair)
    assert "csecret" not in json.dumps(settings().model_dump(mode="json"))


@respx.mock
async def test_simple_list_and_its_local_quota() -> None:
    s = settings()
    counted: list[str] = []

    async def quota(cif: str, day: str, kind: str, limit: int) -> int:
        counted.append(kind)
        if len(counted) > 2:
            raise QuotaExceeded("local daily limit")
        return len(counted)

    route = respx.get(f"{BASE}/listaMesajeFactura")
    route.side_effect = [
        httpx.Response(200, json={"mesaje": [{"id": "1", "tip": "ERORI FACTURA"}]}),
        httpx.Response(200, json={"eroare": "Nu exista mesaje in ultimele 15 zile"}),
    ]
    c = EFacturaClient(s, manager(s, valid_pair()), quota)
    assert [m.id for m in await c.list_simple(15, "E")] == ["1"]
    assert await c.list_simple(15, None) == []
    with pytest.raises(QuotaExceeded):
        await c.list_simple(15, None)
    assert route.call_count == 2 and counted == ["simple", "simple", "simple"]
    assert dict(route.calls[0].request.url.params) == {"zile": "15", "cif": CIF, "filtru": "E"}
