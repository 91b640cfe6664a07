"""The courier contractor behind a small interface, so that a second contractor is a plugin.

The connector and the tracking source speak only :class:`CourierClient`. The contractor is a
setting (``HUB_POSTAL__CONTRACTOR``): ``fancourier`` is built in; another package adds one by
declaring a factory in the entry-point group ``hub_postal.contractors``::

    [project.entry-points."hub_postal.contractors"]
    cargus = "hub_cargus:make_client"      # (settings, transport) -> CourierClient
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import entry_points
from typing import Protocol, runtime_checkable

import httpx

from hub.connectors import HealthCheck
from hub.errors import ConfigurationError
from hub_postal.address import Addressee
from hub_postal.settings import PostalSettings

__all__ = [
    "CONTRACTOR_ENTRY_POINT_GROUP",
    "CourierClient",
    "CreatedShipment",
    "Proof",
    "Shipment",
    "Tracking",
    "TrackingEventIn",
    "make_courier_client",
]

CONTRACTOR_ENTRY_POINT_GROUP = "hub_postal.contractors"


@dataclass(frozen=True, slots=True)
class Shipment:
    """One shipment to create. ``reference`` travels with it and finds it again after a lost
    answer (the delivery's idempotency key)."""

    reference: str
    addressee: Addressee
    weight_kg: float
    envelopes: int
    proof_of_delivery: bool
    observation: str

    def __repr__(self) -> str:
        return f"Shipment(reference={self.reference!r}, <addressee masked>)"


@dataclass(frozen=True, slots=True)
class CreatedShipment:
    awb: str
    tariff_ron: float | None = None


@dataclass(frozen=True, slots=True)
class TrackingEventIn:
    code: str
    description: str
    location: str
    occurred_at: datetime | None


@dataclass(slots=True)
class Tracking:
    """What the courier knows about one AWB: its events, and who signed (personal data)."""

    awb: str
    events: list[TrackingEventIn] = field(default_factory=list)
    signer: str | None = None
    signed_at: datetime | None = None

    def __repr__(self) -> str:
        return f"Tracking(awb={self.awb!r}, events={len(self.events)}, <signer masked>)"


@dataclass(frozen=True, slots=True)
class Proof:
    """The signed proof of delivery (scan or ePOD) as the courier returns it."""

    awb: str
    signer: str | None
    signed_at: datetime | None
    content: bytes
    content_type: str
    filename: str

    def __repr__(self) -> str:
        return f"Proof(awb={self.awb!r}, {len(self.content)} bytes, <signer masked>)"


@runtime_checkable
class CourierClient(Protocol):
    """What the hub needs from a courier. Methods raise :class:`hub.errors.DeliveryError`."""

    name: str

    async def create_shipment(self, shipment: Shipment) -> CreatedShipment:
        """Create one shipment (its AWB). PermanentError with the refused field paths when the
        courier validates it away; TransientError/AmbiguousError as usual."""
        ...

    async def find_shipment(self, reference: str) -> CreatedShipment | None:
        """The shipment created with ``reference`` recently, if any (after a lost answer)."""
        ...

    async def track(self, awbs: Sequence[str]) -> list[Tracking]:
        """Tracking of many AWBs in one call."""
        ...

    async def proof(self, awb: str) -> Proof | None:
        """The signed proof of delivery, or None while the courier has none."""
        ...

    async def health(self) -> list[HealthCheck]: ...

    async def aclose(self) -> None: ...


Factory = Callable[[PostalSettings, httpx.AsyncBaseTransport | None], CourierClient]


def _factories() -> dict[str, Factory]:
    from hub_postal.fancourier import FanCourierClient

    found: dict[str, Factory] = {"fancourier": FanCourierClient}
    for entry in entry_points(group=CONTRACTOR_ENTRY_POINT_GROUP):
        found.setdefault(entry.name, entry.load())
    return found


def make_courier_client(
    settings: PostalSettings, transport: httpx.AsyncBaseTransport | None = None
) -> CourierClient:
    factories = _factories()
    factory = factories.get(settings.contractor)
    if factory is None:
        raise ConfigurationError(
            f"unknown courier contractor {settings.contractor!r} (HUB_POSTAL__CONTRACTOR; "
            f"installed: {', '.join(sorted(factories))})"
        )
    return factory(settings, transport)
