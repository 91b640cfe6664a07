"""A real SMTP server on 127.0.0.1 that keeps what it receives: for tests and ``hub demo``.

Built on aiosmtpd, served from the running event loop (no thread)::

    async with SmtpSink() as smtp:
        settings = SmtpSettings(host="127.0.0.1", port=smtp.port)
        ...
        msg = await smtp.wait_for(1)   # the parsed EmailMessage objects received so far

``refuse_next(code)`` makes the next transaction fail with that SMTP code (a 4xx to test
retries, a 5xx to test dead letters).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
from dataclasses import dataclass, field
from email.message import EmailMessage
from types import TracebackType
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

__all__ = ["ReceivedMail", "SmtpSink"]


@dataclass(frozen=True, slots=True)
class ReceivedMail:
    """One accepted transaction: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage


@dataclass
class _Handler:
    received: list[ReceivedMail] = field(default_factory=list)
    refusals: list[int] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refusals:
            code = self.refusals.pop(0)
            return f"{code} refused by the test server"
        raw = envelope.original_content or envelope.content or b""
        assert isinstance(raw, bytes)
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(
            ReceivedMail(str(envelope.mail_from), tuple(envelope.rcpt_tos), parsed)
        )
        self.arrived.set()
        return "250 OK"


class SmtpSink:
    """An SMTP server on 127.0.0.1 (port 0 = a free one) that records every message."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._port = port
        self._handler = _Handler()
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def received(self) -> list[ReceivedMail]:
        return self._handler.received

    @property
    def messages(self) -> list[EmailMessage]:
        return [mail.message for mail in self._handler.received]

    def refuse_next(self, code: int) -> None:
        self._handler.refusals.append(code)

    async def start(self) -> SmtpSink:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self._handler, hostname="hub-test-smtp", decode_data=False),
            host=self.host,
            port=self._port,
        )
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:  # noqa: ASYNC109
        """Wait until at least ``count`` messages arrived; return them all."""
        async with asyncio.timeout(timeout):
            while len(self._handler.received) < count:
                self._handler.arrived.clear()
                await self._handler.arrived.wait()
        return self.messages

    async def __aenter__(self) -> SmtpSink:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def __repr__(self) -> str:
        state: Any = self.port if self._server else "stopped"
        return f"SmtpSink({self.host}:{state}, {len(self.received)} received)"
