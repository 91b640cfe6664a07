"""hub.mail against a real SMTP server on 127.0.0.1 (hub.testing.smtp.SmtpSink)."""

from __future__ import annotations

import hashlib
from email.message import EmailMessage

import pytest

from hub.errors import PermanentError, TransientError
from hub.mail import SmtpSettings, send_message
from hub.testing.smtp import SmtpSink


def _message() -> EmailMessage:
    msg = EmailMessage()
    msg["To"] = "petent@example.ro"
    msg["Subject"] = "Număr de înregistrare TM-2026-000001"
    msg.set_content("Cererea dumneavoastră a fost înregistrată.")
    msg.add_attachment(
        b"%PDF-1.7 recipisa", maintype="application", subtype="pdf", filename="recipisă.pdf"
    )
    return msg


async def test_a_message_arrives_with_from_diacritics_and_attachment_intact() -> None:
    async with SmtpSink() as smtp:
        await send_message(SmtpSettings(port=smtp.port), _message())
        (got,) = await smtp.wait_for(1)
    assert smtp.received[0].rcpt_tos == ("petent@example.ro",)
    assert "registratura@primariatm.ro" in got["From"]
    assert got["Subject"] == "Număr de înregistrare TM-2026-000001"
    body = got.get_body(preferencelist=("plain",))
    assert body is not None and "înregistrată" in body.get_content()
    (attachment,) = list(got.iter_attachments())
    assert attachment.get_filename() == "recipisă.pdf"
    payload = attachment.get_content()
    assert hashlib.sha256(payload).hexdigest() == hashlib.sha256(b"%PDF-1.7 recipisa").hexdigest()


@pytest.mark.parametrize(("code", "error"), [(451, TransientError), (554, PermanentError)])
async def test_refusals_map_onto_the_error_tree(code: int, error: type[Exception]) -> None:
    async with SmtpSink() as smtp:
        smtp.refuse_next(code)
        with pytest.raises(error, match=str(code)):
            await send_message(SmtpSettings(port=smtp.port), _message())
        assert smtp.received == []


async def test_an_unreachable_server_is_transient() -> None:
    sink = await SmtpSink().start()
    port = sink.port
    await sink.stop()
    with pytest.raises(TransientError, match="unreachable"):
        await send_message(SmtpSettings(port=port, timeout_seconds=2), _message())
