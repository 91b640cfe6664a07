"""OpenID Connect sign-in in a real browser, from the dashboard's button through the provider
(run by the test, on "localhost": another site than the hub's 127.0.0.1) and back, landing
signed in on the page first asked for. (The callback's meta-refresh page guards against
browsers that withhold SameSite=Strict cookies on a redirect chain that passed another site;
the Chromium under test sends them either way, so this test checks the flow, not that guard.)"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, expect

from tests.dashboard_harness import OVERRIDES, running_dashboard
from tests.fixtures import MakeHub
from tests.servers import serve_asgi
from tests.test_access_oidc import CLIENT_ID, CLIENT_SECRET, Provider, Setup, provider_app


@pytest.fixture
async def setup(make_hub: MakeHub) -> AsyncIterator[Setup]:
    provider = Provider()
    # "localhost" for the provider, 127.0.0.1 for the hub: two sites, as in real life.
    async with serve_asgi(provider_app(provider)) as issuer:
        issuer = issuer.replace("127.0.0.1", "localhost")
        overrides = OVERRIDES | {
            "oidc": {"issuer": issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        }
        hub = make_hub(overrides=overrides, entry_points=False, rules={})
        async with running_dashboard(hub) as dash:
            dash.store.create("ana", "operator", None, oidc_subject="ana@primariatm.ro")
            yield Setup(dash, provider)


async def test_institutional_sign_in_lands_signed_in(setup: Setup, browser: Browser) -> None:
    page = await browser.new_page()
    await page.goto(f"{setup.dash.base_url}/sources")
    await page.get_by_role("link", name="Autentificare instituțională").click()
    await expect(page.get_by_role("heading", name="Surse")).to_be_visible()
    await expect(page.locator("header .who")).to_contain_text("ana · operator")
    assert page.url == f"{setup.dash.base_url}/sources"
    assert setup.provider.token_requests == 1
