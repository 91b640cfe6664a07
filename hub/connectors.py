"""What a connector is: a class keyed by ``name`` that delivers one document to one system.

The host instantiates each registered connector class once, with its validated settings section
and an optional HTTP transport (tests inject respx or a simulator's; production uses the
measured-fastest one from :mod:`hub.http`). Nothing is constructed at import time.

A connector raises :class:`~hub.errors.TransientError`, :class:`~hub.errors.PermanentError` or
:class:`~hub.errors.AmbiguousError`; any other exception is treated as transient and logged
with its type only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from hub.errors import AmbiguousError
from hub.models import Job, Receipt
from hub.retry import RetryPolicy

if TYPE_CHECKING:
    from hub.documents import DocumentStore
    from hub.settings import HubSettings

__all__ = ["Connector", "ConnectorSettings", "HealthCheck"]


class ConnectorSettings(BaseModel):
    """Settings every connector section has. Plugins subclass it and add their own fields."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Claim and deliver for this connector")
    concurrency: int = Field(default=32, ge=1, le=1024, description="Deliveries in flight at once")
    timeout_seconds: float = Field(default=30.0, gt=0, description="Timeout of one attempt")
    retry: RetryPolicy = Field(default_factory=RetryPolicy, description="Retry policy")
    http_transport: Literal["aiohttp", "httpx"] = Field(
        default="aiohttp", description="What moves the bytes under httpx (see docs/performance.md)"
    )
    circuit_failure_threshold: int = Field(
        default=20, ge=1, description="Consecutive transient failures that open the circuit"
    )
    circuit_reset_seconds: float = Field(
        default=30.0, gt=0, description="How long an open circuit waits before a probe"
    )


class HealthCheck(BaseModel):
    """One line of ``hub doctor``."""

    name: str
    ok: bool
    detail: str = ""


class Connector:
    """Base class of every connector. Override :meth:`deliver`; the rest is optional."""

    #: Unique name; deliveries, metrics labels and routing rules refer to it.
    name: ClassVar[str]
    #: The settings section model (``HUB_<SECTION>__FIELD``).
    settings_model: ClassVar[type[ConnectorSettings]] = ConnectorSettings
    #: Section name in the settings; defaults to ``name``. Share it with a plugin's source.
    settings_section: ClassVar[str | None] = None
    #: One-line description for ``hub plugins`` and ``/api/v1/connectors``.
    description: ClassVar[str] = ""
    #: Set by the hub before :meth:`start`: attachment content and other ledger look-ups a
    #: connector may need (:class:`hub.documents.DocumentStore`). None outside a hub.
    documents: DocumentStore | None = None
    #: Set by the hub before :meth:`start`: the hub's own settings (``smtp``, ``public_url``,
    #: ``units_file``) for connectors that need more than their section. None outside a hub.
    hub_settings: HubSettings | None = None

    def __init__(
        self, settings: ConnectorSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.transport = transport

    @classmethod
    def section(cls) -> str:
        return cls.settings_section or cls.name

    async def start(self) -> None:
        """Open clients. Called once before the first delivery."""

    async def deliver(self, job: Job) -> Receipt:
        """Deliver ``job.document``. Return a receipt or raise a :class:`DeliveryError`."""
        raise NotImplementedError

    async def reconcile(self, job: Job, error: AmbiguousError) -> Receipt | None:
        """After an ambiguous failure: did the remote side get it?

        Return the receipt of what already exists (the delivery is done, nothing is sent again),
        or None when it does not exist (the dispatcher retries normally). Connectors whose
        remote side honours the idempotency key need not override this.
        """
        return None

    async def health(self) -> list[HealthCheck]:
        """Checks for ``hub doctor`` and ``/readyz``: reachable, authorised, configured."""
        return []

    async def aclose(self) -> None:
        """Release clients. Called once at shutdown."""
