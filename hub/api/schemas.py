"""What the API answers and accepts besides :class:`hub.models.DocumentIn`: the wire shapes that
the OpenAPI document publishes. Ledger times (epoch seconds) are rendered as ISO 8601 UTC."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from hub.models import Channel, DeliveryState

__all__ = [
    "ActionIn",
    "AttachmentOut",
    "AttemptOut",
    "BulkResult",
    "CheckOut",
    "ConnectorOut",
    "DeliveryOut",
    "DeliveryPage",
    "DeliverySelection",
    "DocumentDetail",
    "DocumentOut",
    "EventOut",
    "HealthOut",
    "Liveness",
    "Readiness",
    "SenderOut",
    "SourceOut",
    "TimelineOut",
]


class SenderOut(BaseModel):
    """The petitioner. Masked (``••••09``) unless the caller holds the ``pii`` scope."""

    type: str
    name: str | None = None
    cnp: str | None = None
    cui: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None


class AttachmentOut(BaseModel):
    filename: str
    content_type: str
    size: int
    sha256: str


class DocumentOut(BaseModel):
    id: str
    source: str
    external_id: str
    channel: Channel
    kind: str
    subject: str = ""
    body: str = ""
    sender: SenderOut | None = None
    received_at: datetime | None = None
    created_at: datetime
    department: str | None = None
    registration_number: str | None = None
    registered_at: datetime | None = None
    due_date: date | None = None
    status: str
    attachments: list[AttachmentOut] = []
    metadata: dict[str, Any] = {}


class DeliveryOut(BaseModel):
    id: int
    document_id: str
    connector: str
    target: str | None = None
    idempotency_key: str | None = Field(
        default=None, description="Stable across attempts; the receiver's `webhook-id`"
    )
    state: DeliveryState
    depends_on: str | None = None
    attempts: int
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    last_error_type: str | None = None
    receipt: dict[str, Any] | None = None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None = None


class EventOut(BaseModel):
    """One row of the audit trail: who did what, when, and why."""

    id: int
    at: datetime
    document_id: str | None = None
    delivery_id: int | None = None
    actor: str
    action: str
    from_state: str | None = None
    to_state: str | None = None
    reason: str | None = None


class AttemptOut(BaseModel):
    id: int
    delivery_id: int
    number: int
    worker: str
    started_at: datetime
    duration_ms: float
    outcome: str
    status_code: int | None = None
    error_type: str | None = None
    message: str | None = None
    remote_ref: str | None = None


class TimelineOut(BaseModel):
    events: list[EventOut]
    attempts: list[AttemptOut]


class DocumentDetail(DocumentOut):
    deliveries: list[DeliveryOut]
    timeline: TimelineOut


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_after_id: int | None = Field(
        description="Pass as `after_id` for the next page; null on the last page"
    )


class ActionIn(BaseModel):
    reason: str | None = Field(default=None, max_length=500, description="Kept in the audit trail")


class DeliverySelection(BaseModel):
    """Which deliveries a bulk replay or cancel applies to (all criteria must hold)."""

    model_config = {"extra": "forbid"}

    ids: list[int] | None = Field(default=None, max_length=100_000)
    connector: str | None = Field(default=None, max_length=64)
    since: datetime | None = Field(default=None, description="Last changed at or after")
    until: datetime | None = Field(default=None, description="Last changed before")
    reason_contains: str | None = Field(
        default=None, max_length=200, description="Substring of the last error"
    )
    states: list[DeliveryState] | None = Field(
        default=None,
        description="Default: dead for replay; pending, waiting, retry_scheduled and dead for "
        "cancel",
    )
    all: bool = Field(default=False, description="Required when no other criterion is given")
    reason: str | None = Field(default=None, max_length=500, description="Kept in the audit trail")

    @model_validator(mode="after")
    def _narrowed(self) -> DeliverySelection:
        criteria = (self.ids, self.connector, self.since, self.until, self.reason_contains)
        if not self.all and all(c is None for c in criteria):
            raise ValueError("give at least one criterion, or all=true to act on every match")
        return self


class BulkResult(BaseModel):
    action: Literal["replay", "cancel"]
    count: int = Field(description="Deliveries that changed state")


class ConnectorOut(BaseModel):
    name: str
    description: str
    plugin: str | None
    enabled: bool
    circuit: str = Field(description="closed, half_open, open (or disabled)")
    last_success_at: datetime | None = Field(
        description="Last successful delivery by this process (not persisted)"
    )
    counts: dict[str, int] = Field(description="Deliveries per state")
    oldest_open_age_seconds: float


class SourceOut(BaseModel):
    source: str
    last_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    documents_total: int = 0
    paused: bool = False
    paused_until: datetime | None = None
    status: dict[str, Any] | None = Field(
        default=None, description="What the source publishes about itself (cursor `status`)"
    )


class CheckOut(BaseModel):
    name: str
    ok: bool
    detail: str = ""


class HealthOut(BaseModel):
    ok: bool
    checks: list[CheckOut]


class Liveness(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ok"]
    checks: dict[str, Literal["ok", "failed"]]
