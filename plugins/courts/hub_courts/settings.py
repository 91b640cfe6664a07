"""Settings of the ``courts`` section (``HUB_COURTS__…``): the portal feed, the notice board
and the handover lists. Every field has a default, so a hub with the plugin installed starts
without configuration and polls the public portal for the four Timiș courts.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.sources import SourceSettings
from hub_courts.names import name_variants

__all__ = ["DEFAULT_COURTS", "DEFAULT_PARTIES", "CourtsSettings", "NoticeBoardSettings"]

DEFAULT_COURTS = (
    "CurteadeApelTIMISOARA",
    "TribunalulTIMIS",
    "JudecatoriaTIMISOARA",
    "JudecatoriaLUGOJ",
)
DEFAULT_PARTIES = ("MUNICIPIUL TIMIȘOARA", "PRIMĂRIA MUNICIPIULUI TIMIȘOARA")


class NoticeBoardSettings(BaseModel):
    """How long an act stays posted (Codul de procedură civilă, art. 163: the addressee has
    7 days to collect a citation posted at the city hall)."""

    model_config = ConfigDict(extra="forbid")

    days: int = Field(default=7, ge=1, le=90, description="Days an act stays posted")
    extend_to_working_day: bool = Field(
        default=True,
        description="A removal date on a weekend or public holiday moves to the next working "
        "day (CPC art. 181 alin. (2))",
    )
    reminder_interval_seconds: float = Field(
        default=3600.0, gt=0, description="How often acts due for removal are looked for"
    )


class CourtsSettings(SourceSettings):
    """The ``courts`` source and the plugin's features."""

    model_config = ConfigDict(extra="forbid")

    endpoint_url: str = Field(
        default="http://portalquery.just.ro/query.asmx",
        description="Address of the portal's SOAP service (the WSDL is bundled)",
    )
    courts: list[str] = Field(
        default_factory=lambda: list(DEFAULT_COURTS),
        description="Institutie codes searched (from the WSDL's enumeration)",
    )
    party_names: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PARTIES),
        description="Names of the municipality as a party; each is searched with ș/ş, ț/ţ "
        "and without diacritics",
    )
    interval_seconds: float = Field(default=900.0, gt=0, description="Seconds between polls")
    window_hours: float = Field(
        default=24.0, gt=0, le=24 * 31, description="Last-modification window of one search"
    )
    initial_lookback_days: float = Field(
        default=7.0, ge=0, description="How far back the first poll reads"
    )
    overlap_seconds: float = Field(
        default=120.0, ge=0, description="Each poll re-reads this much before its cursor"
    )
    max_windows_per_poll: int = Field(
        default=31, ge=1, description="Windows read in one poll when catching up"
    )
    result_cap: int = Field(
        default=1000, ge=2, description="Results at which the portal truncates: split and retry"
    )
    min_window_seconds: float = Field(
        default=1.0, gt=0, description="Windows are not split below this (a warning instead)"
    )
    timeout_seconds: float = Field(default=60.0, gt=0, description="Timeout of one SOAP call")
    concurrency: int = Field(default=4, ge=1, le=32, description="SOAP calls in flight at once")
    timezone: str = Field(
        default="Europe/Bucharest", description="The portal's dates are local times of this zone"
    )
    hearings_days: int = Field(
        default=120,
        ge=1,
        description="Days ahead the hearing calendar and `hub courts hearings` show",
    )
    centralizator_kinds: list[str] = Field(
        default_factory=lambda: [
            "act_procedura",
            "termen_instanta",
            "act_executare_fiscala",
            "amenda",
        ],
        description="Document kinds listed on the daily handover list (centralizator)",
    )
    notice_board: NoticeBoardSettings = Field(
        default_factory=NoticeBoardSettings, description="Notice board (afișare)"
    )

    @field_validator("courts")
    @classmethod
    def _known_courts(cls, value: list[str]) -> list[str]:
        from hub_courts.wsdl import institutions

        known = institutions()
        unknown = [c for c in value if c not in known]
        if unknown:
            raise ValueError(f"unknown Institutie code(s): {', '.join(unknown)}")
        return value

    @property
    def party_variants(self) -> list[str]:
        return name_variants(self.party_names)
