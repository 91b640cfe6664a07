"""The ``mailbox`` source: what citizens e-mail to the registry becomes documents.

Every ``interval_seconds`` it reads the IMAP folder (``HUB_MAILBOX__FOLDER``, ``INBOX``) over TLS
with IMAPClient, on a worker thread. Each new message becomes a document of channel ``email``:
the sender from ``From:``, the subject, the text body (plain text preferred, HTML flattened),
the attachments with their media type sniffed from their content (a PDF declared as
``application/octet-stream`` is a PDF). The Message-ID is the ``external_id``, so a message
read twice is one document.

Nothing is lost, and nothing moves before it is safe:

* a message is moved to ``processed_folder`` only when the ledger holds its document — i.e. on
  the poll *after* the one that returned it (the poll's documents and cursor commit together);
* a message returned last time that the ledger still does not hold was refused by intake (an
  attachment type not accepted, say; the refusal is an audit event): it is flagged
  ``$HubRejected`` and moved to ``error_folder``;
* too large (``max_message_bytes``, ``max_attachment_bytes``) or structurally broken MIME:
  flagged ``$HubTooLarge`` / ``$HubMalformed`` and moved to ``error_folder``, never fetched
  whole or half-registered; someone reads them there;
* text in an unknown or wrong charset is decoded with replacement characters, the document says
  so in ``metadata.mail.warnings``, and the original message is attached (``message/rfc822``);
* auto-replies, bounces and mail loops (``Auto-Submitted``, ``Precedence: bulk|junk|list``,
  ``X-Autoreply``, ``X-Autorespond``, delivery reports, our own address as sender) become no
  document — so no receipt answers a robot — and go to ``autoreply_folder``.

Addresses and subjects are personal data: logs name message UIDs and reasons only.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import html
import re
import ssl
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser
from io import BytesIO
from typing import Any, ClassVar, Literal

import httpx
from pydantic import Field, SecretStr, ValidationError

from hub.connectors import HealthCheck
from hub.hookspecs import hookimpl
from hub.log import get_logger
from hub.models import AttachmentIn, Channel, DocumentIn, Sender
from hub.sources import PollResult, Source, SourceSettings

__all__ = ["MailboxSettings", "MailboxSource", "ParsedMail", "is_auto_reply", "parse_message"]

log = get_logger("hub.mailbox")

SOURCE_NAME = "mailbox"
BODY_LIMIT = 200_000
#: Parser defects after which the message's parts cannot be trusted.
FATAL_DEFECTS = (
    "StartBoundaryNotFoundDefect",
    "CloseBoundaryNotFoundDefect",
    "MultipartInvariantViolationDefect",
    "NoBoundaryInMultipartDefect",
    "MissingHeaderBodySeparatorDefect",
)


class MailboxSettings(SourceSettings):
    enabled: bool = Field(default=False, description="Poll the mailbox (off until configured)")
    host: str = Field(default="127.0.0.1", description="IMAP server")
    port: int = Field(default=993, ge=1, le=65535, description="IMAP port (993 for TLS)")
    security: Literal["tls", "starttls", "none"] = Field(
        default="tls", description="tls (993), starttls (143) or none (loopback only)"
    )
    ca_file: str | None = Field(default=None, description="CA bundle, if not the system's")
    username: str = Field(default="", description="IMAP login")
    password: SecretStr = Field(default=SecretStr(""), description="IMAP password")
    folder: str = Field(default="INBOX", description="Where new messages arrive")
    processed_folder: str = Field(default="Procesate", description="Registered messages")
    error_folder: str = Field(default="Erori", description="Messages that need a person")
    autoreply_folder: str = Field(
        default="Raspunsuri-automate", description="Auto-replies, bounces, loops"
    )
    batch_size: int = Field(default=50, ge=1, le=1000, description="Messages read per poll")
    max_message_bytes: int = Field(
        default=60 * 1024 * 1024, gt=0, description="Larger messages are not fetched"
    )
    max_attachment_bytes: int = Field(
        default=25 * 1024 * 1024, gt=0, description="Largest attachment registered"
    )
    own_addresses: list[str] = Field(
        default_factory=lambda: ["registratura@primariatm.ro"],
        description="Our addresses: mail from them is a loop",
    )
    kind: str | None = Field(default=None, description="Kind for every message; None: classify")
    timeout_seconds: float = Field(default=60.0, gt=0, description="IMAP socket timeout")


# --- parsing ---------------------------------------------------------------------------------


class MailRejected(Exception):
    """This message cannot become a document; ``flag`` marks it in the error folder."""

    def __init__(self, flag: str, reason: str) -> None:
        super().__init__(reason)
        self.flag = flag
        self.reason = reason


@dataclass
class ParsedMail:
    document: DocumentIn
    warnings: list[str] = field(default_factory=list)


def is_auto_reply(msg: Message, own: frozenset[str] = frozenset()) -> str | None:
    """Why this message is a robot's (RFC 3834 and the common vendor headers), or None."""
    auto = str(msg.get("Auto-Submitted", "no")).strip().lower()
    if auto and not auto.startswith("no"):
        return "Auto-Submitted"
    if str(msg.get("Precedence", "")).strip().lower() in {"bulk", "junk", "list", "auto_reply"}:
        return "Precedence"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply"):
        if msg.get(name) is not None:
            return name
    if msg.get("X-MS-Exchange-Inbox-Rules-Loop") is not None:
        return "X-MS-Exchange-Inbox-Rules-Loop"
    ctype = msg.get_content_type()
    if ctype == "multipart/report" or msg.get("X-Failed-Recipients"):
        return "delivery report"
    sender = _address(msg)
    if sender and sender[1].lower() in own:
        return "loop (our own address)"
    if sender and sender[1].lower().split("@")[0] in {"mailer-daemon", "postmaster"}:
        return "delivery report"
    return None


def _address(msg: Message) -> tuple[str, str] | None:
    try:
        pairs = getaddresses([str(msg.get("From", ""))])
    except Exception:
        return None
    for name, addr in pairs:
        if addr and "@" in addr:
            return name, addr
    return None


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in {"script", "style"}:
            self._skip += 1
        elif tag in {"br", "p", "div", "li", "tr"}:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style"} and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    parser = _Text()
    parser.feed(markup)
    text = html.unescape("".join(parser.parts))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _decode(part: Message, warnings: list[str]) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        return str(content)
    except (LookupError, UnicodeError, AssertionError):
        raw = part.get_payload(decode=True)
        data = raw if isinstance(raw, bytes) else b""
        warnings.append(f"text in an unknown or wrong charset ({part.get_content_charset()!s})")
        return data.decode("utf-8", errors="replace")


_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"GIF8", "image/gif"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/msword"),
)


def sniff_media_type(content: bytes, declared: str, filename: str) -> str:
    """The attachment's real media type, from its first bytes; the declared one otherwise."""
    for magic, ctype in _MAGIC:
        if content.startswith(magic):
            return ctype
    if content.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(BytesIO(content)) as zf:
                names = set(zf.namelist())
                if "mimetype" in names:
                    return zf.read("mimetype").decode("ascii", "replace").strip() or declared
                if "word/document.xml" in names:
                    return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        except zipfile.BadZipFile:
            return declared
        return "application/zip"
    head = content[:512].lstrip()
    if head.startswith(b"<?xml"):
        return "application/xml" if declared != "text/xml" else declared
    if declared in {"application/octet-stream", ""}:
        import mimetypes

        guessed, _ = mimetypes.guess_type(filename)
        return guessed or declared
    return declared


def message_id(msg: Message, header_bytes: bytes) -> str:
    """The ``external_id``: the Message-ID, or a digest of the header block when absent."""
    raw = str(msg.get("Message-ID", "") or "").strip().strip("<>").strip()
    if raw and len(raw) <= 190 and raw.isprintable():
        return raw
    return "hdr-sha256:" + hashlib.sha256(header_bytes).hexdigest()


def parse_message(raw: bytes, settings: MailboxSettings, external_id: str) -> ParsedMail:
    """One message → a document. Raises :class:`MailRejected` when it cannot be one."""
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception as exc:
        raise MailRejected("$HubMalformed", f"unparseable ({type(exc).__name__})") from None
    assert isinstance(msg, EmailMessage)
    defects = [type(d).__name__ for part in msg.walk() for d in part.defects]
    fatal = sorted({d for d in defects if d in FATAL_DEFECTS})
    if fatal:
        raise MailRejected("$HubMalformed", "malformed MIME: " + ", ".join(fatal))
    warnings: list[str] = []
    try:
        subject = str(msg.get("Subject", "") or "")
    except Exception:
        subject = ""
        warnings.append("subject could not be decoded")
    body_part = msg.get_body(preferencelist=("plain", "html"))
    body = ""
    if body_part is not None:
        text = _decode(body_part, warnings)
        body = html_to_text(text) if body_part.get_content_type() == "text/html" else text
    if len(body) > BODY_LIMIT:
        warnings.append(f"body truncated to {BODY_LIMIT} characters")
        body = body[:BODY_LIMIT]
    attachments: list[AttachmentIn] = []
    for i, part in enumerate(msg.iter_attachments(), start=1):
        payload = part.get_payload(decode=True)
        if isinstance(payload, list) or payload is None:
            payload = part.as_bytes() if part.get_content_type() == "message/rfc822" else b""
        content: bytes = payload if isinstance(payload, bytes) else b""
        if len(content) > settings.max_attachment_bytes:
            raise MailRejected(
                "$HubTooLarge",
                f"attachment {i} is larger than {settings.max_attachment_bytes} bytes",
            )
        try:
            filename = part.get_filename() or f"atasament-{i}"
        except Exception:
            filename = f"atasament-{i}"
        filename = filename.replace("/", "_").replace("\\", "_")[:255] or f"atasament-{i}"
        attachments.append(_attachment(filename, content, part.get_content_type()))
    if warnings:
        attachments.append(_attachment("mesaj-original.eml", raw, "message/rfc822"))
    sender = _sender(msg)
    received = None
    try:
        if msg.get("Date"):
            received = parsedate_to_datetime(str(msg["Date"]))
            if received.tzinfo is None:
                received = received.replace(tzinfo=UTC)
    except (TypeError, ValueError, IndexError):
        received = None
    try:
        doc = DocumentIn(
            source=SOURCE_NAME,
            external_id=external_id,
            channel=Channel.EMAIL,
            kind=settings.kind,
            subject=subject[:1000],
            body=body,
            sender=sender,
            received_at=received or datetime.now(UTC),
            attachments=attachments,
            metadata={
                "mail": {
                    "message_id": external_id,
                    "warnings": warnings,
                    "attachments": len(attachments),
                }
            },
        )
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        raise MailRejected("$HubMalformed", f"not a valid document ({fields})") from None
    return ParsedMail(doc, warnings)


def _attachment(filename: str, content: bytes, declared: str) -> AttachmentIn:
    import base64

    return AttachmentIn(
        filename=filename,
        content_type=sniff_media_type(content, declared, filename),
        content_base64=base64.b64encode(content).decode("ascii"),
    )


def _sender(msg: Message) -> Sender | None:
    found = _address(msg)
    if found is None:
        return None
    name, addr = found
    try:
        return Sender(type="pf", name=name[:300] or None, email=addr)
    except ValidationError:
        try:
            return Sender(type="pf", name=name[:300] or None)
        except ValidationError:
            return None


# --- the source ------------------------------------------------------------------------------


@dataclass
class _Round:
    """What one poll did on the server, for the log and the cursor."""

    documents: list[DocumentIn] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    processed: int = 0
    errors: int = 0
    auto_replies: int = 0


class MailboxSource(Source):
    name = SOURCE_NAME
    settings_model: ClassVar[type[SourceSettings]] = MailboxSettings
    description = "E-mail intake: an IMAP mailbox over TLS (registratura@…)"
    settings: MailboxSettings

    def __init__(
        self, settings: SourceSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        super().__init__(settings, transport=transport)
        self._own = frozenset(a.lower() for a in self.settings.own_addresses)

    def _connect(self) -> Any:
        from imapclient import IMAPClient  # type: ignore[import-untyped]

        s = self.settings
        context = ssl.create_default_context(cafile=s.ca_file) if s.security != "none" else None
        client = IMAPClient(
            s.host,
            port=s.port,
            ssl=s.security == "tls",
            ssl_context=context,
            timeout=s.timeout_seconds,
        )
        try:
            if s.security == "starttls":
                client.starttls(context)
            client.login(s.username, s.password.get_secret_value())
        except Exception:
            client.shutdown()
            raise
        return client

    async def poll(self, cursor: dict[str, Any] | None) -> PollResult:
        previous = list((cursor or {}).get("pending") or [])
        headers = await asyncio.to_thread(self._headers)
        known = await self._in_ledger([ext for _, ext, _ in headers] + previous)
        rnd = await asyncio.to_thread(self._round, headers, known, set(previous))
        log.info(
            "hub.mailbox.polled",
            new=len(rnd.documents),
            processed=rnd.processed,
            errors=rnd.errors,
            auto_replies=rnd.auto_replies,
        )
        return PollResult(
            documents=rnd.documents,
            cursor={"pending": rnd.pending, "last_poll": datetime.now(UTC).isoformat()},
        )

    async def _in_ledger(self, external_ids: list[str]) -> set[str]:
        if not external_ids or self.documents is None:
            return set()
        store = self.documents
        return await store.runner.read(_existing, store.ledger, sorted(set(external_ids)))

    def _headers(self) -> list[tuple[int, str, int]]:
        """(uid, external id, size) of the first ``batch_size`` messages in the folder."""
        client = self._connect()
        try:
            client.select_folder(self.settings.folder, readonly=True)
            uids = sorted(client.search(["NOT", "DELETED"]))[: self.settings.batch_size]
            if not uids:
                return []
            got = client.fetch(uids, ["RFC822.SIZE", "BODY.PEEK[HEADER]"])
            out = []
            for uid in uids:
                data = got.get(uid) or {}
                header = data.get(b"BODY[HEADER]") or b""
                msg = email.message_from_bytes(header, policy=email.policy.compat32)
                out.append((uid, message_id(msg, header), int(data.get(b"RFC822.SIZE") or 0)))
            return out
        finally:
            _logout(client)

    def _round(
        self, headers: list[tuple[int, str, int]], known: set[str], previous: set[str]
    ) -> _Round:
        s = self.settings
        rnd = _Round()
        if not headers:
            return rnd
        client = self._connect()
        try:
            for folder in (s.processed_folder, s.error_folder, s.autoreply_folder):
                if not client.folder_exists(folder):
                    client.create_folder(folder)
            client.select_folder(s.folder)
            done, robots, failed = [], [], []
            for uid, ext, size in headers:
                if ext in known:
                    done.append(uid)
                    continue
                if ext in previous:
                    failed.append((uid, "$HubRejected", "refused by intake (see the audit log)"))
                    continue
                if size > s.max_message_bytes:
                    failed.append(
                        (uid, "$HubTooLarge", f"message larger than {s.max_message_bytes} bytes")
                    )
                    continue
                raw = (client.fetch([uid], ["BODY.PEEK[]"]).get(uid) or {}).get(b"BODY[]") or b""
                try:
                    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
                    why = is_auto_reply(msg, self._own)
                    if why:
                        log.info("hub.mailbox.auto_reply", uid=uid, reason=why)
                        robots.append(uid)
                        continue
                    parsed = parse_message(raw, s, ext)
                except MailRejected as exc:
                    failed.append((uid, exc.flag, exc.reason))
                    continue
                if parsed.warnings:
                    log.warning("hub.mailbox.decoding_problems", uid=uid, warnings=parsed.warnings)
                rnd.documents.append(parsed.document)
                rnd.pending.append(ext)
            if done:
                _move(client, done, s.processed_folder)
            if robots:
                _move(client, robots, s.autoreply_folder)
            for uid, flag, reason in failed:
                log.error("hub.mailbox.message_failed", uid=uid, flag=flag, reason=reason)
                client.add_flags([uid], [flag.encode()])
                _move(client, [uid], s.error_folder)
            rnd.processed, rnd.auto_replies, rnd.errors = len(done), len(robots), len(failed)
            return rnd
        finally:
            _logout(client)

    async def health(self) -> list[HealthCheck]:
        if not self.settings.enabled:
            return [HealthCheck(name="IMAP", ok=True, detail="disabled")]
        try:
            count = await asyncio.to_thread(self._count)
        except Exception as exc:
            return [HealthCheck(name="IMAP", ok=False, detail=type(exc).__name__)]
        return [HealthCheck(name="IMAP", ok=True, detail=f"{count} message(s) waiting")]

    def _count(self) -> int:
        client = self._connect()
        try:
            info = client.select_folder(self.settings.folder, readonly=True)
            return int(info.get(b"EXISTS", 0))
        finally:
            _logout(client)


def _move(client: Any, uids: list[int], folder: str) -> None:
    if client.has_capability("MOVE"):
        client.move(uids, folder)
    else:
        client.copy(uids, folder)
        client.delete_messages(uids)
        client.uid_expunge(uids)


def _logout(client: Any) -> None:
    try:
        client.logout()
    except Exception:
        client.shutdown()


def _existing(ledger: Any, external_ids: list[str]) -> set[str]:
    from sqlalchemy import select

    from hub.db.schema import documents

    with ledger.reader.connect() as conn:
        rows = conn.execute(
            select(documents.c.external_id).where(
                documents.c.source == SOURCE_NAME, documents.c.external_id.in_(external_ids)
            )
        )
        return {r[0] for r in rows}


@hookimpl
def hub_register_sources(register: Any) -> None:
    register(MailboxSource)
