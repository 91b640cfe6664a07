"""The contractor is a setting: the built-in FAN Courier client, or a factory another package
declares in the entry-point group ``hub_postal.contractors``."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import EntryPoint

import httpx
import pytest
from hub_postal import contractor
from hub_postal.contractor import CourierClient, CreatedShipment, Proof, Shipment, Tracking
from hub_postal.fancourier import FanCourierClient, parse_local
from hub_postal.settings import PostalSettings

from hub.connectors import HealthCheck
from hub.errors import ConfigurationError


class OtherCourier:
    """A second contractor, as a plugin would ship it."""

    name = "other"

    def __init__(
        self, settings: PostalSettings, transport: httpx.AsyncBaseTransport | None
    ) -> None:
        self.settings = settings

    async def create_shipment(self, shipment: Shipment) -> CreatedShipment:
        return CreatedShipment("OTHER-1")

    async def find_shipment(self, reference: str) -> CreatedShipment | None:
        return None

    async def track(self, awbs: Sequence[str]) -> list[Tracking]:
        return []

    async def proof(self, awb: str) -> Proof | None:
        return None

    async def health(self) -> list[HealthCheck]:
        return []

    async def aclose(self) -> None:
        return None


def test_fancourier_is_built_in() -> None:
    client = contractor.make_courier_client(PostalSettings())
    assert isinstance(client, FanCourierClient) and isinstance(client, CourierClient)


def test_a_plugin_adds_a_contractor(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = EntryPoint(name="other", value=f"{__name__}:OtherCourier", group="g")

    def fake_entry_points(*, group: str) -> list[EntryPoint]:
        assert group == contractor.CONTRACTOR_ENTRY_POINT_GROUP
        return [entry]

    monkeypatch.setattr(contractor, "entry_points", fake_entry_points)
    client = contractor.make_courier_client(PostalSettings(contractor="other"))
    assert isinstance(client, OtherCourier) and isinstance(client, CourierClient)


def test_unknown_contractor_names_the_setting() -> None:
    with pytest.raises(ConfigurationError, match="HUB_POSTAL__CONTRACTOR"):
        contractor.make_courier_client(PostalSettings(contractor="nobody"))


def test_local_times() -> None:
    parsed = parse_local("2026-07-01 10:00:00")
    assert parsed is not None and parsed.utcoffset() is not None
    assert parsed.utcoffset().total_seconds() == 3 * 3600  # type: ignore[union-attr]  # EEST
    assert parse_local("") is None and parse_local("not a date") is None
    assert parse_local("2026-01-01T10:00:00Z") is not None
