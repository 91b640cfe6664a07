"""The dashboard in a real browser: sign in, find a document by its registration number, open
its timeline, replay its dead delivery and see it delivered; a viewer has no replay button and
the API refuses the viewer's token; a forged CSRF token is refused; no Content-Security-Policy
violations; readable on a tablet; a screenshot of the overview for docs/."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter
from playwright.async_api import Browser, ConsoleMessage, Page, expect

from hub.connectors import Connector
from hub.hookspecs import hookimpl
from hub.models import Job, Receipt
from hub.settings import HubSettings
from tests.dashboard_harness import OVERRIDES, PASSWORD, DashboardHarness, running_dashboard
from tests.fixtures import MakeHub
from tests.servers import running_workers, until
from tests.test_api import document
from tests.test_api_operations import FlakyConnector, FlakyPlugin

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard-overview.png"
_numbers = itertools.count(1)


class RegistrarConnector(Connector):
    """Registers every document (a registration number, as WEBCON would give)."""

    name = "registrar"
    description = "Registratura (test)"

    async def deliver(self, job: Job) -> Receipt:
        return Receipt(
            remote_id=f"r-{job.delivery_id}", registration_number=f"TM-{next(_numbers):06d}"
        )


class RegistrarPlugin:
    @hookimpl
    def hub_register_connectors(self, register: Any) -> None:
        register(RegistrarConnector)

    @hookimpl
    def hub_register_routes(self, router: APIRouter, settings: HubSettings) -> None:
        return None


RULES = {
    "fallback": {
        "destinations": [{"connector": "registrar"}, {"connector": "flaky", "after": "registrar"}]
    }
}


@pytest.fixture
async def dash(make_hub: MakeHub) -> AsyncIterator[DashboardHarness]:
    hub = make_hub(
        plugins=(FlakyPlugin(), RegistrarPlugin()),
        rules=RULES,
        overrides=OVERRIDES,
        entry_points=False,
    )
    FlakyConnector.failing = True
    async with running_dashboard(hub) as harness, running_workers(hub):
        yield harness
    FlakyConnector.failing = True


async def registered_dead_document(dash: DashboardHarness) -> tuple[str, str, int]:
    """A document registered by the registrar whose flaky delivery is dead: (id, number,
    dead delivery id)."""
    r = await dash.api.post_document(document())
    assert r.status_code == 201, r.text
    doc_id = r.json()["id"]

    async def settled() -> bool:
        rows = await dash.hub.runner.read(dash.hub.ledger.deliveries_of, doc_id)
        return {d["connector"]: d["state"] for d in rows} == {
            "registrar": "delivered",
            "flaky": "dead",
        }

    await until(settled, what="registered and dead")
    doc = dash.hub.ledger.get_document(doc_id)
    assert doc is not None and doc.registration_number
    [dead] = [d for d in dash.hub.ledger.deliveries_of(doc_id) if d["connector"] == "flaky"]
    return doc_id, doc.registration_number, dead["id"]


def csp_watch(page: Page) -> list[str]:
    violations: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        if "Content Security Policy" in msg.text or "Content-Security-Policy" in msg.text:
            violations.append(msg.text)

    page.on("console", on_console)
    return violations


async def sign_in(page: Page, base_url: str, user: str) -> None:
    await page.goto(f"{base_url}/")
    await expect(page).to_have_url(re.compile(r"/login\?next="))
    await page.get_by_label("Nume de utilizator").fill(user)
    await page.get_by_label("Parolă").fill(PASSWORD)
    await page.get_by_role("button", name="Intrare").click()
    await expect(page.get_by_role("button", name="Ieșire")).to_be_visible()


async def test_operator_finds_document_and_replays_it(
    dash: DashboardHarness, browser: Browser
) -> None:
    doc_id, number, delivery_id = await registered_dead_document(dash)
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    violations = csp_watch(page)
    await sign_in(page, dash.base_url, "operator")

    # Find the document by its registration number and open its timeline.
    await page.get_by_role("link", name="Documente").click()
    await page.get_by_label("Număr de înregistrare").fill(number)
    await page.get_by_role("button", name="Caută").click()
    await page.get_by_role("link", name=number).click()
    await expect(page.get_by_role("heading", name=f"Document {number}")).to_be_visible()
    timeline = page.locator("ol.timeline")
    await expect(timeline).to_contain_text("remote refused the document")
    await expect(timeline).to_contain_text("token:intake")
    row = page.locator(f'tr[data-delivery="{delivery_id}"]')
    await expect(row).to_contain_text("eșuat definitiv")

    # The remote side is fixed: replay, confirm (one delivery), watch it finish.
    FlakyConnector.failing = False
    await row.get_by_role("button", name="Reluare").click()
    await expect(page.locator(".confirm-count")).to_contain_text("Vor fi reluate 1 livrare")
    await page.get_by_role("button", name=re.compile("Confirm: reluare")).click()
    await expect(page.locator(".job-status")).to_contain_text("Gata: 1 livrare reluate")

    async def delivered() -> bool:
        row = await dash.hub.runner.read(dash.hub.ledger.get_delivery, delivery_id)
        return row is not None and row["state"] == "delivered"

    await until(delivered, what="delivered after replay")
    await page.goto(f"{dash.base_url}/documents/{doc_id}")
    await expect(page.locator(f'tr[data-delivery="{delivery_id}"]')).to_contain_text("livrat")
    await expect(page.locator("ol.timeline")).to_contain_text("user:operator")
    assert violations == []


async def test_viewer_cannot_replay(dash: DashboardHarness, browser: Browser) -> None:
    _doc_id, _number, delivery_id = await registered_dead_document(dash)
    page = await browser.new_page()
    violations = csp_watch(page)
    await sign_in(page, dash.base_url, "viewer")
    await page.get_by_role("link", name="Livrări eșuate").click()
    await expect(page.locator(f'tr[data-delivery="{delivery_id}"]')).to_be_visible()
    await expect(page.get_by_role("button", name=re.compile("Reluare"))).to_have_count(0)
    # The API refuses a token with the viewer's scopes, and so does the dashboard's form URL.
    api = await page.request.post(
        f"{dash.base_url}/api/v1/deliveries/{delivery_id}/replay",
        headers=dash.api.auth("reader"),
    )
    assert api.status == 403
    form = await page.request.post(
        f"{dash.base_url}/dead-letters/run",
        form={"op": "replay/selected", "ids": str(delivery_id)},
    )
    assert form.status == 403
    assert dash.hub.ledger.get_delivery(delivery_id)["state"] == "dead"  # type: ignore[index]
    assert violations == []


async def test_forged_csrf_token_is_refused(dash: DashboardHarness, browser: Browser) -> None:
    _doc_id, _number, delivery_id = await registered_dead_document(dash)
    page = await browser.new_page()
    await sign_in(page, dash.base_url, "operator")
    await page.goto(f"{dash.base_url}/dead-letters")
    await page.locator(f'input[name="ids"][value="{delivery_id}"]').check()
    # Tamper with the form's token the way a forged cross-site form would have the wrong one.
    await page.locator('#bulk input[name="csrf_token"]').evaluate("e => e.value = 'forged'")
    await page.get_by_role("button", name="Reluare selecție").click()
    await expect(page.get_by_role("heading", name="Cerere respinsă")).to_be_visible()
    assert dash.hub.ledger.get_delivery(delivery_id)["state"] == "dead"  # type: ignore[index]


async def test_overview_refreshes_fits_a_tablet_and_is_captured(
    dash: DashboardHarness, browser: Browser
) -> None:
    for _ in range(3):
        await registered_dead_document(dash)
    page = await browser.new_page(viewport={"width": 1280, "height": 1000})
    violations = csp_watch(page)
    await sign_in(page, dash.base_url, "viewer")
    flaky = page.locator('tr[data-connector="flaky"]')
    await expect(flaky).to_contain_text("3")
    stamp = await page.locator("#live .muted").first.inner_text()
    # htmx replaces the live part by itself (every 5 s by default).
    await expect(page.locator("#live .muted").first).not_to_have_text(stamp, timeout=15000)
    await expect(page.locator("svg.chart").first).to_be_visible()
    SCREENSHOT.parent.mkdir(exist_ok=True)
    await page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000
    # A tablet: nothing wider than the screen but the tables' own scroll areas.
    await page.set_viewport_size({"width": 768, "height": 1024})
    overflow = await page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= 768
    assert violations == []
