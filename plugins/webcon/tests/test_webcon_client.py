"""The client in isolation (respx): token cache and renewal, API version, the error table and
transport failures."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import respx
from hub_webcon.client import WebconClient
from hub_webcon.errors import ERROR_TABLE, WebconConfigurationError, classify
from hub_webcon.settings import WebconSettings

from hub.errors import AmbiguousError, PermanentError, TransientError

BASE = "https://bps.example.test"
FORM = {
    "workflow_guid": "11111111-1111-1111-1111-111111111111",
    "form_type_guid": "22222222-2222-2222-2222-222222222222",
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(router: respx.MockRouter, clock: Clock | None = None, **overrides: Any) -> WebconClient:
    settings = WebconSettings.model_validate(
        {
            "base_url": BASE,
            "client_id": "hub",
            "client_secret": "s3cret-value-for-tests",
            "forms": {"default": FORM},
            **overrides,
        }
    )
    return WebconClient(
        settings, transport=httpx.MockTransport(router.handler), clock=clock or Clock()
    )


def token_route(router: respx.MockRouter, **extra: Any) -> respx.Route:
    tokens = iter(f"tok-{i}" for i in range(1, 100))
    return router.post(f"{BASE}/api/oauth2/token").mock(
        side_effect=lambda request: httpx.Response(
            200, json={"access_token": next(tokens), "token_type": "Bearer", **extra}
        )
    )


def error(
    status: int,
    etype: str | None,
    guid: str = "0f7a3c2e-1111-4222-8333-944455556666",
    **headers: str,
) -> httpx.Response:
    body = {"type": etype, "description": f"{etype} happened", "errorGuid": guid}
    return httpx.Response(status, json=body, headers=headers)


async def test_token_is_form_encoded_cached_and_renewed_before_expiry() -> None:
    router = respx.MockRouter(assert_all_called=True)
    tokens = token_route(router, expires_in=600)
    apps = router.get(f"{BASE}/api/data/v6.0/db/1/applications").mock(
        return_value=httpx.Response(200, json={"applications": []})
    )
    clock = Clock()
    client = make(router, clock, scope="App.Metadata.Read App.Search.Read.All")
    for _ in range(3):
        await client.metadata("applications")
    assert tokens.call_count == 1
    form = tokens.calls[0].request.content.decode()
    assert "grant_type=client_credentials" in form and "client_id=hub" in form
    assert "scope=App.Metadata.Read+App.Search.Read.All" in form
    assert apps.calls[0].request.headers["authorization"] == "Bearer tok-1"
    clock.now += 600 - 60 - 1  # just inside the 60 s refresh margin
    await client.metadata("applications")
    assert tokens.call_count == 1
    clock.now += 2
    await client.metadata("applications")
    assert tokens.call_count == 2
    assert apps.calls[-1].request.headers["authorization"] == "Bearer tok-2"
    await client.aclose()


async def test_missing_expires_in_means_an_hour() -> None:
    router = respx.MockRouter()
    tokens = token_route(router)
    clock = Clock()
    client = make(router, clock)
    await client.token()
    clock.now += 3600 - 60 - 1
    await client.token()
    assert tokens.call_count == 1
    clock.now += 2
    await client.token()
    assert tokens.call_count == 2


async def test_401_renews_once_and_retries() -> None:
    router = respx.MockRouter()
    tokens = token_route(router)
    route = router.get(f"{BASE}/api/data/v6.0/db/1/elements/5").mock(
        side_effect=[error(401, "InvalidAuthenticationToken"), httpx.Response(200, json={"a": 1})]
    )
    client = make(router)
    assert await client.get_element(5) == {"a": 1}
    assert tokens.call_count == 2
    assert [c.request.headers["authorization"] for c in route.calls] == [
        "Bearer tok-1",
        "Bearer tok-2",
    ]
    route.mock(return_value=error(401, "InvalidAuthenticationToken"))
    with pytest.raises(TransientError) as raised:
        await client.get_element(5)
    assert raised.value.error_type == "InvalidAuthenticationToken"
    assert tokens.call_count == 3  # one renewal per request, never a loop


async def test_concurrent_401s_renew_the_token_once() -> None:
    router = respx.MockRouter()
    tokens = token_route(router)

    def answer(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] == "Bearer tok-1":
            return error(401, "InvalidAuthenticationToken")
        return httpx.Response(200, json={})

    router.get(url__regex=rf"{BASE}/api/data/v6.0/db/1/elements/\d+").mock(side_effect=answer)
    client = make(router)
    await client.token()
    await asyncio.gather(*(client.get_element(i) for i in range(10)))
    assert tokens.call_count == 2


async def test_api_version_is_a_setting() -> None:
    router = respx.MockRouter()
    token_route(router)
    route = router.post(f"{BASE}/api/data/v5.0/db/3/elements").mock(
        return_value=httpx.Response(200, json={"id": 1, "instanceNumber": "X", "status": "Saved"})
    )
    client = make(router, api_version="v5.0", db_id=3)
    await client.create_element({}, "default")
    assert route.calls[0].request.url.params["path"] == "default"


@pytest.mark.parametrize(
    ("status", "etype", "expected", "config"),
    [
        (400, "InvalidBodyParameterValue", PermanentError, False),
        (409, "ValidationError", PermanentError, False),
        (409, "InvalidFieldData", PermanentError, False),
        (409, "ResourceIsLocked", TransientError, False),
        (423, None, TransientError, False),
        (403, "InvalidScope", WebconConfigurationError, True),
        (403, "InsufficientAccountPermissions", WebconConfigurationError, True),
        (403, "LicenseError", PermanentError, False),
        (404, "ResourceNotFound", PermanentError, False),
        (500, "InternalError", TransientError, False),
        (502, None, TransientError, False),
        (503, "InternalError", TransientError, False),
    ],
)
async def test_error_table(status: int, etype: str | None, expected: type, config: bool) -> None:
    router = respx.MockRouter()
    token_route(router)
    guid = "0f7a3c2e-1111-4222-8333-944455556666"
    router.post(f"{BASE}/api/data/v6.0/db/1/elements").mock(return_value=error(status, etype))
    with pytest.raises(expected) as raised:
        await make(router).create_element({}, "default")
    err = raised.value
    assert type(err) is expected
    assert err.status_code == status
    assert err.remote_ref == guid
    assert err.error_type == (etype or f"http_{status}")
    assert ("configuration problem" in err.message) is config
    if etype:
        assert f"{etype} happened" in err.message


def test_table_has_one_verdict_per_status_and_type() -> None:
    keys = [(status, etype) for status, etype, _ in ERROR_TABLE]
    assert len(keys) == len(set(keys))
    assert classify(418, None) == "permanent" and classify(599, None) == "transient"


async def test_retry_after_is_kept() -> None:
    router = respx.MockRouter()
    token_route(router)
    router.get(f"{BASE}/api/data/v6.0/db/1/elements/1").mock(
        return_value=error(503, "InternalError", **{"Retry-After": "12"})
    )
    with pytest.raises(TransientError) as raised:
        await make(router).get_element(1)
    assert raised.value.retry_after == 12


@pytest.mark.parametrize(
    ("exc", "method", "expected"),
    [
        (httpx.ConnectError, "POST", TransientError),  # refused: nothing was sent
        (httpx.PoolTimeout, "POST", TransientError),
        (httpx.ConnectTimeout, "POST", AmbiguousError),  # httpx-aiohttp's "disconnected"
        (httpx.ReadTimeout, "POST", AmbiguousError),
        (httpx.RemoteProtocolError, "POST", AmbiguousError),
        (httpx.ReadTimeout, "GET", TransientError),  # reading changes nothing
    ],
)
async def test_transport_failures(exc: type[Exception], method: str, expected: type) -> None:
    router = respx.MockRouter()
    token_route(router)
    router.route(url__startswith=f"{BASE}/api/data/").mock(side_effect=exc)
    client = make(router)
    with pytest.raises(expected):
        if method == "POST":
            await client.create_element({}, "default")
        else:
            await client.get_element(1)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (httpx.Response(401, json={"error": "invalid_client"}), WebconConfigurationError),
        (httpx.Response(400, json={"error": "invalid_scope"}), WebconConfigurationError),
        (httpx.Response(503, text="down"), TransientError),
        (httpx.Response(200, json={"token_type": "Bearer"}), TransientError),
    ],
)
async def test_token_failures(answer: httpx.Response, expected: type) -> None:
    router = respx.MockRouter()
    router.post(f"{BASE}/api/oauth2/token").mock(return_value=answer)
    with pytest.raises(expected) as raised:
        await make(router).token()
    assert "s3cret-value-for-tests" not in raised.value.message
