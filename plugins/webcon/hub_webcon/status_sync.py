"""The ``webcon-status`` source: brings the state of registered documents back from WEBCON.

Every ``status_sync.interval_seconds`` it walks the documents the ``webcon`` connector registered
whose case is still open (:meth:`hub.documents.DocumentStore.open_documents`, in batches of
``batch_size``), reads their elements (``GET …/elements/{id}``) with at most ``concurrency``
reads in flight, and writes each batch's changes in one transaction:

* ``header.isFinished`` → status ``finished_status`` (``closed``) and the closing date from
  ``header.finishDate`` — the deadline monitor and the citizens' status page read both; a
  document already ``released`` keeps that status and gets its closing date;
* an unfinished element in a step listed in ``step_statuses`` → that status.

It brings no new documents: the poll returns an empty harvest and a cursor with the round's
counts, so ``hub status`` shows when the last round ran. An element WEBCON no longer has (404)
is logged and skipped; when every read of a round fails, the round fails (and is retried on the
next interval) so an outage shows up as a failing source.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from hub.documents import OpenDocument, StatusUpdate
from hub.errors import DeliveryError, PermanentError
from hub.log import get_logger
from hub.sources import PollResult, Source, SourceSettings
from hub_webcon.client import WebconClient
from hub_webcon.connector import WebconConnector, parse_datetime
from hub_webcon.errors import WebconConfigurationError
from hub_webcon.settings import WebconSettings

__all__ = ["WebconStatusSource"]

log = get_logger("hub_webcon.status_sync")
ACTOR = "source:webcon-status"


class WebconStatusSource(Source):
    name = "webcon-status"
    settings_section = "webcon"
    settings_model: ClassVar[type[Any]] = WebconSettings
    description = "Status sync: workflow step, finish and closing date of registered documents"

    def __init__(self, settings: Any, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        webcon: WebconSettings = settings
        sync = webcon.status_sync
        super().__init__(
            SourceSettings(
                enabled=webcon.enabled and sync.enabled and webcon.configured,
                interval_seconds=sync.interval_seconds,
            ),
            transport=transport,
        )
        self.webcon = webcon
        self.client = WebconClient(webcon, transport=transport, max_connections=sync.concurrency)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def poll(self, cursor: dict[str, Any] | None) -> PollResult:
        counts = await self.sync_once()
        return PollResult(cursor={"last_round": datetime.now(UTC).isoformat(), **counts})

    async def sync_once(self) -> dict[str, int]:
        """One round over every open document; returns read / changed / failed counts."""
        store = self.documents
        if store is None:
            return {"read": 0, "changed": 0, "failed": 0}
        sync = self.webcon.status_sync
        limit = asyncio.Semaphore(sync.concurrency)
        read = changed = failed = 0
        after = ""
        while True:
            batch = await store.open_documents(
                WebconConnector.name, after=after, limit=sync.batch_size
            )
            if not batch:
                break
            after = batch[-1].document_id
            results = await asyncio.gather(*(self._read(doc, limit) for doc in batch))
            updates = []
            for doc, element in zip(batch, results, strict=True):
                if element is None:
                    failed += 1
                    continue
                read += 1
                update = self.status_update(doc, element)
                if update is not None:
                    updates.append(update)
            changed += await store.update_statuses(updates, ACTOR)
            if len(batch) < sync.batch_size:
                break
        if failed and not read:
            raise RuntimeError(f"WEBCON status sync: all {failed} element reads failed")
        log.info("hub_webcon.status_synced", read=read, changed=changed, failed=failed)
        return {"read": read, "changed": changed, "failed": failed}

    async def _read(self, doc: OpenDocument, limit: asyncio.Semaphore) -> dict[str, Any] | None:
        if doc.remote_id is None:
            return None
        async with limit:
            try:
                return await self.client.get_element(doc.remote_id)
            except WebconConfigurationError:
                raise
            except PermanentError as exc:
                log.warning(
                    "hub_webcon.element_unreadable",
                    document_id=doc.document_id,
                    element_id=doc.remote_id,
                    error_type=exc.error_type,
                )
                return None
            except DeliveryError:
                return None

    def status_update(self, doc: OpenDocument, element: dict[str, Any]) -> StatusUpdate | None:
        """What the element says about the document, or None when nothing changes."""
        header = element.get("header") or {}
        step = (header.get("step") or {}).get("guid") or ""
        sync = self.webcon.status_sync
        reason = f"WEBCON element {doc.remote_id} in step {step or '?'}"
        if header.get("isFinished"):
            closed = parse_datetime(header.get("finishDate")) or datetime.now(UTC)
            status = None if doc.status == "released" else sync.finished_status
            return StatusUpdate(doc.document_id, status, closed, reason)
        mapped = {k.lower(): v for k, v in sync.step_statuses.items()}.get(str(step).lower())
        if mapped and mapped != doc.status:
            return StatusUpdate(doc.document_id, mapped, None, reason)
        return None
