"""What the API and the CLI share: the plugin's settings from a hub, hearings, handovers.

Functions here are synchronous (database work); the API runs them on the hub's database threads.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from hub.runtime import narrow_settings
from hub_courts.cases import committed_view, upcoming_hearings
from hub_courts.centralizator import Handover, record_handover
from hub_courts.documents import SOURCE
from hub_courts.handover import CONNECTOR, handover_receipt
from hub_courts.settings import CourtsSettings

if TYPE_CHECKING:
    from hub.runtime import Hub

__all__ = ["close_handover", "courts_settings", "hearings", "local_today", "record"]


def courts_settings(hub: Hub) -> CourtsSettings:
    section = hub.settings.section("courts")
    settings: CourtsSettings = narrow_settings(CourtsSettings, section)
    return settings


def local_today(settings: CourtsSettings) -> date:
    return datetime.now(ZoneInfo(settings.timezone)).date()


def hearings(hub: Hub, *, days: int | None = None, past_days: int = 0) -> list[dict[str, Any]]:
    """Hearings from today (minus ``past_days``) for ``days`` days, local times."""
    s = courts_settings(hub)
    now = datetime.now(ZoneInfo(s.timezone)).replace(tzinfo=None)
    start = datetime.combine(now.date() - timedelta(days=past_days), datetime.min.time())
    end = start + timedelta(days=(days or s.hearings_days) + past_days)
    rows = committed_view(hub.ledger.reader, hub.ledger.get_cursor(SOURCE))
    return upcoming_hearings(rows, start, end)


def record(
    hub: Hub,
    day: date,
    department: str,
    *,
    received_by: str,
    received_at: datetime | None,
    actor: str,
) -> tuple[Handover, list[str]]:
    s = courts_settings(hub)
    return record_handover(
        hub.ledger.writer,
        day,
        department,
        received_by=received_by,
        received_at=received_at or datetime.now(UTC),
        actor=actor,
        kinds=s.centralizator_kinds,
        tz=s.timezone,
    )


async def close_handover(hub: Hub, handover: Handover, document_ids: list[str], actor: str) -> int:
    """Close the ``handover`` deliveries of the documents handed over."""
    receipt = handover_receipt(handover.received_by, handover.received_at, handover.id)
    reason = (
        f"handed over to {handover.department} on {handover.received_at:%Y-%m-%d %H:%M} "
        f"(centralizator {handover.day:%Y-%m-%d})"
    )
    return await hub.documents.complete_deliveries(
        CONNECTOR, document_ids, receipt, actor=actor, reason=reason
    )
