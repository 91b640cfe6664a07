"""The ``handover`` connector: a paper act handed to its department against signature.

Route paper acts to it with the department as target (``{ connector = "handover", target =
"DJ" }``). Its deliveries are not sent anywhere: they stay open — ``hub status`` counts them as
pending, i.e. *awaiting handover* — until the department signs the day's centralizator and the
handover is recorded (``POST /api/v1/courts/handovers``, ``hub courts handover``), which closes
them with a receipt naming who received the acts and when.

The connector is therefore off for the dispatcher by default (``HUB_HANDOVER__ENABLED=false``).
Switched on, :meth:`HandoverConnector.deliver` completes a delivery whose act has been handed
over and otherwise asks to be tried again later — a fallback, not the normal path.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from pydantic import ConfigDict, Field
from sqlalchemy import select

from hub.connectors import Connector, ConnectorSettings, HealthCheck
from hub.errors import TransientError
from hub.models import Job, Receipt
from hub_courts.db import handover_items, handovers

__all__ = ["CONNECTOR", "HandoverConnector", "HandoverSettings", "handover_receipt"]

CONNECTOR = "handover"


class HandoverSettings(ConnectorSettings):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        default=False,
        description="Leave off: handover deliveries are closed by the recorded handover, "
        "not by the dispatcher",
    )
    recheck_seconds: float = Field(
        default=4 * 3600.0, gt=0, description="When on: how long a delivery waits between checks"
    )


def handover_receipt(
    received_by: str, received_at: datetime, handover_id: int | None
) -> dict[str, object]:
    return {
        "remote_id": f"predare-{handover_id}" if handover_id else None,
        "status": "handed_over",
        "data": {"received_by": received_by, "received_at": received_at.isoformat()},
    }


class HandoverConnector(Connector):
    name = CONNECTOR
    settings_model: ClassVar[type[ConnectorSettings]] = HandoverSettings
    description = "Paper acts handed over against signature (closed by the recorded handover)"

    async def deliver(self, job: Job) -> Receipt:
        store = self.documents
        if store is None:
            raise TransientError("handover: no ledger")
        found = await store.runner.read(self._handed_over, job.document.id)
        if found is None:
            settings = self.settings
            wait = settings.recheck_seconds if isinstance(settings, HandoverSettings) else 3600.0
            raise TransientError("awaiting handover against signature", retry_after=wait)
        received_by, received_at, hid = found
        when = datetime.fromtimestamp(received_at, UTC)
        return Receipt.model_validate(handover_receipt(received_by, when, hid))

    def _handed_over(self, document_id: str) -> tuple[str, float, int] | None:
        assert self.documents is not None
        with self.documents.ledger.reader.connect() as conn:
            row = conn.execute(
                select(handovers.c.received_by, handovers.c.received_at, handovers.c.id)
                .join(handover_items, handover_items.c.handover_id == handovers.c.id)
                .where(handover_items.c.document_id == document_id)
            ).first()
        return (row[0], float(row[1]), int(row[2])) if row else None

    async def health(self) -> list[HealthCheck]:
        return [HealthCheck(name="handover", ok=True, detail="closed by recorded handovers")]
