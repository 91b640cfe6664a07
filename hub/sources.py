"""What a source is: something polled for new documents (a mailbox, e-Factura, a court feed).

The host calls :meth:`Source.poll` every ``interval_seconds`` with the cursor it saved last time.
The documents returned and the new cursor are committed in one transaction, so a crash between
polls repeats at most one poll, and intake's deduplication on ``(source, external_id)`` absorbs
the repeat. On PostgreSQL with several ``hub run`` processes, one holder of an advisory lock per
source polls it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field

from hub.connectors import HealthCheck
from hub.models import DocumentIn

if TYPE_CHECKING:
    from hub.documents import DocumentStore
    from hub.settings import HubSettings

__all__ = ["PollResult", "Source", "SourceSettings"]


class SourceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Poll this source")
    interval_seconds: float = Field(default=60.0, gt=0, description="Seconds between polls")


class PollResult(BaseModel):
    """One poll's harvest. ``pause_seconds`` asks the host to wait longer (e.g. a quota)."""

    documents: list[DocumentIn] = Field(default_factory=list)
    cursor: dict[str, Any] | None = None
    pause_seconds: float | None = None


class Source:
    name: ClassVar[str]
    settings_model: ClassVar[type[SourceSettings]] = SourceSettings
    settings_section: ClassVar[str | None] = None
    description: ClassVar[str] = ""
    #: Set by the hub before :meth:`start`: the ledger's documents, for sources that follow up
    #: documents rather than bring new ones (status sync). None outside a hub.
    documents: DocumentStore | None = None
    #: Set by the hub before :meth:`start`: the hub's own settings (``smtp``, ``units_file`` …).
    hub_settings: HubSettings | None = None

    def __init__(
        self, settings: SourceSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.transport = transport

    @classmethod
    def section(cls) -> str:
        return cls.settings_section or cls.name

    async def start(self) -> None:
        """Open clients."""

    async def poll(self, cursor: dict[str, Any] | None) -> PollResult:
        raise NotImplementedError

    async def health(self) -> list[HealthCheck]:
        return []

    async def aclose(self) -> None:
        """Release clients."""
