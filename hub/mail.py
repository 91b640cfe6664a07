"""Outgoing e-mail: one SMTP client for every part of the hub that writes to people.

Receipts to petitioners, items to departments without a webhook, digests and the monthly report
all send through :func:`send_message` with the ``HUB_SMTP__*`` settings. The message is built by
the caller (``email.message.EmailMessage``, Romanian text, UTF-8); this module only connects,
authenticates and sends, and maps failures onto the hub's error tree so a connector can retry.
Addresses and subjects are personal data: nothing here logs them.
"""

from __future__ import annotations

import ssl
from email.message import EmailMessage
from typing import Literal

import aiosmtplib
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from hub.errors import PermanentError, TransientError

__all__ = ["SmtpSettings", "send_message"]


class SmtpSettings(BaseModel):
    """``HUB_SMTP__*``: the institution's outgoing mail server."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(default="127.0.0.1", description="SMTP server host")
    port: int = Field(default=25, ge=0, le=65535, description="SMTP server port")
    security: Literal["none", "starttls", "tls"] = Field(
        default="none", description="none (loopback only), starttls (587) or tls (465)"
    )
    username: str | None = Field(default=None, description="SMTP login, if the server wants one")
    password: SecretStr | None = Field(default=None, description="SMTP password")
    from_address: str = Field(
        default="registratura@primariatm.ro", description="The From: of every message the hub sends"
    )
    from_name: str = Field(
        default="Registratura Primăriei Municipiului Timișoara", description="Display name"
    )
    timeout_seconds: float = Field(default=30.0, gt=0, description="Per-operation timeout")
    ca_file: str | None = Field(default=None, description="CA bundle for TLS, if not the system's")


async def send_message(settings: SmtpSettings, message: EmailMessage) -> str:
    """Send ``message`` (its From: is set here when missing); return the server's reply text.

    Raises :class:`TransientError` when the server is unreachable or answers 4xx, and
    :class:`PermanentError` when it refuses the message or every recipient (5xx).
    """
    if "From" not in message:
        message["From"] = f"{settings.from_name} <{settings.from_address}>"
    tls_context = None
    if settings.security != "none":
        tls_context = ssl.create_default_context(cafile=settings.ca_file)
    try:
        _, reply = await aiosmtplib.send(
            message,
            hostname=settings.host,
            port=settings.port,
            username=settings.username,
            password=settings.password.get_secret_value() if settings.password else None,
            use_tls=settings.security == "tls",
            start_tls=settings.security == "starttls",
            tls_context=tls_context,
            timeout=settings.timeout_seconds,
        )
    # ``from None``: aiosmtplib's exceptions carry the recipients' addresses, and a chained
    # cause would put them in any traceback that gets logged.
    except aiosmtplib.SMTPRecipientsRefused:
        raise PermanentError("the SMTP server refused every recipient") from None
    except aiosmtplib.SMTPResponseException as exc:
        if 400 <= exc.code < 500:
            raise TransientError(f"the SMTP server answered {exc.code}") from None
        raise PermanentError(f"the SMTP server answered {exc.code}") from None
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise TransientError(f"SMTP server unreachable ({type(exc).__name__})") from None
    return reply
