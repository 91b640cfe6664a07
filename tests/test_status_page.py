"""The citizens' status page at ``/status``, served for real: the happy path, a wrong code and an
unknown number (the very same answer), the rate limit per client, and no personal data, no
script."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
from sqlalchemy import update

from hub.db.schema import documents
from hub.models import DocumentIn, Sender
from hub.receipts import format_code, issue_code
from hub.runtime import Hub
from tests.fixtures import MakeHub
from tests.servers import running_api

NAME = "Elena Vasilescu-Test"
EMAIL = "elena.vasilescu-test@example.test"


def units_file(tmp_path: Path) -> Path:
    path = tmp_path / "units.toml"
    path.write_text(
        '[[unit]]\ncode = "DUT"\nname = "Direcția Urbanism și Amenajarea Teritoriului"\n'
        "rank_one = true\n",
        encoding="utf-8",
    )
    return path


async def registered(hub: Hub, number: str, **values: object) -> tuple[str, str]:
    """A petition in the ledger, registered under ``number``, with an access code."""
    doc = DocumentIn(
        external_id=uuid.uuid4().hex,
        kind="petitie",
        subject="Cerere privind certificatul de urbanism",
        body="Subsemnata Elena Vasilescu-Test solicit…",
        sender=Sender(type="pf", name=NAME, email=EMAIL, phone="0722000111"),
    )
    result = await hub.intake.submit(hub.intake.prepare(doc))

    def register() -> None:
        with hub.ledger.writer.begin() as conn:
            conn.execute(
                update(documents)
                .where(documents.c.id == result.document_id)
                .values(
                    registration_number=number,
                    registered_at=datetime(2026, 3, 13, 9, 0, tzinfo=UTC),
                    department="DUT",
                    status="registered",
                    due_date=date(2026, 4, 14),
                    **values,
                )
            )

    await hub.runner.write(register)
    code = await hub.runner.write(issue_code, hub.ledger, result.document_id)
    return result.document_id, code


def strip_echo(html: str, number: str) -> str:
    """The page without the number it echoes into the form."""
    return html.replace(number, "")


async def lookup(client: httpx.AsyncClient, nr: str, cod: str) -> httpx.Response:
    return await client.post("/status", data={"nr": nr, "cod": cod})


async def test_happy_path_shows_state_department_term_and_no_personal_data(
    make_hub: MakeHub, tmp_path: Path
) -> None:
    hub = make_hub(overrides={"units_file": units_file(tmp_path)})
    doc_id, code = await registered(hub, "RG00101/2026")
    async with running_api(hub) as api:
        form = await api.client.get("/status", params={"nr": "RG00101/2026"})
        assert form.status_code == 200
        assert 'value="RG00101/2026"' in form.text
        assert "<script" not in form.text
        assert "script-src" not in form.headers["content-security-policy"]
        assert "default-src 'none'" in form.headers["content-security-policy"]
        r = await lookup(api.client, "RG00101/2026", format_code(code).lower())
        css = await api.client.get("/status/status.css")
        await hub.documents.record_release(
            doc_id,
            released_at=datetime(2026, 4, 2, 10, 0, tzinfo=UTC),
            mode="email",
            actor="test",
        )
        released = await lookup(api.client, "RG00101/2026", code)
    assert r.status_code == 200
    html = r.text
    assert "Documentul nr. RG00101/2026" in html
    assert "Înregistrat, în curs de soluționare" in html
    assert "Direcția Urbanism și Amenajarea Teritoriului" in html
    assert "14.04.2026" in html and "13.03.2026" in html
    assert "răspunsul nu a fost încă eliberat" in html
    for personal in (NAME, EMAIL, "0722000111", "Elena", "certificatul de urbanism"):
        assert personal not in html
    assert r.headers["cache-control"] == "no-store"
    assert css.status_code == 200 and "@media" in css.text
    assert css.headers["content-type"].startswith("text/css")
    assert 'name="viewport"' in html
    assert "Soluționat, răspunsul a fost eliberat" in released.text
    assert "02.04.2026" in released.text


async def test_wrong_code_and_unknown_number_get_the_same_answer(
    make_hub: MakeHub, tmp_path: Path
) -> None:
    hub = make_hub(overrides={"units_file": units_file(tmp_path)})
    _, code = await registered(hub, "RG00102/2026")
    other = "ACDEFGHJKM" if code != "ACDEFGHJKM" else "MKJHGFEDCA"
    async with running_api(hub) as api:
        wrong = await lookup(api.client, "RG00102/2026", other)
        unknown = await lookup(api.client, "RG99102/2026", code)
        empty = await lookup(api.client, "RG00102/2026", "")
        long = await lookup(api.client, "RG" + "9" * 500, "X" * 500)
    assert wrong.status_code == unknown.status_code == 200
    assert "Nu am găsit un document" in wrong.text
    assert strip_echo(wrong.text, "RG00102/2026") == strip_echo(unknown.text, "RG99102/2026")
    assert "Documentul nr." not in wrong.text
    assert empty.status_code == long.status_code == 200
    assert "Documentul nr." not in empty.text
    assert "Nu am găsit un document" in long.text


async def test_attempts_are_rate_limited_per_client(make_hub: MakeHub, tmp_path: Path) -> None:
    hub = make_hub(overrides={"units_file": units_file(tmp_path)})
    _, code = await registered(hub, "RG00103/2026")
    async with running_api(hub) as api:
        answers = [
            (await lookup(api.client, f"RG{n:05d}/2026", "ACDEFGHJKM")).status_code
            for n in range(10)
        ]
        blocked = await lookup(api.client, "RG00103/2026", code)  # even the right code
        form = await api.client.get("/status")  # the form itself stays available
    assert answers == [200] * 10
    assert blocked.status_code == 429
    assert "prea multe încercări" in blocked.text
    assert int(blocked.headers["retry-after"]) > 0
    assert "Documentul nr." not in blocked.text
    assert form.status_code == 200


def test_token_bucket_refills_over_the_window() -> None:
    from hub.api.routes.public_status import RateLimiter

    now = [0.0]
    limiter = RateLimiter(capacity=10, window_seconds=900, clock=lambda: now[0])
    assert all(limiter.take("10.0.0.1") == 0 for _ in range(10))
    wait = limiter.take("10.0.0.1")
    assert 89 < wait <= 90.5  # one token every 90 s
    assert limiter.take("10.0.0.2") == 0  # another client has its own bucket
    now[0] += 91
    assert limiter.take("10.0.0.1") == 0
    assert limiter.take("10.0.0.1") > 0
    small = RateLimiter(capacity=1, window_seconds=60, max_clients=2, clock=lambda: now[0])
    for ip in ("a", "b", "c"):
        small.take(ip)
    assert len(small._buckets) == 2


def test_template_has_no_inline_script_or_style() -> None:
    from hub.api.routes.public_status import TEMPLATES

    page = (TEMPLATES / "public" / "status.html").read_text(encoding="utf-8")
    assert not re.search(r"<script|style=|onclick|javascript:", page)
