"""The ``webcon`` connector: registers a document in WEBCON BPS and returns its number.

One delivery = one workflow instance. ``deliver`` starts the instance (``POST …/elements``) with
the mapped fields, the hub's document id in the correlation field, a comment, and the attachments
(inline, or uploaded one by one after it); the receipt carries the element id, the instance
number (the registration number) and the registration date, which the core writes onto the
document before it releases the deliveries waiting for ``webcon``.

No duplicates. WEBCON has no idempotency key: every POST creates an instance. So:

* after an ambiguous failure (sent, no answer) :meth:`reconcile` searches the application for
  the document id and adopts the element whose correlation field holds it;
* every attempt that might follow an earlier one (attempt > 1, a replayed delivery, a lease
  that expired) searches before it creates;
* WEBCON's search is a Solr index that lags behind the database: after an ambiguous failure
  the connector waits up to ``search_index_lag_seconds`` (``TransientError`` with
  ``retry_after``) before it concludes that nothing was created;
* an element created in this process whose attachments did not all arrive is remembered and
  completed, never created again.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from hub.connectors import Connector, ConnectorSettings, HealthCheck
from hub.errors import AmbiguousError, DeliveryError, PermanentError, TransientError
from hub.log import get_logger
from hub.models import AttachmentRef, Document, Job, Receipt
from hub_webcon.client import WebconClient
from hub_webcon.errors import WebconConfigurationError
from hub_webcon.health import health_checks
from hub_webcon.mapping import attachment_body, element_body
from hub_webcon.settings import FormSettings, WebconSettings

__all__ = ["WebconConnector", "correlation_value", "parse_datetime"]

log = get_logger("hub_webcon.connector")
SEARCH_PAGE = 50
SEARCH_PAGES = 4


def parse_datetime(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def correlation_value(element: dict[str, Any], field_guid: str) -> str | None:
    """The correlation field's value in an element as ``GET …/elements/{id}`` returns it."""
    for item in element.get("formFields") or []:
        if str(item.get("guid") or "").lower() == field_guid.lower():
            value = item.get("value")
            if value is None:
                value = item.get("svalue")
            return str(value) if value is not None else None
    return None


def _scrubbed(error: DeliveryError, doc: Document) -> DeliveryError:
    """``error`` without the sender's personal data: WEBCON may quote field values back."""
    sender = doc.sender
    if sender is None:
        return error
    message = error.message
    for value in (sender.name, sender.cnp, sender.cui, sender.email, sender.phone, sender.address):
        if value and len(value) >= 3:
            message = message.replace(value, "[redacted]")
    if message != error.message:
        error.message = message
        error.args = (message,)
    return error


class WebconConnector(Connector):
    name = "webcon"
    settings_model = WebconSettings
    description = "WEBCON BPS: registers documents; the instance number is the registration number"
    settings: WebconSettings

    def __init__(
        self,
        settings: ConnectorSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(settings, transport=transport)
        self.client = WebconClient(self.settings, transport=transport)
        self.clock = clock
        #: document id → when an ambiguous failure left us unsure whether it was created.
        self._unsure: dict[str, float] = {}
        #: document id → element created here whose attachments are not all uploaded yet.
        self._created: dict[str, int] = {}

    async def aclose(self) -> None:
        await self.client.aclose()

    # --- deliver ------------------------------------------------------------------------------

    def _form(self, doc: Document) -> FormSettings:
        s = self.settings
        if not s.configured:
            raise WebconConfigurationError(
                "configuration problem: webcon is not configured (set "
                + ", ".join(s.missing())
                + ")"
            )
        form = s.form_for(doc.kind)
        if form is None:
            raise WebconConfigurationError(
                f"configuration problem: no WEBCON form for kind {doc.kind!r} (set "
                f"HUB_WEBCON__FORMS__{doc.kind.upper()}__… or HUB_WEBCON__FORMS__DEFAULT__…)"
            )
        return form

    async def deliver(self, job: Job) -> Receipt:
        try:
            return await self._deliver(job)
        except DeliveryError as exc:
            raise _scrubbed(exc, job.document) from None

    async def _deliver(self, job: Job) -> Receipt:
        doc = job.document
        form = self._form(doc)
        if doc.id in self._created:
            return await self._adopt(await self.client.get_element(self._created[doc.id]), form)
        if job.attempt > 1 or doc.id in self._unsure or await self._had_attempts(job):
            existing = await self.find_existing(doc.id)
            if existing is not None:
                return await self._adopt(existing, form)
            since = self._unsure.get(doc.id)
            if since is not None:
                wait = self.settings.search_index_lag_seconds - (self.clock() - since)
                if wait > 0:
                    raise TransientError(
                        "WEBCON may hold the element but search does not show it yet; "
                        "waiting before creating it again",
                        retry_after=wait,
                    )
        contents = await self._attachment_contents(doc)
        inline = self.settings.attachments == "inline"
        body = element_body(doc, form, self.settings, contents if inline else None)
        try:
            created = await self.client.create_element(body, form.path)
        except AmbiguousError:
            self._unsure.setdefault(doc.id, self.clock())
            raise
        self._unsure.pop(doc.id, None)
        element_id = int(created["id"])
        if contents and not inline:
            self._created[doc.id] = element_id
            await self._upload_missing(element_id, form, contents, present=[])
            self._created.pop(doc.id, None)
        return self._receipt(
            element_id, created.get("instanceNumber"), datetime.now(UTC), form, reconciled=False
        )

    async def reconcile(self, job: Job, error: AmbiguousError) -> Receipt | None:
        try:
            return await self._reconcile(job)
        except DeliveryError as exc:
            raise _scrubbed(exc, job.document) from None

    async def _reconcile(self, job: Job) -> Receipt | None:
        doc = job.document
        form = self._form(doc)
        if doc.id in self._created:
            return await self._adopt(await self.client.get_element(self._created[doc.id]), form)
        existing = await self.find_existing(doc.id)
        if existing is not None:
            return await self._adopt(existing, form)
        self._unsure.setdefault(doc.id, self.clock())
        return None

    async def _had_attempts(self, job: Job) -> bool:
        """A first attempt of a replayed delivery: earlier attempts may have created it."""
        if self.documents is None or not self.settings.correlation_field_guid:
            return False
        return await self.documents.attempt_count(job.delivery_id) > 0

    # --- reconciliation -----------------------------------------------------------------------

    async def find_existing(self, document_id: str) -> dict[str, Any] | None:
        """The element whose correlation field holds ``document_id``, or None.

        Search is full-text and may match elsewhere, so every hit in one of the configured
        workflows is read back and its correlation field compared exactly.
        """
        s = self.settings
        if not (s.application_guid and s.correlation_field_guid):
            return None
        workflows = {f.workflow_guid.lower() for f in s.forms.values()}
        for page in range(1, SEARCH_PAGES + 1):
            found = await self.client.search(
                s.application_guid, f'"{document_id}"', page=page, size=SEARCH_PAGE
            )
            hits = found.get("elements") or []
            for hit in hits:
                wf = str((hit.get("workflow") or {}).get("guid") or "").lower()
                if wf and wf not in workflows:
                    continue
                try:
                    element = await self.client.get_element(hit["instanceId"])
                except PermanentError:
                    continue  # deleted since it was indexed
                if correlation_value(element, s.correlation_field_guid) == document_id:
                    return element
            if page * SEARCH_PAGE >= int(found.get("count") or 0) or not hits:
                break
        return None

    async def _adopt(self, element: dict[str, Any], form: FormSettings) -> Receipt:
        header = element.get("header") or {}
        element_id = int(header["id"])
        doc_id = next((d for d, e in self._created.items() if e == element_id), None)
        if self.settings.attachments == "separate" and doc_id is not None:
            doc = await self.documents.get(doc_id) if self.documents else None
            if doc is not None:
                contents = await self._attachment_contents(doc)
                present = [str(a.get("name")) for a in element.get("attachments") or []]
                await self._upload_missing(element_id, form, contents, present)
            self._created.pop(doc_id, None)
        corr = correlation_value(element, self.settings.correlation_field_guid or "")
        if corr:
            self._unsure.pop(corr, None)
        registered = parse_datetime(header.get("creationDate")) or datetime.now(UTC)
        log.info("hub_webcon.element_adopted", element_id=element_id)
        return self._receipt(
            element_id, header.get("instanceNumber"), registered, form, reconciled=True
        )

    # --- attachments --------------------------------------------------------------------------

    async def _attachment_contents(self, doc: Document) -> list[tuple[AttachmentRef, bytes]]:
        if not doc.attachments:
            return []
        if self.documents is None:
            raise PermanentError("attachment content is not available outside a hub")
        out = []
        for ref in doc.attachments:
            content = await self.documents.attachment_content(ref.sha256)
            if content is None or hashlib.sha256(content).hexdigest() != ref.sha256:
                raise PermanentError(f"attachment {ref.sha256[:12]} is missing from the ledger")
            out.append((ref, content))
        return out

    async def _upload_missing(
        self,
        element_id: int,
        form: FormSettings,
        contents: list[tuple[AttachmentRef, bytes]],
        present: list[str],
    ) -> None:
        remaining = list(present)
        group = form.attachment_group or self.settings.attachment_group
        for ref, content in contents:
            if ref.filename in remaining:
                remaining.remove(ref.filename)
                continue
            await self.client.add_attachment(element_id, attachment_body(ref, content, group))

    # --- receipt and health -------------------------------------------------------------------

    def _receipt(
        self,
        element_id: int,
        instance_number: str | None,
        registered_at: datetime,
        form: FormSettings,
        *,
        reconciled: bool,
    ) -> Receipt:
        if not instance_number:
            raise TransientError(f"WEBCON element {element_id} has no instance number yet")
        return Receipt(
            remote_id=str(element_id),
            registration_number=instance_number,
            registered_at=registered_at,
            status="registered",
            data={
                "element_id": element_id,
                "db_id": self.settings.db_id,
                "workflow_guid": form.workflow_guid,
                "form_type_guid": form.form_type_guid,
                "reconciled": reconciled,
            },
        )

    async def health(self) -> list[HealthCheck]:
        try:
            return await health_checks(self.settings, self.client)
        except DeliveryError as exc:
            return [HealthCheck(name="WEBCON", ok=False, detail=exc.message)]
