"""The ``postal`` section (``HUB_POSTAL__…``), shared by the courier connector, the tracking
source, the API, the manifest and the contract report.

Every field has a default so that a hub without a courier contract still starts; a courier
dispatch while :attr:`PostalSettings.configured` is false dead-letters with a message naming the
variables to set.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from hub.connectors import ConnectorSettings
from hub_postal.s10 import S10Range

__all__ = [
    "COURIER_SERVICES",
    "POST_SERVICES",
    "ContractSettings",
    "Network",
    "PostalSettings",
    "SenderSettings",
    "Service",
    "TrackingSettings",
]


class Service(StrEnum):
    """What the registry can send."""

    SIMPLE = "simple_letter"
    REGISTERED = "registered_letter"
    REGISTERED_AR = "registered_ar"
    COURIER = "courier_pod"


class Network(StrEnum):
    """Who carries it."""

    POSTA_ROMANA = "posta_romana"
    POSTA_MILITARA = "posta_militara"
    COURIER = "courier"


POST_SERVICES = frozenset({Service.SIMPLE, Service.REGISTERED, Service.REGISTERED_AR})
COURIER_SERVICES = frozenset({Service.COURIER})

#: Romanian labels of the services, for manifests, reports and proof documents.
SERVICE_LABELS: dict[str, str] = {
    Service.SIMPLE: "Scrisoare simplă",
    Service.REGISTERED: "Scrisoare recomandată",
    Service.REGISTERED_AR: "Recomandată cu confirmare de primire",
    Service.COURIER: "Curier cu confirmare de livrare semnată",
}
NETWORK_LABELS: dict[str, str] = {
    Network.POSTA_ROMANA: "Poșta Română",
    Network.POSTA_MILITARA: "Poșta Militară",
    Network.COURIER: "Curier",
}

#: Courier event codes (FAN Courier's) → shipment state.
DEFAULT_STATE_CODES: dict[str, str] = {
    "C0": "picked_up",
    "H3": "in_transit",
    "H10": "in_transit",
    "H1": "in_transit",
    "C1": "out_for_delivery",
    "S1": "out_for_delivery",
    "S12": "out_for_delivery",
    "S2": "delivered",
    "S6": "refused",
    "S7": "refused",
    "S43": "returned",
    "S50": "lost",
}


DEFAULT_TARIFFS: dict[Service, Decimal] = {
    Service.SIMPLE: Decimal("3.50"),
    Service.REGISTERED: Decimal("8.50"),
    Service.REGISTERED_AR: Decimal("11.00"),
    Service.COURIER: Decimal("18.00"),
}


class SenderSettings(BaseModel):
    """The institution as the sender (printed on AWBs and manifests). Not personal data."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="Primăria Municipiului Timișoara", description="Sender's name")
    contact_person: str = Field(default="Registratură", description="Contact on the AWB")
    phone: str = Field(default="0256408300", description="Sender's phone for the courier")
    county: str = Field(default="Timiș", description="Sender's county")
    locality: str = Field(default="Timișoara", description="Sender's locality")
    street: str = Field(default="Bulevardul C.D. Loga", description="Sender's street")
    number: str = Field(default="1", description="Sender's street number")
    postal_code: str = Field(default="300030", description="Sender's postal code")


class TrackingSettings(BaseModel):
    """The ``postal-tracking`` source: follows courier shipments until they end."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Poll the courier for open shipments")
    interval_seconds: float = Field(default=900.0, gt=0, description="Seconds between rounds")
    batch_size: int = Field(
        default=50, ge=1, le=500, description="AWBs asked in one tracking request"
    )
    stuck_after_hours: float = Field(
        default=72.0, gt=0, description="A shipment in one state longer than this is flagged"
    )
    state_codes: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_STATE_CODES),
        description="Courier event code → state (picked_up, in_transit, out_for_delivery, "
        "delivered, refused, returned, lost); unlisted codes are kept but change nothing",
    )


class ContractSettings(BaseModel):
    """The postal services contract: its period, ceiling and tariffs."""

    model_config = ConfigDict(extra="forbid")

    number: str = Field(default="", max_length=60, description="Contract number, for the report")
    start: date | None = Field(default=None, description="First day of the contract")
    end: date | None = Field(default=None, description="Last day of the contract")
    ceiling_ron: Decimal = Field(
        default=Decimal("0"), ge=0, description="Contract value (RON, VAT included); 0: none"
    )
    tariffs_ron: dict[Service, Decimal] = Field(
        default_factory=lambda: dict(DEFAULT_TARIFFS),
        description="Price per item and service (RON, VAT included); services not set keep "
        "their default",
    )
    warn_ratio: float = Field(
        default=1.0,
        gt=0,
        description="Warn when the projected spending reaches this share of the ceiling",
    )

    @field_validator("tariffs_ron")
    @classmethod
    def _all_services(cls, v: dict[Service, Decimal]) -> dict[Service, Decimal]:
        if any(price < 0 for price in v.values()):
            raise ValueError("a tariff cannot be negative")
        return {**DEFAULT_TARIFFS, **v}


def _default_s10() -> dict[Service, S10Range]:
    return {
        Service.REGISTERED: S10Range(prefix="RR"),
        Service.REGISTERED_AR: S10Range(prefix="RA"),
    }


class PostalSettings(ConnectorSettings):
    """The ``postal`` section."""

    contractor: str = Field(
        default="fancourier",
        description="Courier contractor client: 'fancourier' or one a plugin registers "
        "(entry-point group hub_postal.contractors)",
    )
    base_url: str = Field(default="", description="Courier API, e.g. https://api.fancourier.ro")
    client_id: str = Field(default="", description="Courier client (account) id")
    username: str = Field(default="", description="Courier API user")
    password: SecretStr = Field(default=SecretStr(""), description="Courier API password")
    token_refresh_margin_seconds: float = Field(
        default=300.0, ge=0, description="Log in again this long before the token expires"
    )
    courier_service: str = Field(
        default="Cont Colector", description="The courier's service name on the AWB"
    )
    proof_of_delivery: bool = Field(
        default=True, description="Ask for the signed proof of delivery returned to sender"
    )
    proof_option: str = Field(
        default="X", max_length=4, description="Courier option code that asks for the proof"
    )
    default_weight_kg: float = Field(default=0.2, gt=0, description="Weight of one letter, kg")
    sender: SenderSettings = Field(default_factory=SenderSettings, description="The sender")
    tracking: TrackingSettings = Field(default_factory=TrackingSettings, description="Tracking")
    contract: ContractSettings = Field(default_factory=ContractSettings, description="Contract")
    s10: dict[Service, S10Range] = Field(
        default_factory=lambda: _default_s10(),
        description="S10 ranges (pre-printed labels) per registered post service; services not "
        "set keep their default range",
    )
    require_registered: bool = Field(
        default=True,
        description="Refuse a dispatch for a document that has no registration number yet",
    )
    proof_kind: str = Field(
        default="confirmare_primire",
        description="Kind of the hub document a proof of delivery becomes (routed like any)",
    )
    max_attachment_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1, description="Largest attachment to print, bytes"
    )

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, v: str) -> str:
        if v and not re.match(r"^https?://[^/]", v):
            raise ValueError("must start with https:// (or http:// for a local simulator)")
        return v.rstrip("/")

    @field_validator("s10")
    @classmethod
    def _registered_only(cls, v: dict[Service, S10Range]) -> dict[Service, S10Range]:
        wrong = sorted(k.value for k in v if k not in (Service.REGISTERED, Service.REGISTERED_AR))
        if wrong:
            raise ValueError(f"only registered post services have S10 numbers, not {wrong}")
        merged = {**_default_s10(), **v}
        ranges = sorted(merged.items(), key=lambda kv: (kv[1].prefix, kv[1].first))
        for (a, ra), (b, rb) in pairwise(ranges):
            if ra.prefix == rb.prefix and rb.first <= ra.last:
                raise ValueError(
                    f"the S10 ranges of {a.value} and {b.value} overlap (prefix {ra.prefix}): "
                    "give each service its own prefix or its own serials"
                )
        return merged

    @property
    def configured(self) -> bool:
        return not self.missing()

    def missing(self) -> list[str]:
        """Environment variables still to set before a courier shipment can be sent."""
        out = []
        if not self.base_url:
            out.append("HUB_POSTAL__BASE_URL")
        if not self.client_id:
            out.append("HUB_POSTAL__CLIENT_ID")
        if not self.username:
            out.append("HUB_POSTAL__USERNAME")
        if not self.password.get_secret_value():
            out.append("HUB_POSTAL__PASSWORD")
        return out
