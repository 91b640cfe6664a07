"""The ``receipt`` connector: e-mails the petitioner their registration number and access code.

Route it after the registering connector, so it runs once the number is on the document::

    [fallback]
    destinations = [{ connector = "webcon" }, { connector = "receipt", after = "webcon" }]

(or ``default_after = "webcon"`` in routing.toml). A document without the petitioner's e-mail
address, or of a kind in ``skip_kinds`` (anonymous petitions), is delivered as ``skipped``:
its receipt is printed at the counter (``POST /api/v1/documents/{id}/recipisa``). Each attempt
issues a fresh access code before it sends, so the code in the last message sent is the one
that works. SMTP 4xx and unreachable servers are retried; 5xx are dead letters.

The hub's own settings (``HUB_SMTP__*``, ``HUB_PUBLIC_URL``) come from the connector's
``hub_settings``, which the hub sets before ``start()``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import Field

from hub.connectors import Connector, ConnectorSettings
from hub.errors import PermanentError, TransientError
from hub.hookspecs import hookimpl
from hub.log import get_logger
from hub.mail import send_message
from hub.models import Job, Receipt
from hub.receipts import ReceiptFacts, build_receipt_message, issue_code

if TYPE_CHECKING:
    from fastapi import APIRouter

    from hub.settings import HubSettings

__all__ = ["ReceiptConnector", "ReceiptSettings"]

log = get_logger("hub.receipt")


class ReceiptSettings(ConnectorSettings):
    skip_kinds: list[str] = Field(
        default_factory=lambda: ["petitie_anonima"],
        description="Kinds that get no receipt by e-mail",
    )


class ReceiptConnector(Connector):
    name = "receipt"
    settings_model = ReceiptSettings
    description = "E-mails the petitioner the registration number, term and access code"
    settings: ReceiptSettings

    async def deliver(self, job: Job) -> Receipt:
        doc = job.document
        if not doc.registration_number:
            raise PermanentError(
                "the document has no registration number: route `receipt` after the "
                'registering connector (after = "webcon")'
            )
        address = doc.sender.email if doc.sender else None
        if doc.kind in self.settings.skip_kinds or not address:
            why = "kind" if doc.kind in self.settings.skip_kinds else "no e-mail address"
            return Receipt(status="skipped", data={"reason": why})
        hub = self.hub_settings
        if hub is None or self.documents is None:
            raise TransientError("the hub has not started yet")
        store = self.documents
        code = await store.runner.write(issue_code, store.ledger, doc.id)
        facts = ReceiptFacts.of(doc, code, hub.public_url)
        mail_meta = doc.metadata.get("mail") if isinstance(doc.metadata, dict) else None
        in_reply_to = mail_meta.get("message_id") if isinstance(mail_meta, dict) else None
        message = await asyncio.to_thread(
            build_receipt_message,
            facts,
            to=address,
            in_reply_to=in_reply_to,
            message_key=job.idempotency_key[:32],
        )
        await send_message(hub.smtp, message)
        log.info("hub.receipt.sent", document_id=doc.id)
        return Receipt(remote_id=str(message["Message-ID"]), status="sent")


@hookimpl
def hub_register_connectors(register: Callable[[type[Any]], None]) -> None:
    register(ReceiptConnector)


@hookimpl
def hub_register_routes(router: APIRouter, settings: HubSettings) -> None:
    # The route is imported here, when the API is built: FastAPI is not for every CLI command.
    from hub.builtin.receipt_print import register_routes

    register_routes(router)
