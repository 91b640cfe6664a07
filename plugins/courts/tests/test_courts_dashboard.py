"""The notice board on the dashboard (``/pages/avizier``): an act posted through the API shows
up for people who may read, with the addressee masked unless they hold ``pii``; a unit user
sees neither the page nor its entry in the navigation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from hub_courts import service

from hub.runtime import Hub
from tests.dashboard_harness import OVERRIDES, running_dashboard


async def test_notice_board_page_lists_what_is_posted(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub(overrides=OVERRIDES)
    today = service.local_today(service.courts_settings(hub))
    posted_on = today - timedelta(days=2)
    async with running_dashboard(hub) as dash:
        body = {
            "act": "Citație în dosarul 1234/30/2026",
            "posted_on": posted_on.isoformat(),
            "posted_by": "Mihaela Țurcanu",
            "issuer": "Tribunalul Timiș",
            "case_number": "1234/30/2026",
            "addressee": "Popescu Ion",
        }
        r = await dash.api.client.post(
            "/api/v1/notice-board", json=body, headers=dash.api.auth("operator")
        )
        assert r.status_code == 201, r.text
        posting = r.json()
        removed = await dash.api.client.post(
            "/api/v1/notice-board",
            json=body | {"act": "Sentință deja dezafișată", "addressee": "Ionescu Maria"},
            headers=dash.api.auth("operator"),
        )
        await dash.api.client.post(
            f"/api/v1/notice-board/{removed.json()['id']}/removal",
            json={"removed_on": today.isoformat(), "removed_by": "Mihaela Țurcanu"},
            headers=dash.api.auth("operator"),
        )

        viewer = await dash.as_user("viewer")
        assert 'href="/pages/avizier"' in (await viewer.get("/")).text
        page = await viewer.get("/pages/avizier")
        assert page.status_code == 200
        text = page.text
        assert "<h1>Avizier</h1>" in text and 'aria-current="page">Avizier</a>' in text
        assert "Citație în dosarul 1234/30/2026" in text and "1234/30/2026" in text
        assert "Sentință deja dezafișată" not in text  # removed: no longer posted
        assert "Popescu Ion" not in text and "•••••••••on" in text
        assert f"<td>{posted_on:%d.%m.%Y}</td>" in text
        due = date.fromisoformat(posting["removal_due"])
        assert due > today  # seven days, maybe moved to a working day
        assert f"<td>{due:%d.%m.%Y}</td>" in text
        assert f'<td class="num">{(due - today).days}</td>' in text

        auditor = await dash.as_user("auditor")  # viewer with pii
        assert "Popescu Ion" in (await auditor.get("/pages/avizier")).text

        unit = await dash.as_user("unit_dj")
        assert "/pages/avizier" not in (await unit.get("/documents")).text
        assert (await unit.get("/pages/avizier")).status_code == 403
