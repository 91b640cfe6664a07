"""Settings of the ``webcon`` section (``HUB_WEBCON__…``), shared by the connector and the status
sync source.

Every field has a default so that a hub without WEBCON configured still starts; a delivery routed
to ``webcon`` while :attr:`WebconSettings.configured` is false dead-letters with a message naming
the variables to set, and ``hub doctor`` says the same.

The field map is per document kind: ``forms.<kind>`` (``forms.default`` for every other kind)
names the workflow, form type, business entity and path, and maps hub fields onto WEBCON form
field guids::

    HUB_WEBCON__FORMS__PETITIE__WORKFLOW_GUID=…
    HUB_WEBCON__FORMS__PETITIE__FIELDS__SUBJECT=<field guid>
    HUB_WEBCON__FORMS__PETITIE__FIELDS__RECEIVED_AT__GUID=<field guid>
    HUB_WEBCON__FORMS__PETITIE__FIELDS__RECEIVED_AT__TYPE=DateTime
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from hub.connectors import ConnectorSettings

__all__ = [
    "HUB_FIELDS",
    "FieldMapping",
    "FormSettings",
    "ReleaseSettings",
    "StatusSyncSettings",
    "WebconSettings",
]

#: Hub fields a field map may name (plus ``metadata_<key>``).
HUB_FIELDS: frozenset[str] = frozenset(
    {
        "id",
        "source",
        "external_id",
        "channel",
        "kind",
        "subject",
        "body",
        "received_at",
        "created_at",
        "department",
        "due_date",
        "sender_type",
        "sender_name",
        "sender_cnp",
        "sender_cui",
        "sender_id",
        "sender_email",
        "sender_phone",
        "sender_address",
        "attachment_count",
    }
)

FieldType = Literal[
    "SingleLine", "Multiline", "Email", "DateTime", "Date", "Int", "Decimal", "Boolean"
]
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _guid(value: str | None) -> str | None:
    if value is not None and value != "" and not _GUID.match(value):
        raise ValueError("must be a guid (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")
    return value or None


class FieldMapping(BaseModel):
    """One WEBCON form field a hub field is written to."""

    model_config = ConfigDict(extra="forbid")

    guid: str = Field(description="Guid of the WEBCON form field")
    type: FieldType | None = Field(
        default=None,
        description="WEBCON field type: sends a typed `value` (e.g. DateTime as ISO 8601); "
        "empty sends the text form (`svalue`)",
    )

    @field_validator("guid")
    @classmethod
    def _check(cls, v: str) -> str:
        return str(_guid(v))


class FormSettings(BaseModel):
    """Where one kind of document is registered, and how its fields map."""

    model_config = ConfigDict(extra="forbid")

    workflow_guid: str = Field(description="Guid of the WEBCON workflow that registers this kind")
    form_type_guid: str = Field(description="Guid of the form type (decides the number pattern)")
    business_entity_guid: str | None = Field(
        default=None, description="Guid of the business entity (company); empty: WEBCON's default"
    )
    path: str = Field(
        default="default",
        description="Path the new element takes from the start step: a path guid or 'default'",
    )
    fields: dict[str, FieldMapping | str] = Field(
        default_factory=dict,
        description="Hub field → WEBCON field guid (or {guid, type}); hub fields: "
        + ", ".join(sorted(HUB_FIELDS))
        + ", metadata_<key>",
    )
    attachment_group: str | None = Field(
        default=None, description="Attachment group (category) in WEBCON; empty: the section's"
    )

    @field_validator("workflow_guid", "form_type_guid", "business_entity_guid")
    @classmethod
    def _guids(cls, v: str | None) -> str | None:
        return _guid(v)

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        return v if v.lower() == "default" else str(_guid(v))

    @field_validator("fields")
    @classmethod
    def _fields(cls, v: dict[str, FieldMapping | str]) -> dict[str, FieldMapping | str]:
        out: dict[str, FieldMapping | str] = {}
        for name, mapping in v.items():
            key = name.lower()
            if key not in HUB_FIELDS and not (key.startswith("metadata_") and len(key) > 9):
                raise ValueError(f"unknown hub field {name!r} (known: {sorted(HUB_FIELDS)})")
            out[key] = mapping if isinstance(mapping, FieldMapping) else FieldMapping(guid=mapping)
        return out

    def mappings(self) -> dict[str, FieldMapping]:
        return {
            k: v if isinstance(v, FieldMapping) else FieldMapping(guid=v)
            for k, v in self.fields.items()
        }


class StatusSyncSettings(BaseModel):
    """The ``webcon-status`` source: reads open elements back from WEBCON."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Poll WEBCON for the state of open documents")
    interval_seconds: float = Field(default=300.0, gt=0, description="Seconds between sync rounds")
    batch_size: int = Field(
        default=200, ge=1, le=5000, description="Documents read and updated per batch"
    )
    concurrency: int = Field(default=8, ge=1, le=256, description="Element reads in flight at once")
    step_statuses: dict[str, str] = Field(
        default_factory=dict,
        description="WEBCON step guid → hub status (e.g. 'in_lucru'); unlisted steps of open "
        "elements leave the status as it is",
    )
    finished_status: str = Field(
        default="closed", max_length=32, description="Hub status of a finished element"
    )


class ReleaseSettings(BaseModel):
    """``POST /api/v1/documents/{id}/release``: the document was handed to the petitioner."""

    model_config = ConfigDict(extra="forbid")

    path_guid: str | None = Field(
        default=None, description="Path the element takes when released; empty: fields only"
    )
    date_field_guid: str | None = Field(
        default=None, description="WEBCON field for the release date (DateTime)"
    )
    mode_field_guid: str | None = Field(
        default=None, description="WEBCON field for the release mode (ghișeu, poștă, e-mail)"
    )

    @field_validator("path_guid", "date_field_guid", "mode_field_guid")
    @classmethod
    def _guids(cls, v: str | None) -> str | None:
        return _guid(v)


class WebconSettings(ConnectorSettings):
    """The ``webcon`` section."""

    base_url: str = Field(
        default="",
        description="WEBCON BPS portal, e.g. https://bps.primariatm.ro (no trailing /api)",
    )
    client_id: str = Field(
        default="", description="Client id of the API application (Designer Studio → API)"
    )
    client_secret: SecretStr = Field(
        default=SecretStr(""), description="Client secret of the API application"
    )
    scope: str = Field(
        default="",
        description="Space-separated scopes to request; empty: all scopes granted to the client",
    )
    db_id: int = Field(default=1, ge=1, description="Content database id")
    api_version: Literal["v6.0", "v5.0"] = Field(
        default="v6.0", description="REST API version in the URL (/api/data/<version>/…)"
    )
    application_guid: str | None = Field(
        default=None,
        description="Guid of the WEBCON application: reconciliation searches in it",
    )
    correlation_field_guid: str | None = Field(
        default=None,
        description="Guid of the text field that stores the hub's document id (no duplicates "
        "without it)",
    )
    forms: dict[str, FormSettings] = Field(
        default_factory=dict,
        description="Document kind → where it is registered; 'default' for every other kind",
    )
    attachments: Literal["inline", "separate"] = Field(
        default="inline",
        description="inline: attachments travel with the new element (one call); separate: "
        "uploaded one by one after it (smaller requests)",
    )
    attachment_group: str | None = Field(
        default=None, description="Default attachment group (category) in WEBCON"
    )
    comment_template: str = Field(
        default="Înregistrat automat de hub-ul registraturii (document {document_id}, "
        "canal {channel}).",
        description="Comment added to the new element; {document_id}, {channel}, {kind}",
    )
    token_refresh_margin_seconds: float = Field(
        default=60.0, ge=0, description="Renew the bearer token this long before it expires"
    )
    search_index_lag_seconds: float = Field(
        default=120.0,
        ge=0,
        description="How long a new element may stay invisible to search (Solr indexing): "
        "within this time after an ambiguous failure, 'not found' means wait, not create again",
    )
    status_sync: StatusSyncSettings = Field(
        default_factory=StatusSyncSettings, description="Status sync (source webcon-status)"
    )
    release: ReleaseSettings = Field(
        default_factory=ReleaseSettings, description="What a release does in WEBCON"
    )

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, v: str) -> str:
        if v and not re.match(r"^https?://[^/]", v):
            raise ValueError("must start with https:// (or http:// for a local simulator)")
        return v.rstrip("/")

    @field_validator("application_guid", "correlation_field_guid")
    @classmethod
    def _guids(cls, v: str | None) -> str | None:
        return _guid(v)

    @field_validator("forms")
    @classmethod
    def _kinds(cls, v: dict[str, FormSettings]) -> dict[str, FormSettings]:
        return {k.lower(): f for k, f in v.items()}

    @model_validator(mode="after")
    def _correlation_not_mapped(self) -> WebconSettings:
        if self.correlation_field_guid:
            for kind, form in self.forms.items():
                for hub_field, m in form.mappings().items():
                    if m.guid.lower() == self.correlation_field_guid.lower() and hub_field != "id":
                        raise ValueError(
                            f"forms.{kind}.fields.{hub_field} writes to the correlation field"
                        )
        return self

    @property
    def configured(self) -> bool:
        return not self.missing()

    def missing(self) -> list[str]:
        """Environment variables still to set before anything can be registered."""
        out = []
        if not self.base_url:
            out.append("HUB_WEBCON__BASE_URL")
        if not self.client_id:
            out.append("HUB_WEBCON__CLIENT_ID")
        if not self.client_secret.get_secret_value():
            out.append("HUB_WEBCON__CLIENT_SECRET")
        if not self.forms:
            out.append("HUB_WEBCON__FORMS__DEFAULT__WORKFLOW_GUID (and FORM_TYPE_GUID)")
        return out

    def form_for(self, kind: str) -> FormSettings | None:
        return self.forms.get(kind) or self.forms.get("default")
