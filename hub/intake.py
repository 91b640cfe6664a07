"""Intake: validate, classify, route, and write a document with all its deliveries at once.

Writes are group-committed: concurrent submissions queue up while the previous batch commits,
then go to the ledger together in one transaction (one fsync), so a durable commit per accepted
document does not cost one fsync per document. Nothing is acknowledged before its commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from hub.db.ledger import HandOff, IntakeResult, Ledger, PreparedAttachment, PreparedDocument
from hub.db.runner import DbRunner
from hub.errors import InvalidDocument, PayloadTooLarge, UnsupportedMediaType
from hub.ids import new_id
from hub.log import get_logger
from hub.metrics import HubMetrics
from hub.models import DocumentIn
from hub.plugins import PluginHost
from hub.routing import RoutingTable
from hub.terms import TermEngine, local_date

__all__ = ["IntakeService"]

log = get_logger("hub.intake")
DEFAULT_KIND = "altele"


class HandOffTarget(Protocol):
    """What intake needs of a dispatcher to hand it documents at commit (the dispatcher)."""

    def reserve(self, wanted: dict[str, int]) -> HandOff | None: ...

    def accept(self, handoff: HandOff, *, committed: bool = True) -> None: ...


@dataclass(slots=True)
class _Pending:
    item: PreparedDocument
    future: asyncio.Future[IntakeResult]


class IntakeService:
    def __init__(
        self,
        *,
        ledger: Ledger,
        runner: DbRunner,
        host: PluginHost,
        routing: RoutingTable,
        metrics: HubMetrics,
        max_attachment_bytes: int,
        allowed_media_types: Sequence[str],
        on_committed: Callable[[Collection[str] | None], None] | None = None,
        dispatcher: HandOffTarget | None = None,
        max_batch: int = 512,
        terms: TermEngine | None = None,
    ) -> None:
        self.ledger = ledger
        self.runner = runner
        self.host = host
        self.routing = routing
        self.metrics = metrics
        self.max_attachment_bytes = max_attachment_bytes
        self.allowed_media_types = frozenset(t.lower() for t in allowed_media_types)
        self.on_committed = on_committed
        self.dispatcher = dispatcher
        self.max_batch = max_batch
        self.terms = terms or TermEngine()
        self._queue: list[_Pending] = []
        self._wakeup: asyncio.Event | None = None
        self._committer: asyncio.Task[None] | None = None

    # --- validation and routing ---------------------------------------------------------------

    def prepare(
        self, doc: DocumentIn, *, idempotency_key: str | None = None, actor: str = "api"
    ) -> PreparedDocument:
        """Everything intake decides, without touching the ledger. Raises InputError."""
        prepared_attachments = []
        for i, a in enumerate(doc.attachments):
            ctype = a.content_type.split(";")[0].strip().lower()
            if ctype not in self.allowed_media_types:
                raise UnsupportedMediaType(
                    f"attachments[{i}].content_type {ctype!r} is not accepted",
                    errors=[
                        {"loc": ["attachments", i, "content_type"], "msg": "unsupported media type"}
                    ],
                )
            # base64 grows by 4/3: refuse before decoding what is obviously too large.
            if len(a.content_base64) * 3 // 4 > self.max_attachment_bytes + 3:
                raise self._too_large(i)
            try:
                content = a.decode()
            except ValueError as exc:
                raise InvalidDocument(
                    f"attachments[{i}].content_base64: {exc}",
                    errors=[{"loc": ["attachments", i, "content_base64"], "msg": str(exc)}],
                ) from None
            if len(content) > self.max_attachment_bytes:
                raise self._too_large(i)
            prepared_attachments.append(
                PreparedAttachment(
                    filename=a.filename,
                    content_type=ctype,
                    content=content,
                    sha256=hashlib.sha256(content).hexdigest(),
                )
            )
        kind = doc.kind or self.host.classify(doc) or DEFAULT_KIND
        route = self.routing.route(doc, kind, self.host.route(doc, kind))
        now = datetime.now(UTC)
        row: dict[str, Any] = {
            "id": new_id(),  # time-ordered: see hub.ids
            "source": doc.source,
            "external_id": doc.external_id,
            "idempotency_key": idempotency_key,
            "request_hash": hashlib.sha256(doc.model_dump_json().encode()).hexdigest(),
            "channel": doc.channel.value,
            "kind": kind,
            "subject": doc.subject,
            "body": doc.body,
            "sender": doc.sender.model_dump(exclude_none=True) if doc.sender else None,
            "received_at": doc.received_at or now,
            "created_at": now,
            "department": route.department,
            "routing_rule": route.rule,
            "due_date": self.terms.due_date(kind, local_date(now)),
            "status": "received",
            "meta": doc.metadata,
        }
        targets = ", ".join(
            d.connector + (f"[{d.target}]" if d.target else "") for d in route.destinations
        )
        reason = f"rule {route.rule or 'fallback'} → {targets or 'no destination'}"
        return PreparedDocument(
            row=row,
            destinations=route.destinations,
            attachments=prepared_attachments,
            reason=reason,
            actor=actor,
        )

    def _too_large(self, i: int) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"attachments[{i}] is larger than {self.max_attachment_bytes} bytes",
            errors=[{"loc": ["attachments", i], "msg": "too large"}],
        )

    # --- group commit -------------------------------------------------------------------------

    async def submit(self, item: PreparedDocument) -> IntakeResult:
        """Queue for the next group commit and wait for it. Returns once durable."""
        if self._committer is None or self._committer.done():
            self._wakeup = asyncio.Event()
            self._committer = asyncio.create_task(self._commit_loop(), name="hub-intake-commit")
        fut: asyncio.Future[IntakeResult] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(item, fut))
        assert self._wakeup is not None
        self._wakeup.set()
        return await fut

    async def _commit_loop(self) -> None:
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                handoff = self._reserve(batch)
                try:
                    results = await self.runner.write(
                        self.ledger.insert_documents, [p.item for p in batch], handoff=handoff
                    )
                except asyncio.CancelledError:
                    # Stopped mid-write: the commit may still land; the claims' leases expire
                    # then (nothing lost). The reservation must not outlive this loop.
                    self._accept(handoff, committed=False)
                    raise
                except Exception as exc:
                    self._accept(handoff, committed=False)
                    log.error(
                        "hub.intake.commit_failed", error_type=type(exc).__name__, count=len(batch)
                    )
                    for p in batch:
                        if not p.future.done():
                            p.future.set_exception(exc)
                    continue
                # Before anything below can raise: the reservation must not outlive the commit.
                self._accept(handoff, committed=True)
                created = 0
                for p, res in zip(batch, results, strict=True):
                    if res.created:
                        created += 1
                        self.metrics.documents.labels(
                            p.item.row["channel"], p.item.row["kind"]
                        ).inc()
                    if not p.future.done():
                        p.future.set_result(res)
                if created and self.on_committed is not None:
                    # Tell the hub when the commit left deliveries due (None: it handed
                    # nothing over, so any may be): this process's lanes were counted and woken
                    # by accept(); on PostgreSQL the other processes are woken (Hub._committed).
                    pending = handoff.pending if handoff is not None else None
                    if pending is None or pending:
                        self.on_committed(pending)

    def _accept(self, handoff: HandOff | None, *, committed: bool) -> None:
        if handoff is not None and self.dispatcher is not None:
            self.dispatcher.accept(handoff, committed=committed)

    def _reserve(self, batch: list[_Pending]) -> HandOff | None:
        """Ask the dispatcher of this process for room to claim the batch at commit."""
        if self.dispatcher is None:
            return None
        wanted: dict[str, int] = {}
        for p in batch:
            for d in p.item.destinations:
                if not d.after:
                    wanted[d.connector] = wanted.get(d.connector, 0) + 1
        # Asked even when nothing is due now (only waiting deliveries, or none): the answer
        # then says so, and no lane is woken for nothing.
        return self.dispatcher.reserve(wanted)

    async def submit_many(
        self,
        items: Sequence[PreparedDocument],
        cursor: tuple[str, dict[str, Any] | None] | None = None,
    ) -> list[IntakeResult]:
        """Write a batch in one transaction (imports, source polls with their cursor)."""
        results = await self.runner.write(self.ledger.insert_documents, items, cursor=cursor)
        created = 0
        for item, res in zip(items, results, strict=True):
            if res.created:
                created += 1
                self.metrics.documents.labels(item.row["channel"], item.row["kind"]).inc()
        if created and self.on_committed is not None:
            self.on_committed(None)
        return results

    async def aclose(self) -> None:
        """Stop the committer once everything queued so far is committed."""
        if self._committer is not None:
            while self._queue:  # noqa: ASYNC110 - the committer empties it; a few ms at most
                await asyncio.sleep(0.01)
            self._committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._committer
