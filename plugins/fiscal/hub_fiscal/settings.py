"""Settings of the ``hub-fiscal`` plugin: two sections.

``HUB_FISCAL__*`` — the Fiscal Directorate's intake (the ``fiscal`` connector);
``HUB_DEPARTMENTS__*`` — follow-up of items delivered to units (the ``units-followup`` source).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator

from hub.connectors import ConnectorSettings
from hub.sources import SourceSettings

__all__ = ["DEMO_SECRET", "DepartmentsSettings", "FiscalSettings"]

#: The built-in secret, so that a hub without the Directorate still starts; ``hub doctor``
#: fails while it is in use.
DEMO_SECRET = "whsec_ZGVtby1maXNjYWwtc2VjcmV0LWNoYW5nZS1tZQ=="  # noqa: S105 (a placeholder)


class FiscalSettings(ConnectorSettings):
    concurrency: int = Field(default=8, ge=1, le=256, description="Deliveries in flight at once")
    base_url: str = Field(
        default="https://intake.dfmt.ro",
        pattern=r"^https?://",
        description="The Directorate's intake API (https in production)",
    )
    path: str = Field(default="/api/intake/v1/acts", description="Intake endpoint under base_url")
    secret: SecretStr = Field(
        default=SecretStr(DEMO_SECRET),
        description="Standard Webhooks secret shared with the Directorate (whsec_<base64>)",
    )
    attachments: Literal["inline", "link"] = Field(
        default="inline",
        description="inline: base64 in the JSON; link: a signed download URL from the hub "
        "(needs HUB_DOWNLOAD_LINK_SECRET and HUB_PUBLIC_URL)",
    )
    link_ttl_seconds: float = Field(
        default=24 * 3600.0, gt=0, le=7 * 24 * 3600, description="Lifetime of a download link"
    )
    max_inline_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=0,
        description="Above this total, attachments go by link (or the delivery is refused "
        "when links are off)",
    )

    @field_validator("secret")
    @classmethod
    def _whsec(cls, v: SecretStr) -> SecretStr:
        if not v.get_secret_value().startswith("whsec_"):
            raise ValueError("must start with whsec_ (Standard Webhooks secret format)")
        return v


class DepartmentsSettings(SourceSettings):
    interval_seconds: float = Field(
        default=300.0, gt=0, description="Seconds between two follow-up rounds"
    )
    ack_within_hours: float = Field(
        default=48.0, gt=0, description="An item not acknowledged after this long is overdue"
    )
    remind: bool = Field(
        default=True, description="E-mail the unit one reminder per overdue item (and head)"
    )
    digest_hour: int = Field(
        default=15,
        ge=0,
        le=23,
        description="Local hour (Europe/Bucharest) from which the day's digests go out, once "
        "per unit and day (units with digest = true)",
    )
