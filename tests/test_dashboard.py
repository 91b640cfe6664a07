"""The dashboard over real HTTP: sign-in, pages per role, search, timeline with masking and the
audited unmasked view, dead-letter replay/cancel with confirmation and progress, sources
pause/resume, and the audit trail naming the person."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from hub.api.app import create_app
from hub.dashboard_pages import DashboardPage, DashboardTable
from hub.db.schema import attempts, deliveries, documents, events
from hub.hookspecs import hookimpl
from tests.dashboard_harness import OVERRIDES, DashboardHarness, csrf_of, running_dashboard
from tests.fixtures import MakeHub
from tests.servers import running_workers, until
from tests.test_api import document
from tests.test_api_operations import FLAKY_RULES, FlakyConnector, FlakyPlugin


@pytest.fixture
async def dash(make_hub: MakeHub) -> AsyncIterator[DashboardHarness]:
    hub = make_hub(
        plugins=(FlakyPlugin(),), rules=FLAKY_RULES, overrides=OVERRIDES, entry_points=False
    )
    FlakyConnector.failing = True
    async with running_dashboard(hub) as harness, running_workers(hub):
        yield harness
    FlakyConnector.failing = True


def audit(dash: DashboardHarness, action: str) -> list[Any]:
    with dash.hub.reader.connect() as conn:
        return list(conn.execute(select(events).where(events.c.action == action)))


async def dead_documents(dash: DashboardHarness, n: int) -> list[str]:
    """``n`` documents whose flaky delivery went dead (the connector refuses permanently)."""
    ids = []
    for _ in range(n):
        r = await dash.api.post_document(document())
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])

    async def all_dead() -> bool:
        stats = await dash.hub.runner.read(dash.hub.ledger.connector_stats)
        return stats.get("flaky", {}).get("dead", 0) >= n

    await until(all_dead, what="deliveries dead")
    return ids


async def test_pages_redirect_to_sign_in_and_back(dash: DashboardHarness) -> None:
    client = dash.new_client()
    r = await client.get("/dead-letters?connector=flaky")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fdead-letters%3Fconnector%3Dflaky"
    page = await client.get("/login?next=%2Fdead-letters")
    assert "Autentificare" in page.text and "Parolă" in page.text
    r = await client.post(
        "/login",
        data={
            "login_token": csrf_of(page.text),
            "username": "viewer",
            "password": "parolă-sigură-2026",
            "next": "/dead-letters",
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/dead-letters"
    cookie = r.headers["set-cookie"]
    assert "hub_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    r = await client.get("/dead-letters")
    assert r.status_code == 200 and "Livrări eșuate definitiv" in r.text
    assert [e.actor for e in audit(dash, "signed_in")] == ["user:viewer"]


async def test_open_redirects_are_refused(dash: DashboardHarness) -> None:
    client = dash.new_client()
    page = await client.get("/login")
    r = await client.post(
        "/login",
        data={
            "login_token": csrf_of(page.text),
            "username": "viewer",
            "password": "parolă-sigură-2026",
            "next": "//evil.example/",
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/"


async def test_wrong_password_then_lockout(dash: DashboardHarness) -> None:
    client = dash.new_client()
    for _ in range(5):
        page = await client.get("/login")
        r = await client.post(
            "/login",
            data={"login_token": csrf_of(page.text), "username": "operator", "password": "x" * 12},
        )
        assert r.status_code == 401
        assert "Nume de utilizator sau parolă greșite." in r.text
    # Locked now: even the right password is refused, with a clear message.
    page = await client.get("/login")
    r = await client.post(
        "/login",
        data={
            "login_token": csrf_of(page.text),
            "username": "operator",
            "password": "parolă-sigură-2026",
        },
    )
    assert r.status_code == 429 and "blocat temporar" in r.text
    assert [e.actor for e in audit(dash, "user_locked")] == ["user:operator"]
    # An unknown user gets the same answer as a wrong password.
    page = await client.get("/login")
    r = await client.post(
        "/login",
        data={"login_token": csrf_of(page.text), "username": "nobody", "password": "y" * 12},
    )
    assert r.status_code == 401 and "Nume de utilizator sau parolă greșite." in r.text
    # An administrator lifts the lockout by enabling the account.
    dash.store.set_disabled("operator", False)
    await dash.as_user("operator")


async def test_sign_in_form_needs_its_token(dash: DashboardHarness) -> None:
    client = dash.new_client()
    await client.get("/login")
    for forged in ("forged", "falsificată"):  # non-ASCII: a 403, never a 500
        r = await client.post(
            "/login",
            data={"login_token": forged, "username": "viewer", "password": "parolă-sigură-2026"},
        )
        assert r.status_code == 403
        assert "hub_session" not in r.headers.get("set-cookie", "")


async def test_sign_out_revokes_the_session(dash: DashboardHarness) -> None:
    client = await dash.as_user("viewer")
    cookie = client.cookies.get("hub_session")
    token = await dash.csrf("viewer")
    r = await client.post("/logout", data={"csrf_token": token})
    assert r.status_code == 303
    # The old cookie value no longer opens anything (server-side revocation).
    fresh = dash.new_client()
    fresh.cookies.set("hub_session", cookie or "")
    assert (await fresh.get("/")).status_code == 303


async def test_disabling_a_user_ends_their_session(dash: DashboardHarness) -> None:
    client = await dash.as_user("viewer")
    assert (await client.get("/")).status_code == 200
    dash.store.set_disabled("viewer", True)
    assert (await client.get("/")).status_code == 303


async def test_overview_shows_connectors_chart_and_refreshes(dash: DashboardHarness) -> None:
    await dead_documents(dash, 2)
    client = await dash.as_user("viewer")
    r = await client.get("/")
    assert r.status_code == 200
    html = r.text
    assert 'hx-get="/overview/live"' in html and 'hx-trigger="every 5s"' in html
    row = re.search(r'<tr data-connector="flaky">(.*?)</tr>', html, re.S)
    assert row is not None
    cells = re.findall(r'<td class="num">(.*?)</td>', row.group(1), re.S)
    # backlog, per minute, failures (1 h), retries scheduled, dead (linked)
    assert cells[0] == "0" and cells[2] == "2" and cells[3] == "0"
    assert ">2</a>" in cells[4]
    assert '<svg class="chart"' in html and 'class="failed"' in html
    assert "2 eșuate" in html
    live = await client.get("/overview/live", headers={"HX-Request": "true"})
    assert live.status_code == 200 and live.text.lstrip().startswith('<div id="live"')


async def test_document_search_and_timeline_masked(dash: DashboardHarness) -> None:
    [doc_id] = await dead_documents(dash, 1)
    doc = dash.hub.ledger.get_document(doc_id)
    assert doc is not None and doc.sender is not None
    client = await dash.as_user("viewer")
    r = await client.get("/documents", params={"external_id": doc.external_id})
    assert r.status_code == 200 and f"/documents/{doc_id}" in r.text
    r = await client.get("/documents", params={"external_id": "absent"})
    assert "Niciun document nu corespunde" in r.text
    r = await client.get("/documents", params={"since": "2026-13-01"})
    assert r.status_code == 400 and "nu este validă" in r.text
    page = await client.get(f"/documents/{doc_id}")
    assert page.status_code == 200
    assert "Încercarea 1" in page.text and "remote refused the document" in page.text
    assert 'de <strong class="actor">token:intake</strong>' in page.text
    assert doc.sender.name and doc.sender.name not in page.text  # masked
    assert "Afișează datele personale" not in page.text  # a viewer has no pii
    assert 'name="action" value="replay"' not in page.text  # nor replay


async def test_unmasked_view_is_audited(dash: DashboardHarness) -> None:
    [doc_id] = await dead_documents(dash, 1)
    doc = dash.hub.ledger.get_document(doc_id)
    assert doc is not None and doc.sender is not None and doc.sender.name
    client = await dash.as_user("auditor")
    page = await client.get(f"/documents/{doc_id}")
    assert doc.sender.name not in page.text and "Afișează datele personale" in page.text
    r = await client.post(f"/documents/{doc_id}/reveal", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 200 and doc.sender.name in r.text
    [ev] = audit(dash, "pii_viewed")
    assert ev.actor == "user:auditor" and ev.document_id == doc_id
    # Without the pii right the reveal is refused and nothing is audited.
    viewer = await dash.as_user("viewer")
    r = await viewer.post(
        f"/documents/{doc_id}/reveal", data={"csrf_token": await dash.csrf("viewer")}
    )
    assert r.status_code == 403 and len(audit(dash, "pii_viewed")) == 1


async def test_unit_user_sees_only_its_department(dash: DashboardHarness) -> None:
    mine = await dash.api.post_document(document(department="DJ"))
    other = await dash.api.post_document(document(department="DT"))
    client = await dash.as_user("unit_dj")
    r = await client.get("/documents")
    assert mine.json()["id"] in r.text and other.json()["id"] not in r.text
    r = await client.get("/documents", params={"department": "DT"})
    assert other.json()["id"] not in r.text
    assert (await client.get(f"/documents/{other.json()['id']}")).status_code == 404
    assert (await client.get(f"/documents/{mine.json()['id']}")).status_code == 200
    assert (await client.get("/")).status_code == 403
    assert (await client.get("/dead-letters")).status_code == 403


async def test_replay_one_with_confirmation_is_audited(dash: DashboardHarness) -> None:
    [doc_id] = await dead_documents(dash, 1)
    [delivery] = dash.hub.ledger.deliveries_of(doc_id)
    client = await dash.as_user("operator")
    token = await dash.csrf("operator")
    r = await client.post(
        "/dead-letters/confirm",
        data={
            "csrf_token": token,
            "action": "replay",
            "mode": "selected",
            "ids": str(delivery["id"]),
        },
    )
    assert r.status_code == 200 and "Vor fi reluate <strong>1</strong> livrare" in r.text
    assert dash.hub.ledger.get_delivery(delivery["id"])["state"] == "dead"  # not yet
    FlakyConnector.failing = False  # the remote side is fixed; now replay
    r = await client.post("/dead-letters/run", data=_form(r.text))
    assert r.status_code == 303
    job_url = r.headers["location"]

    async def done() -> bool:
        page = await client.get(job_url, headers={"HX-Request": "true"})
        return "Gata: 1 livrare reluate" in page.text

    await until(done, what="replay job")

    async def delivered() -> bool:
        row = await dash.hub.runner.read(dash.hub.ledger.get_delivery, delivery["id"])
        return row is not None and row["state"] == "delivered"

    await until(delivered, what="delivered after replay")
    [ev] = audit(dash, "replayed")
    assert ev.actor == "user:operator" and ev.delivery_id == delivery["id"]


def _form(html: str) -> dict[str, Any]:
    """The hidden fields of the confirmation form, as the browser would post them."""
    form = html[html.index('action="/dead-letters/run"') :]
    fields: dict[str, Any] = {}
    for name, value in re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form):
        if name == "ids":
            fields.setdefault("ids", []).append(value)
        else:
            fields[name] = value
    return fields


async def test_cancel_all_matching_filter(dash: DashboardHarness) -> None:
    await dead_documents(dash, 3)
    client = await dash.as_user("operator")
    r = await client.post(
        "/dead-letters/confirm",
        data={
            "csrf_token": await dash.csrf("operator"),
            "op": "cancel/filter",
            "connector": "flaky",
        },
    )
    assert "Vor fi anulate <strong>3</strong> livrări" in r.text
    r = await client.post("/dead-letters/run", data=_form(r.text))
    job_url = r.headers["location"]

    async def done() -> bool:
        return "Gata: 3 livrări anulate" in (await client.get(job_url)).text

    await until(done, what="cancel job")
    assert [e.actor for e in audit(dash, "cancelled")] == ["user:operator"] * 3
    page = await client.get("/dead-letters")
    assert '<strong class="total">0</strong>' in page.text


async def test_viewer_cannot_act(dash: DashboardHarness) -> None:
    [doc_id] = await dead_documents(dash, 1)
    [delivery] = dash.hub.ledger.deliveries_of(doc_id)
    client = await dash.as_user("viewer")
    page = await client.get("/dead-letters")
    assert f'data-delivery="{delivery["id"]}"' in page.text
    assert "Reluare selecție" not in page.text and 'name="ids"' not in page.text
    token = await dash.csrf("viewer")
    for path in ("/dead-letters/confirm", "/dead-letters/run", "/sources/x/pause"):
        r = await client.post(
            path, data={"csrf_token": token, "op": "replay/selected", "ids": str(delivery["id"])}
        )
        assert r.status_code == 403, path
    assert dash.hub.ledger.get_delivery(delivery["id"])["state"] == "dead"
    # The API says the same to a token of the viewer's scopes.
    r = await dash.api.client.post(
        f"/api/v1/deliveries/{delivery['id']}/replay", headers=dash.api.auth("reader")
    )
    assert r.status_code == 403


async def test_csrf_is_required_for_every_action(dash: DashboardHarness) -> None:
    [doc_id] = await dead_documents(dash, 1)
    [delivery] = dash.hub.ledger.deliveries_of(doc_id)
    client = await dash.as_user("operator")
    data = {"op": "replay/selected", "ids": str(delivery["id"])}
    for bad in ({}, {"csrf_token": "forged"}, {"csrf_token": "falsificată"}):
        r = await client.post("/dead-letters/run", data=data | bad)
        assert r.status_code == 403 and "CSRF" in r.text
    # A right token from another site (Origin) is refused too.
    r = await client.post(
        "/dead-letters/run",
        data=data | {"csrf_token": await dash.csrf("operator")},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403
    assert dash.hub.ledger.get_delivery(delivery["id"])["state"] == "dead"
    assert audit(dash, "replayed") == []


async def test_sources_pause_and_resume(dash: DashboardHarness) -> None:
    dash.hub.ledger.source_failed("registry", "ConnectError: refused")
    client = await dash.as_user("operator")
    page = await client.get("/sources")
    assert 'data-source="registry"' in page.text and "ConnectError: refused" in page.text
    token = csrf_of(page.text)
    r = await client.post("/sources/registry/pause", data={"csrf_token": token})
    assert r.status_code == 303
    assert dash.hub.ledger.source_paused("registry")
    assert "oprită de operator" in (await client.get("/sources")).text
    r = await client.post("/sources/registry/resume", data={"csrf_token": token})
    assert not dash.hub.ledger.source_paused("registry")
    assert [e.actor for e in audit(dash, "source_paused")] == ["user:operator"]
    assert [e.actor for e in audit(dash, "source_resumed")] == ["user:operator"]
    r = await client.post("/sources/absent/pause", data={"csrf_token": token})
    assert r.status_code == 404


async def test_security_headers(dash: DashboardHarness) -> None:
    client = await dash.as_user("viewer")
    for path in ("/", "/login", "/api/v1/connectors", "/healthz"):
        r = await client.get(path, headers=dash.api.auth("reader") if "api" in path else None)
        csp = r.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
    r = await client.get("/")
    assert "<script>" not in r.text and "style=" not in r.text
    assert r.headers["cache-control"] == "no-store"
    static = await dash.new_client().get("/static/htmx.min.js")
    assert static.status_code == 200 and "htmx" in static.text[:2000]


async def test_admin_disables_users_and_revokes_tokens(dash: DashboardHarness) -> None:
    viewer = await dash.as_user("viewer")
    assert (await viewer.get("/")).status_code == 200
    admin = await dash.as_user("admin")
    page = await admin.get("/admin")
    assert page.status_code == 200
    assert 'data-user="viewer"' in page.text and 'data-token="reader"' in page.text
    token = csrf_of(page.text)
    r = await admin.post("/admin/users/viewer/disable", data={"csrf_token": token})
    assert r.status_code == 303
    assert (await viewer.get("/")).status_code == 303  # signed out at once
    r = await admin.post("/admin/users/admin/disable", data={"csrf_token": token})
    assert r.status_code == 400  # not oneself
    r = await admin.post("/admin/tokens/reader/revoke", data={"csrf_token": token})
    assert r.status_code == 303
    assert dash.hub.ledger.verify_token(dash.api.tokens["reader"]) is None
    assert [e.actor for e in audit(dash, "user_disabled")] == ["user:admin"]
    assert [e.reason for e in audit(dash, "token_revoked")] == ["token reader"]
    operator = await dash.as_user("operator")
    assert (await operator.get("/admin")).status_code == 403
    assert "Administrare" not in (await operator.get("/")).text


async def test_overdue_list_and_metric(dash: DashboardHarness) -> None:
    late = (await dash.api.post_document(document(department="DJ"))).json()["id"]
    other = (await dash.api.post_document(document(department="DT"))).json()["id"]
    closed = (await dash.api.post_document(document(department="DJ"))).json()["id"]
    on_time = (await dash.api.post_document(document(department="DJ"))).json()["id"]
    with dash.hub.writer.begin() as conn:
        for doc_id, due in ((late, "2026-01-05"), (other, "2026-02-01"), (closed, "2026-01-01")):
            conn.execute(
                update(documents)
                .where(documents.c.id == doc_id)
                .values(due_date=date.fromisoformat(due))
            )
        conn.execute(
            update(documents)
            .where(documents.c.id.in_([closed]))
            .values(closed_at=datetime(2026, 1, 2, tzinfo=UTC))
        )
        conn.execute(
            update(documents).where(documents.c.id == on_time).values(due_date=date(2099, 1, 1))
        )
    page = (await (await dash.as_user("viewer")).get("/overdue")).text
    rows = re.findall(r'data-document="([^"]+)"', page)
    assert rows == [late, other]  # most overdue first; closed and on-time ones absent
    unit = (await (await dash.as_user("unit_dj")).get("/overdue")).text
    assert re.findall(r'data-document="([^"]+)"', unit) == [late]
    metrics = await dash.api.client.get("/metrics", headers=dash.api.auth("metrics"))
    assert 'hub_documents_overdue{kind="petitie"} 2.0' in metrics.text


async def test_bulk_replay_of_a_large_set_runs_in_chunks(dash: DashboardHarness) -> None:
    """1,200 dead letters (three chunks of at most 500): one confirmation with the count, then
    a background job whose progress page ends at the full count."""
    [doc_id] = await dead_documents(dash, 1)
    now = time.time()
    with dash.hub.writer.begin() as conn:
        conn.execute(
            insert(deliveries),
            [
                {
                    "document_id": doc_id,
                    "connector": "gone",  # not installed: replayed rows just wait
                    "target": f"t{i}",
                    "idempotency_key": f"bulk-{i}",
                    "state": "dead",
                    "attempts": 5,
                    "next_attempt_at": now,
                    "last_error": "remote refused",
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(1200)
            ],
        )
    client = await dash.as_user("operator")
    r = await client.post(
        "/dead-letters/confirm",
        data={
            "csrf_token": await dash.csrf("operator"),
            "op": "replay/filter",
            "connector": "gone",
        },
    )
    assert "Vor fi reluate <strong>1200</strong> livrări" in r.text
    r = await client.post("/dead-letters/run", data=_form(r.text))
    job_url = r.headers["location"]
    first = await client.get(job_url)
    assert '<progress max="1200"' in first.text

    async def done() -> bool:
        return "Gata: 1200 livrări reluate" in (await client.get(job_url)).text

    await until(done, what="bulk replay")
    stats = dash.hub.ledger.connector_stats()["gone"]
    assert stats["pending"] == 1200 and stats["dead"] == 0
    assert len(audit(dash, "replayed")) == 1200
    # Someone else's job is not shown (progress pages belong to who started them).
    other = await dash.as_user("admin")
    assert (await other.get(job_url)).status_code == 404


async def test_cookie_settings_are_enforced(make_hub: MakeHub) -> None:
    from hub.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="loopback"):
        hub = make_hub(
            entry_points=False,
            rules={},
            overrides={"dashboard": {"cookie_secure": False}, "api_host": "0.0.0.0"},
        )
        create_app(hub)
    secure = make_hub(entry_points=False, rules={})
    async with running_dashboard(secure) as dash:
        client = dash.new_client()
        page = await client.get("/login")
        login_cookie = page.headers["set-cookie"]
        assert login_cookie.startswith("__Host-hub_login=") and "Secure" in login_cookie
        # httpx keeps Secure cookies for HTTPS only: hand the form cookie back by hand.
        client.cookies.set("__Host-hub_login", csrf_of(page.text))
        r = await client.post(
            "/login",
            data={
                "login_token": csrf_of(page.text),
                "username": "viewer",
                "password": "parolă-sigură-2026",
            },
        )
        assert r.status_code == 303
        session = next(c for c in r.headers.get_list("set-cookie") if "hub_session" in c)
        assert session.startswith("__Host-hub_session=")
        for attr in ("Secure", "HttpOnly", "SameSite=strict", "Path=/"):
            assert attr in session
        assert "Domain" not in session


async def test_timeline_shows_webcon_error_guid(dash: DashboardHarness) -> None:
    [doc_id] = await dead_documents(dash, 1)
    [delivery] = dash.hub.ledger.deliveries_of(doc_id)
    guid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    quoted = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
    with dash.hub.writer.begin() as conn:
        conn.execute(
            insert(attempts),
            [
                {
                    "delivery_id": delivery["id"],
                    "number": n,
                    "worker": "w1",
                    "started_at": time.time(),
                    "duration_ms": 12.5,
                    "outcome": "ValidationError",
                    "status_code": 400,
                    "error_type": "ValidationError",
                    "message": msg,
                    "remote_ref": ref,
                }
                for n, msg, ref in (
                    (7, "WEBCON create element: 400 ValidationError", guid),
                    (8, f'WEBCON answered {{"errorGuid": "{quoted}"}}', None),
                )
            ],
        )
    page = (await (await dash.as_user("viewer")).get(f"/documents/{doc_id}")).text
    assert f'errorGuid <code class="guid">{guid}</code>' in page
    assert f'errorGuid <code class="guid">{quoted}</code>' in page
    assert (
        "HTTP 400" in page and "12 ms" in page and "tip eroare <code>ValidationError</code>" in page
    )


async def test_live_part_asks_htmx_to_sign_in_again(dash: DashboardHarness) -> None:
    r = await dash.new_client().get("/overview/live", headers={"HX-Request": "true"})
    assert r.status_code == 401 and r.headers["hx-redirect"] == "/login"


class PagesPlugin:
    """Two pages a plugin adds: a list for readers (with markup in its data, to be escaped) and
    one for operators whose loader breaks."""

    @staticmethod
    async def ledgers(hub: Any, principal: Any) -> DashboardTable:
        rows = [["<script>alert(1)</script>", "3"], ["Registru „B”", "12"]]
        who = "cu date personale" if principal.has("pii") else "fără date personale"
        return DashboardTable(
            columns=["Registru", "Înscrieri"], rows=rows, intro=who, numeric=frozenset({1})
        )

    @staticmethod
    async def broken(hub: Any, principal: Any) -> DashboardTable:
        raise RuntimeError("Popescu Ion")  # personal data in an exception stays out of the page

    @hookimpl
    def hub_register_dashboard_pages(self, register: Any) -> None:
        register(DashboardPage(slug="registre", title="Registre", scope="read", load=self.ledgers))
        register(
            DashboardPage(slug="defect", title="Pagină defectă", scope="operator", load=self.broken)
        )


async def test_plugin_pages_in_navigation_by_scope(make_hub: MakeHub) -> None:
    hub = make_hub(
        plugins=(FlakyPlugin(), PagesPlugin()),
        rules=FLAKY_RULES,
        overrides=OVERRIDES,
        entry_points=False,
    )
    async with running_dashboard(hub) as dash:
        viewer = await dash.as_user("viewer")
        home = (await viewer.get("/")).text
        assert 'href="/pages/registre"' in home and ">Registre</a>" in home
        assert "/pages/defect" not in home  # operator scope
        page = await viewer.get("/pages/registre")
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert "<script>alert" not in page.text
        assert "Registru „B”" in page.text and '<td class="num">12</td>' in page.text
        assert 'aria-current="page">Registre</a>' in page.text
        assert "fără date personale" in page.text
        assert (
            "cu date personale"
            in (await (await dash.as_user("auditor")).get("/pages/registre")).text
        )
        assert (await viewer.get("/pages/defect")).status_code == 403

        unit = await dash.as_user("unit_dj")
        assert "/pages/registre" not in (await unit.get("/documents")).text
        assert (await unit.get("/pages/registre")).status_code == 403
        assert (await dash.new_client().get("/pages/registre")).status_code == 303

        operator = await dash.as_user("operator")
        assert 'href="/pages/defect"' in (await operator.get("/")).text
        broken = await operator.get("/pages/defect")
        assert broken.status_code == 500 and "nu poate fi afișată" in broken.text
        assert "Popescu" not in broken.text


async def test_sources_show_what_the_source_reports(dash: DashboardHarness) -> None:
    status = {  # what the e-Factura source publishes in its cursor
        "last_success_at": 1767225600.0,
        "lag_seconds": 12.5,
        "registered_today": 4,
        "backlog": 0,
        "quota_used_today": {"paged": 3, "paged_limit": 1000, "simple": 1, "simple_limit": 1000},
        "refresh_token_days_left": None,
        "last_error": "<b>ANAF</b> a răspuns 500",
    }
    await dash.hub.runner.write(
        dash.hub.ledger.insert_documents, [], cursor=("efactura", {"status": status})
    )
    page = (await (await dash.as_user("viewer")).get("/sources")).text
    row = page.split('data-source="efactura"', 1)[1].split("</tr>", 1)[0]
    assert (
        "<dt>quota used today</dt><dd>paged 3, paged limit 1000, simple 1, simple limit 1000</dd>"
        in row
    )
    assert (
        "<dt>registered today</dt><dd>4</dd>" in row and "<dt>lag seconds</dt><dd>12.5</dd>" in row
    )
    assert "&lt;b&gt;ANAF&lt;/b&gt; a răspuns 500" in row and "<b>ANAF" not in row
    assert "last success at" not in row and "refresh token" not in row  # own column; empty
    overview = (await (await dash.as_user("viewer")).get("/")).text
    assert "quota used today" not in overview  # the overview stays compact
