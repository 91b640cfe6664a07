"""The ``email`` connector: a routed document, e-mailed to a unit with its attachments.

For units without a webhook endpoint (many subordinate institutions and companies). The routing
target is the unit's code; its address comes from the unit directory (``HUB_UNITS_FILE``, field
``email``) or from ``HUB_EMAIL__RECIPIENTS__<CODE>``, which wins::

    [[rule]]
    kinds = ["corespondenta"]
    destinations = [{ connector = "email", target = "SPFL" }]

The message is Romanian, UTF-8, with every attachment of the document attached byte for byte,
and the link the unit uses to acknowledge or return the item. Its ``Message-ID`` is derived from
the delivery's idempotency key, the same on every attempt, so a mail system (or a person) can
tell a retry from a new item.

Two ways to hand the message over:

* ``submission = "smtp"`` (default): the hub's SMTP server (``HUB_SMTP__*``, :mod:`hub.mail`);
  4xx answers and network errors are retried, 5xx answers are dead letters;
* ``submission = "http"``: a mail gateway's HTTP submission API (``http_url``; the message is
  POSTed as ``message/rfc822`` with ``Idempotency-Key``), answers mapped like every HTTP
  connector's (:func:`hub.errors.classify_http_status`).

A unit with ``digest = true`` in the units file gets no message per item: its items are
queued (receipt status ``queued_for_digest``) and e-mailed once a day, all together, by the
``units-followup`` source of the ``hub-fiscal`` plugin (see docs/units.md).

Neither the address nor the subject is logged: both are personal data of sorts (the subject is
the petitioner's text).
"""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.utils import format_datetime, formatdate
from typing import Any, Literal

import httpx
from pydantic import Field, SecretStr, field_validator, model_validator

from hub.connectors import Connector, ConnectorSettings, HealthCheck
from hub.errors import AmbiguousError, PermanentError, TransientError, classify_http_status
from hub.hookspecs import hookimpl
from hub.http import make_client
from hub.mail import SmtpSettings, send_message
from hub.models import Job, Receipt
from hub.units import UnitDirectory, load_units

__all__ = ["QUEUED_FOR_DIGEST", "EmailConnector", "EmailSettings", "build_message"]

#: Receipt status of an item kept for its unit's daily digest (``digest = true`` in the units
#: file): delivered to the hub's digest queue, not yet e-mailed.
QUEUED_FOR_DIGEST = "queued_for_digest"

_ADDRESS = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class EmailSettings(ConnectorSettings):
    concurrency: int = Field(default=4, ge=1, le=64, description="Messages in flight at once")
    submission: Literal["smtp", "http"] = Field(
        default="smtp",
        description="smtp: the hub's SMTP server (HUB_SMTP__*); http: a mail "
        "gateway's HTTP submission API (http_url)",
    )
    http_url: str | None = Field(
        default=None, pattern=r"^https?://", description="HTTP submission endpoint (message/rfc822)"
    )
    http_token: SecretStr | None = Field(
        default=None, description="Bearer token of the HTTP submission endpoint"
    )
    recipients: dict[str, str] = Field(
        default_factory=dict,
        description="Unit code → address, over the units file (HUB_EMAIL__RECIPIENTS__<CODE>)",
    )
    max_attachment_bytes: int = Field(
        default=20 * 1024 * 1024, ge=0, description="Largest total attachment size per message"
    )

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, v: dict[str, str]) -> dict[str, str]:
        import re

        bad = sorted(code for code, addr in v.items() if not re.fullmatch(_ADDRESS, addr))
        if bad:
            raise ValueError(f"not an e-mail address for unit(s) {bad}")
        return {code.upper(): addr for code, addr in v.items()}

    @model_validator(mode="after")
    def _http_needs_url(self) -> EmailSettings:
        if self.submission == "http" and not self.http_url:
            raise ValueError("submission = 'http' needs http_url")
        return self


def _text(job: Job, unit_name: str, public_url: str) -> str:
    d = job.document
    number = d.registration_number or "(fără număr de înregistrare)"
    registered = d.registered_at.strftime("%d.%m.%Y %H:%M") if d.registered_at else "-"
    lines = [
        f"Către: {unit_name}",
        "",
        "Registratura Primăriei Municipiului Timișoara vă transmite spre competentă soluționare "
        "documentul de mai jos.",
        "",
        f"Număr de înregistrare: {number}",
        f"Data înregistrării: {registered}",
        f"Tip document: {d.kind}",
        f"Obiect: {d.subject or '-'}",
        f"Termen de soluționare: {d.due_date.strftime('%d.%m.%Y') if d.due_date else '-'}",
        f"Anexe: {len(d.attachments)}",
        "",
        "Vă rugăm să confirmați primirea. Dacă documentul nu este de competența "
        "dumneavoastră, returnați-l registraturii cu motivarea, pentru redirecționare în termenul "
        "de 5 zile prevăzut de art. 6¹ din OG nr. 27/2002:",
        f"  confirmare:  POST {public_url}/api/v1/items/{job.delivery_id}/ack",
        f"  returnare:   POST {public_url}/api/v1/items/{job.delivery_id}/return",
        "",
        "Cu stimă,",
        "Registratura Primăriei Municipiului Timișoara",
    ]
    if d.body:
        lines[8:8] = ["", "Conținut:", d.body]
    return "\n".join(lines) + "\n"


def build_message(
    job: Job,
    *,
    to: str,
    unit_name: str,
    files: list[tuple[str, str, bytes]],
    public_url: str,
    sender: SmtpSettings,
) -> EmailMessage:
    """The message for one item: text, then each attachment as it was received."""
    d = job.document
    msg = EmailMessage()
    msg["From"] = f"{sender.from_name} <{sender.from_address}>"
    msg["To"] = to
    label = d.registration_number or d.id
    msg["Subject"] = f"Document repartizat nr. {label}: {d.subject or d.kind}"[:250]
    msg["Message-ID"] = f"<{job.idempotency_key}@registry-hub>"
    msg["Date"] = format_datetime(d.registered_at) if d.registered_at else formatdate()
    msg["X-Hub-Document"] = d.id
    msg["X-Hub-Item"] = str(job.delivery_id)
    msg.set_content(_text(job, unit_name, public_url.rstrip("/")))
    for filename, content_type, content in files:
        maintype, _, subtype = content_type.partition("/")
        msg.add_attachment(
            content,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=filename,
        )
    return msg


class EmailConnector(Connector):
    name = "email"
    settings_model = EmailSettings
    description = "E-mail to a unit (SMTP or a mail gateway's HTTP API), attachments included"
    settings: EmailSettings

    def __init__(
        self, settings: ConnectorSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        super().__init__(settings, transport=transport)
        self._client: httpx.AsyncClient | None = None
        self._units: UnitDirectory | None = None

    async def start(self) -> None:
        if self.hub_settings is not None and self._units is None:
            self._units = load_units(self.hub_settings.units_file)
        if self.settings.submission == "http" and self._client is None:
            self._client = make_client(
                timeout=self.settings.timeout_seconds,
                transport=self.transport,
                kind=self.settings.http_transport,
                max_connections=self.settings.concurrency,
                headers={"user-agent": "registry-hub"},
            )

    @property
    def smtp(self) -> SmtpSettings:
        return self.hub_settings.smtp if self.hub_settings is not None else SmtpSettings()

    def recipient(self, code: str) -> tuple[str, str, bool]:
        """(address, unit name, digest) of a unit, or a PermanentError naming the setting."""
        unit = self._units.get(code) if self._units is not None else None
        address = self.settings.recipients.get(code.upper()) or (unit.email if unit else None)
        if not address:
            raise PermanentError(
                f"no e-mail address for unit {code!r} (set email in the units file or "
                f"HUB_EMAIL__RECIPIENTS__{code.upper()})"
            )
        return address, unit.name if unit else code, bool(unit and unit.digest)

    async def _files(self, job: Job) -> list[tuple[str, str, bytes]]:
        refs = job.document.attachments
        total = sum(a.size for a in refs)
        if total > self.settings.max_attachment_bytes:
            raise PermanentError(
                f"attachments of {total} bytes exceed max_attachment_bytes "
                f"({self.settings.max_attachment_bytes})"
            )
        files = []
        for a in refs:
            content = await self.documents.attachment_content(a.sha256) if self.documents else None
            if content is None or hashlib.sha256(content).hexdigest() != a.sha256:
                raise PermanentError(f"attachment {a.sha256[:12]} is missing from the ledger")
            files.append((a.filename, a.content_type, content))
        return files

    async def deliver(self, job: Job) -> Receipt:
        if not job.target:
            raise PermanentError("an email destination needs a target (the unit's code)")
        if self._units is None:
            await self.start()
        address, unit_name, digest = self.recipient(job.target)
        if digest:
            # The unit takes one e-mail a day: the follow-up sends the digest (hub_fiscal).
            return Receipt(
                remote_id=f"digest:{job.idempotency_key}",
                status=QUEUED_FOR_DIGEST,
                data={"attachments": len(job.document.attachments), "unit": job.target.upper()},
            )
        public_url = self.hub_settings.public_url if self.hub_settings else "http://127.0.0.1:8080"
        message = build_message(
            job,
            to=address,
            unit_name=unit_name,
            files=await self._files(job),
            public_url=public_url,
            sender=self.smtp,
        )
        if self.settings.submission == "http":
            status = await self._post(job, message)
        else:
            await send_message(self.smtp, message)
            status = "sent"
        return Receipt(
            remote_id=message["Message-ID"],
            status=status,
            data={"attachments": len(job.document.attachments), "unit": job.target.upper()},
        )

    async def _post(self, job: Job, message: EmailMessage) -> str:
        if self._client is None:
            await self.start()
        assert self._client is not None and self.settings.http_url is not None
        headers = {"content-type": "message/rfc822", "idempotency-key": job.idempotency_key}
        if self.settings.http_token is not None:
            headers["authorization"] = f"Bearer {self.settings.http_token.get_secret_value()}"
        try:
            resp = await self._client.post(
                self.settings.http_url, content=message.as_bytes(), headers=headers
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TransientError(
                f"cannot connect to the mail gateway ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            raise AmbiguousError(
                f"no answer from the mail gateway ({type(exc).__name__})"
            ) from None
        error = classify_http_status(
            resp.status_code,
            message=f"the mail gateway answered HTTP {resp.status_code}",
            retry_after=resp.headers.get("retry-after"),
        )
        if error is not None:
            raise error
        return str(resp.status_code)

    async def health(self) -> list[HealthCheck]:
        if self._units is None and self.hub_settings is not None:
            self._units = load_units(self.hub_settings.units_file)
        checks = []
        if self.settings.submission == "smtp":
            smtp = self.smtp
            checks.append(HealthCheck(name="smtp", ok=True, detail=f"{smtp.host}:{smtp.port}"))
        else:
            host = httpx.URL(self.settings.http_url or "").host
            checks.append(HealthCheck(name="gateway", ok=True, detail=host))
        if self._units is not None:
            missing = sorted(
                u.code
                for u in self._units.units
                if not u.webhook_target and not u.email and u.code not in self.settings.recipients
            )
            checks.append(
                HealthCheck(
                    name="unit addresses",
                    ok=not missing,
                    detail=f"units without webhook or e-mail: {missing}" if missing else "",
                )
            )
        return checks

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


@hookimpl
def hub_register_connectors(register: Any) -> None:
    register(EmailConnector)


@hookimpl
def hub_register_demo_simulators(register: Any) -> None:
    # The demo's mail server serves this connector and the core's ``receipt`` connector.
    from hub.demo.smtp import SmtpDemoSimulator

    register(SmtpDemoSimulator)
