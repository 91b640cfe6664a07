"""End to end: the core's ``email`` connector delivering items to a unit through a real SMTP
server on 127.0.0.1, attachments byte for byte."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fiscal_helpers import FAST_RETRY, own_plugins, settled
from hub_fiscal.followup import FollowupSource

from hub.items import ItemStore
from hub.runtime import Hub
from hub.testing.factories import make_document_in
from hub.testing.hubrun import dispatching
from hub.testing.smtp import SmtpSink
from hub.units import load_units

RULES = {
    "rule": [
        {
            "name": "housing",
            "kinds": ["corespondenta"],
            "department": "SPFL",
            "destinations": [{"connector": "email", "target": "SPFL"}],
        },
        {
            "name": "technical",
            "kinds": ["petitie"],
            "department": "DT",
            "destinations": [{"connector": "email", "target": "DT"}],
        },
    ],
    "fallback": {"destinations": [{"connector": "noop"}]},
}


@pytest.fixture
def email_hub(make_hub: Callable[..., Hub], smtp: SmtpSink, units_file: Path) -> Callable[..., Hub]:
    def build(**section: Any) -> Hub:
        return make_hub(
            rules=RULES,
            overrides={
                "email": {"retry": FAST_RETRY} | section,
                "smtp": {"host": "127.0.0.1", "port": smtp.port},
                "units_file": units_file,
                "public_url": "https://registratura.primariatm.test",
            },
            **own_plugins(),
        )

    return build


def _file(name: str, content_type: str, content: bytes) -> dict[str, str]:
    return {
        "filename": name,
        "content_type": content_type,
        "content_base64": base64.b64encode(content).decode(),
    }


async def test_item_arrives_with_its_attachments_intact(
    email_hub: Callable[..., Hub], smtp: SmtpSink
) -> None:
    files = {
        "adresă.pdf": ("application/pdf", b"%PDF-1.7\n" + os.urandom(4096)),
        "anexa.png": ("image/png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8),
        "notă.txt": ("text/plain", "Notă cu diacritice: ș ț ă â î\n".encode()),
    }
    hub = email_hub()
    async with dispatching(hub):
        result = await hub.intake.submit(
            hub.intake.prepare(
                make_document_in(
                    kind="corespondenta",
                    subject="Solicitare repartizare locuință",
                    attachments=[_file(n, t, c) for n, (t, c) in files.items()],
                )
            )
        )
        rows = await settled(hub, result.document_id)
    delivery = rows["email"]
    assert delivery["state"] == "delivered", delivery["last_error"]
    (mail,) = smtp.received
    msg = mail.message
    assert mail.rcpt_tos == ("spfl@primariatm.test",)
    assert msg["Message-ID"] == f"<{delivery['idempotency_key']}@registry-hub>"
    assert msg["X-Hub-Item"] == str(delivery["id"])
    assert str(msg["Subject"]).startswith("Document repartizat nr.")
    text = msg.get_body(preferencelist=("plain",))
    assert text is not None
    body = text.get_content()
    assert "Serviciul Public de Fond Locativ" in body and "art. 6¹ din OG nr. 27/2002" in body
    assert f"https://registratura.primariatm.test/api/v1/items/{delivery['id']}/ack" in body
    received = {
        part.get_filename(): (part.get_content_type(), part.get_payload(decode=True))
        for part in msg.iter_attachments()
    }
    assert sorted(received) == sorted(files)
    doc = await hub.documents.get(result.document_id)
    assert doc is not None
    stored = {a.filename: a.sha256 for a in doc.attachments}
    for name, (ctype, content) in files.items():
        got_type, got = received[name]
        assert got_type == ctype
        assert hashlib.sha256(got).hexdigest() == hashlib.sha256(content).hexdigest()
        assert hashlib.sha256(got).hexdigest() == stored[name]
    assert delivery["receipt"]["data"] == {"attachments": 3, "unit": "SPFL"}
    assert "spfl@" not in str(delivery["receipt"])


async def test_smtp_refusals_retry_then_dead_letter(
    email_hub: Callable[..., Hub], smtp: SmtpSink
) -> None:
    hub = email_hub()
    smtp.refuse_next(451)
    async with dispatching(hub):
        first = await hub.intake.submit(hub.intake.prepare(make_document_in(kind="corespondenta")))
        rows = await settled(hub, first.document_id)
        assert rows["email"]["state"] == "delivered" and rows["email"]["attempts"] == 2
        smtp.refuse_next(554)
        second = await hub.intake.submit(hub.intake.prepare(make_document_in(kind="corespondenta")))
        dead = (await settled(hub, second.document_id))["email"]
    assert dead["state"] == "dead" and "554" in dead["last_error"]
    assert len(smtp.received) == 1


async def test_unit_without_address_is_a_clear_dead_letter(
    email_hub: Callable[..., Hub], smtp: SmtpSink
) -> None:
    hub = email_hub()
    async with dispatching(hub):
        result = await hub.intake.submit(hub.intake.prepare(make_document_in(kind="petitie")))
        row = (await settled(hub, result.document_id))["email"]
    assert row["state"] == "dead"
    assert "no e-mail address for unit 'DT'" in row["last_error"]
    assert "HUB_EMAIL__RECIPIENTS__DT" in row["last_error"]
    assert smtp.received == []
    # DT is reachable (by its webhook): the directory itself is sound, only the rule is wrong.
    checks = {c.name: c for c in await hub.connectors["email"].health()}
    assert checks["unit addresses"].ok and checks["smtp"].ok


async def test_digest_unit_gets_one_email_a_day(
    email_hub: Callable[..., Hub], smtp: SmtpSink, units_file: Path
) -> None:
    text = units_file.read_text(encoding="utf-8")
    units_file.write_text(
        text.replace(
            'email = "spfl@primariatm.test"', 'email = "spfl@primariatm.test"\ndigest = true'
        ),
        encoding="utf-8",
    )
    tz = ZoneInfo("Europe/Bucharest")
    morning, afternoon = datetime(2026, 12, 3, 10, tzinfo=tz), datetime(2026, 12, 3, 16, tzinfo=tz)
    pdf = b"%PDF-1.4 digest\n" + os.urandom(512)
    hub = email_hub()
    async with dispatching(hub):
        ids = []
        for n in range(2):
            result = await hub.intake.submit(
                hub.intake.prepare(
                    make_document_in(
                        kind="corespondenta",
                        attachments=[_file(f"act-{n}.pdf", "application/pdf", pdf)],
                    )
                )
            )
            rows = await settled(hub, result.document_id)
            assert rows["email"]["receipt"]["status"] == "queued_for_digest"
            ids.append(result.document_id)
        assert smtp.received == []
        store = ItemStore(hub.ledger, load_units(units_file))
        queued = await hub.runner.read(store.list_items, unit="SPFL")
        assert [i.status for i in queued] == ["queued", "queued"]
        source = hub.sources["units-followup"]
        assert isinstance(source, FollowupSource)
        assert await source.send_digests(now=morning) == {}  # before digest_hour
        sent = await source.send_digests(now=afternoon)
        assert sent == {"SPFL": "2026-12-03"}
        (mail,) = await smtp.wait_for(1)
        assert mail["To"] == "spfl@primariatm.test"
        assert "2 document(e) repartizate în 03.12.2026" in str(mail["Subject"])
        parts = list(mail.iter_attachments())
        assert len(parts) == 2
        for part in parts:
            assert (
                hashlib.sha256(part.get_payload(decode=True)).hexdigest()
                == hashlib.sha256(pdf).hexdigest()
            )
        delivered = await hub.runner.read(store.list_items, unit="SPFL")
        assert [i.status for i in delivered] == ["delivered", "delivered"]
        # Once a day: a later item waits for tomorrow's digest.
        late = await hub.intake.submit(hub.intake.prepare(make_document_in(kind="corespondenta")))
        await settled(hub, late.document_id)
        assert await source.send_digests(sent, now=afternoon) == sent
        assert len(smtp.received) == 1
        tomorrow = datetime(2026, 12, 4, 15, 30, tzinfo=tz)
        assert await source.send_digests(sent, now=tomorrow) == {"SPFL": "2026-12-04"}
        assert len(await smtp.wait_for(2)) == 2
