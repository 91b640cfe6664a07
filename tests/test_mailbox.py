"""E-mail intake against a real Dovecot on 127.0.0.1 over TLS (:mod:`tests.imap`): a message
becomes a registered document with its attachments (checksums compared), its sender gets the
receipt at a real SMTP server, and robots, broken and oversized mail are set aside, never lost."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from hub.builtin.mailbox import MailboxSource, is_auto_reply, parse_message, sniff_media_type
from hub.runtime import Hub
from hub.testing.smtp import SmtpSink
from tests.fixtures import MakeHub
from tests.imap import DovecotServer, dovecot_session
from tests.servers import running_workers, until
from tests.test_receipts import RULES, RegistrarPlugin

SENDER_NAME = "Andrei Mureșan-Test"
SENDER = "andrei.muresan-test@example.test"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n" + uuid.uuid4().bytes
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64 + uuid.uuid4().bytes


def petition_mail(**headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"{SENDER_NAME} <{SENDER}>"
    msg["To"] = "registratura@primariatm.ro"
    msg["Subject"] = "Sesizare: groapă în carosabil pe strada Mărășești"
    msg["Message-ID"] = make_msgid(domain="example.test")
    msg["Date"] = "Mon, 16 Nov 2026 10:15:00 +0200"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("Bună ziua,\nvă semnalez o groapă periculoasă în fața nr. 12.\nMulțumesc!")
    msg.add_attachment(PDF, maintype="application", subtype="octet-stream", filename="sesizare.pdf")
    msg.add_attachment(PNG, maintype="image", subtype="png", filename="fotografie.png")
    return msg


def mailbox_settings(server: DovecotServer, account: tuple[str, str], **extra: Any) -> dict:
    return {
        "enabled": True,
        "interval_seconds": 0.2,
        "host": "127.0.0.1",
        "port": server.port,
        "security": "tls",
        "ca_file": str(server.ca_file),
        "username": account[0],
        "password": account[1],
        "kind": "petitie",
        **extra,
    }


def append(server: DovecotServer, account: tuple[str, str], *messages: bytes) -> None:
    client: Any = server.client(*account)
    try:
        for raw in messages:
            client.append("INBOX", raw)
    finally:
        client.logout()


def folder(server: DovecotServer, account: tuple[str, str], name: str) -> list[tuple[Any, ...]]:
    """(flags, raw) of every message in ``name``."""
    client: Any = server.client(*account)
    try:
        if not client.folder_exists(name):
            return []
        client.select_folder(name, readonly=True)
        uids = client.search(["ALL"])
        data = client.fetch(uids, ["FLAGS", "BODY.PEEK[]"]) if uids else {}
        return [(data[u][b"FLAGS"], data[u][b"BODY[]"]) for u in sorted(data)]
    finally:
        client.logout()


def mail_hub(make_hub: MakeHub, server: DovecotServer, account: Any, **extra: Any) -> Hub:
    smtp_port = extra.pop("smtp_port", 25)
    return make_hub(
        rules=RULES,
        plugins=(RegistrarPlugin(),),
        overrides={
            "mailbox": mailbox_settings(server, account, **extra),
            "smtp": {"host": "127.0.0.1", "port": smtp_port},
        },
    )


async def poll(hub: Hub) -> None:
    await hub.source_runner.poll_once("mailbox", hub.sources["mailbox"])


async def mailbox_documents(hub: Hub) -> list[Any]:
    return await hub.runner.read(lambda: _mail_docs(hub))


def _mail_docs(hub: Hub) -> list[Any]:
    from sqlalchemy import select

    from hub.db.schema import documents

    with hub.ledger.reader.connect() as conn:
        ids = [
            r[0]
            for r in conn.execute(select(documents.c.id).where(documents.c.source == "mailbox"))
        ]
    return [hub.ledger.get_document(i) for i in ids]


@pytest.fixture(scope="session")
def dovecot_server(worker_id: str) -> Iterator[DovecotServer]:
    yield from dovecot_session(worker_id)


@pytest.fixture
def imap_account(dovecot_server: DovecotServer) -> tuple[str, str]:
    return dovecot_server.add_user()


# --- end to end ------------------------------------------------------------------------------


async def test_email_becomes_registered_document_and_sender_gets_the_receipt(
    make_hub: MakeHub, dovecot_server: DovecotServer, imap_account: tuple[str, str]
) -> None:
    mail = petition_mail()
    append(dovecot_server, imap_account, mail.as_bytes())
    async with SmtpSink() as smtp:
        hub = mail_hub(make_hub, dovecot_server, imap_account, smtp_port=smtp.port)
        with capture_logs() as logs:
            async with running_workers(hub):
                [receipt] = await smtp.wait_for(1, timeout=30)

                async def moved() -> bool:
                    return len(folder(dovecot_server, imap_account, "Procesate")) == 1

                await until(moved, timeout=30, what="message moved to Procesate")
    assert any(entry["event"] == "hub.mailbox.polled" for entry in logs)
    for personal in (SENDER, SENDER_NAME, "Mărășești", imap_account[1]):
        assert personal not in str(logs)
    [doc] = await mailbox_documents(hub)
    assert doc.channel == "email"
    assert doc.external_id == mail["Message-ID"].strip("<>")
    assert doc.subject == "Sesizare: groapă în carosabil pe strada Mărășești"
    assert "groapă periculoasă" in doc.body
    assert doc.sender is not None
    assert (doc.sender.name, doc.sender.email) == (SENDER_NAME, SENDER)
    assert doc.registration_number and doc.due_date
    assert [(a.filename, a.content_type) for a in doc.attachments] == [
        ("sesizare.pdf", "application/pdf"),  # declared octet-stream: sniffed
        ("fotografie.png", "image/png"),
    ]
    for ref, original in zip(doc.attachments, (PDF, PNG), strict=True):
        assert ref.sha256 == hashlib.sha256(original).hexdigest()
        assert await hub.documents.attachment_content(ref.sha256) == original
    # The receipt answers the message, to its sender, marked as automatic.
    assert smtp.received[0].rcpt_tos == (SENDER,)
    assert receipt["In-Reply-To"] == mail["Message-ID"]
    assert doc.registration_number in receipt["Subject"]
    assert folder(dovecot_server, imap_account, "INBOX") == []


async def test_the_same_message_twice_is_one_document(
    make_hub: MakeHub, dovecot_server: DovecotServer, imap_account: tuple[str, str]
) -> None:
    raw = petition_mail().as_bytes()
    append(dovecot_server, imap_account, raw, raw)
    hub = mail_hub(make_hub, dovecot_server, imap_account)
    await poll(hub)
    assert len(await mailbox_documents(hub)) == 1
    assert len(folder(dovecot_server, imap_account, "INBOX")) == 2  # not yet: next poll
    await poll(hub)
    assert len(folder(dovecot_server, imap_account, "Procesate")) == 2
    assert folder(dovecot_server, imap_account, "INBOX") == []
    assert len(await mailbox_documents(hub)) == 1


async def test_auto_replies_and_loops_make_no_document_and_no_receipt(
    make_hub: MakeHub, dovecot_server: DovecotServer, imap_account: tuple[str, str]
) -> None:
    robots = [
        petition_mail(Auto_Submitted="auto-replied"),
        petition_mail(Precedence="bulk"),
        petition_mail(X_Autoreply="yes"),
    ]
    loop = petition_mail()
    loop.replace_header("From", "Registratura <registratura@primariatm.ro>")
    append(dovecot_server, imap_account, *(m.as_bytes() for m in [*robots, loop]))
    async with SmtpSink() as smtp:
        hub = mail_hub(make_hub, dovecot_server, imap_account, smtp_port=smtp.port)
        await poll(hub)
        await poll(hub)
        assert smtp.received == []
    assert await mailbox_documents(hub) == []
    assert len(folder(dovecot_server, imap_account, "Raspunsuri-automate")) == 4
    assert folder(dovecot_server, imap_account, "INBOX") == []


async def test_broken_oversized_and_refused_mail_goes_to_the_error_folder_flagged(
    make_hub: MakeHub, dovecot_server: DovecotServer, imap_account: tuple[str, str]
) -> None:
    broken = (
        b"From: x@example.test\r\nSubject: rupt\r\nMessage-ID: <broken-"
        + uuid.uuid4().hex.encode()
        + b"@example.test>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain\r\n\r\ntext\r\n"  # never closed
    )
    big = petition_mail()
    big.add_attachment(b"%PDF-1.4\n" + b"x" * 5000, maintype="application", subtype="pdf",
                       filename="mare.pdf")  # fmt: skip
    refused = petition_mail()
    refused.add_attachment(
        b"MZ\x90\x00" + b"\x00" * 100, maintype="application", subtype="x-msdownload",
        filename="program.exe",
    )  # fmt: skip
    append(dovecot_server, imap_account, broken, big.as_bytes(), refused.as_bytes())
    hub = mail_hub(make_hub, dovecot_server, imap_account, max_attachment_bytes=2000)
    await poll(hub)  # the broken and the big one are set aside; the refused one tried
    await poll(hub)  # intake refused it: set aside too
    errors = folder(dovecot_server, imap_account, "Erori")
    flags = sorted(next(f.decode() for f in fl if f.startswith(b"$Hub")) for fl, _ in errors)
    assert flags == ["$HubMalformed", "$HubRejected", "$HubTooLarge"]
    assert folder(dovecot_server, imap_account, "INBOX") == []
    assert await mailbox_documents(hub) == []
    # Nothing lost: the error folder holds the messages byte for byte.
    assert broken in [raw for _, raw in errors]


async def test_unknown_charset_is_registered_with_a_warning_and_the_original(
    make_hub: MakeHub, dovecot_server: DovecotServer, imap_account: tuple[str, str]
) -> None:
    mid = f"<odd-{uuid.uuid4().hex}@example.test>"
    raw = (
        (
            f"From: Ana <ana@example.test>\r\nSubject: =?x-klingon?Q?ciudat?=\r\n"
            f"Message-ID: {mid}\r\nMIME-Version: 1.0\r\n"
            'Content-Type: text/plain; charset="x-klingon"\r\n'
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
        ).encode()
        + "Cerere de audiență".encode()
        + b"\xff\r\n"
    )
    append(dovecot_server, imap_account, raw)
    hub = mail_hub(make_hub, dovecot_server, imap_account)
    await poll(hub)
    await poll(hub)
    [doc] = await mailbox_documents(hub)
    assert "Cerere de audiență" in doc.body
    assert any("charset" in w for w in doc.metadata["mail"]["warnings"])
    [original] = doc.attachments
    assert original.content_type == "message/rfc822"
    assert await hub.documents.attachment_content(original.sha256) == raw
    assert len(folder(dovecot_server, imap_account, "Procesate")) == 1


# --- units -----------------------------------------------------------------------------------


def test_auto_reply_detection() -> None:
    import email

    def parsed(text: str) -> Any:
        return email.message_from_string(text)

    own = frozenset({"registratura@primariatm.ro"})
    assert is_auto_reply(parsed("From: a@b.ro\nAuto-Submitted: auto-generated\n\nx"), own)
    assert is_auto_reply(parsed("From: a@b.ro\nAuto-Submitted: no\n\nx"), own) is None
    assert is_auto_reply(parsed("From: MAILER-DAEMON@b.ro\n\nx"), own) == "delivery report"
    assert is_auto_reply(parsed("From: a@b.ro\nPrecedence: list\n\nx"), own) == "Precedence"
    assert is_auto_reply(parsed("From: a@b.ro\n\nx"), own) is None


def test_media_types_are_sniffed_from_content(tmp_path: Path) -> None:
    import io
    import zipfile

    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as zf:
        zf.writestr("word/document.xml", "<w/>")
    assert sniff_media_type(PDF, "application/octet-stream", "a.bin") == "application/pdf"
    assert sniff_media_type(b"\xff\xd8\xff\xe0", "image/png", "a.png") == "image/jpeg"
    assert sniff_media_type(docx.getvalue(), "application/octet-stream", "c.docx").endswith(
        "wordprocessingml.document"
    )
    assert sniff_media_type(b"hello", "application/octet-stream", "n.txt") == "text/plain"


def test_message_without_message_id_gets_a_stable_id() -> None:
    import email

    from hub.builtin.mailbox import MailboxSettings, message_id

    header = b"From: a@example.test\r\nSubject: fara id\r\nDate: Mon, 16 Nov 2026 10:00 +0200\r\n"
    msg = email.message_from_bytes(header)
    first, second = message_id(msg, header), message_id(msg, header)
    assert first == second and first.startswith("hdr-sha256:")
    parsed = parse_message(header + b"\r\ntext\r\n", MailboxSettings(), first)
    assert parsed.document.external_id == first
    assert MailboxSource.name == "mailbox"
