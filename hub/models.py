"""The hub's data: documents coming in, deliveries going out, receipts coming back.

Personal data lives in :class:`Sender` (name, CNP, address, e-mail, phone). Its ``__repr__`` is
masked so that a document printed in a traceback or a log line never shows a person.
"""

from __future__ import annotations

import base64
import binascii
import enum
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.ro import cf as ro_cf
from stdnum.ro import cnp as ro_cnp

__all__ = [
    "KNOWN_KINDS",
    "AttachmentIn",
    "AttachmentRef",
    "Channel",
    "DeliveryState",
    "Document",
    "DocumentIn",
    "Job",
    "Receipt",
    "Sender",
]


class Channel(enum.StrEnum):
    """How a document entered the institution."""

    GHISEU = "ghiseu"
    EMAIL = "email"
    POSTA = "posta"
    EFACTURA = "efactura"
    INSTANTA = "instanta"
    EXECUTOR = "executor"
    API = "api"


#: Document kinds the core knows; plugins may classify into others (lower_snake_case).
KNOWN_KINDS: frozenset[str] = frozenset(
    {
        "petitie",
        "petitie_anonima",
        "cerere_544",
        "factura",
        "act_procedura",
        "termen_instanta",
        "act_executare_fiscala",
        "amenda",
        "corespondenta",
        "cerere_audienta",
        "altele",
    }
)

KIND_PATTERN = r"^[a-z][a-z0-9_]{1,63}$"
_NAME = r"^[a-z][a-z0-9_.-]{0,63}$"


class DeliveryState(enum.StrEnum):
    """Where a delivery stands. ``waiting`` means it depends on another delivery first."""

    WAITING = "waiting"
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    RETRY_SCHEDULED = "retry_scheduled"
    DELIVERED = "delivered"
    DEAD = "dead"
    CANCELLED = "cancelled"


class Sender(BaseModel):
    """The petitioner: a natural person (``pf``) or a legal entity (``pj``). Personal data."""

    # Inputs are personal data: a ValidationError's text must not repeat them.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, hide_input_in_errors=True)

    type: Literal["pf", "pj"]
    name: str | None = Field(default=None, max_length=300)
    cnp: str | None = Field(default=None, description="Romanian personal numeric code (pf)")
    cui: str | None = Field(default=None, description="Company tax id, optional RO prefix (pj)")
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    address: str | None = Field(default=None, max_length=500)

    @field_validator("cnp")
    @classmethod
    def _valid_cnp(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        try:
            return str(ro_cnp.validate(value))
        except StdnumValidationError:
            # The value itself is personal data: never echo it.
            raise ValueError("not a valid CNP (13 digits with a correct check digit)") from None

    @field_validator("cui")
    @classmethod
    def _valid_cui(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        try:
            return str(ro_cf.validate(value))
        except StdnumValidationError:
            raise ValueError("not a valid CUI/CIF (check digit or length is wrong)") from None

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str | None) -> str | None:
        if value and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            raise ValueError("not a valid e-mail address")
        return value or None

    def __repr__(self) -> str:
        return f"Sender(type={self.type!r}, <personal data masked>)"

    __str__ = __repr__


class AttachmentIn(BaseModel):
    """An attachment as it arrives at intake: content inline, base64-encoded."""

    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(min_length=3, max_length=127)
    content_base64: str = Field(repr=False)

    def decode(self) -> bytes:
        try:
            return base64.b64decode(self.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("content_base64 is not valid base64") from None


class AttachmentRef(BaseModel):
    """A stored attachment: content-addressed by sha256, never by the sender's file name."""

    model_config = ConfigDict(frozen=True)

    filename: str
    content_type: str
    size: int
    sha256: str


class DocumentIn(BaseModel):
    """A document offered to the hub by a source, the API or the CLI."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, hide_input_in_errors=True)

    source: Annotated[str, Field(pattern=_NAME)] = "api"
    external_id: str = Field(min_length=1, max_length=200)
    channel: Channel = Channel.API
    kind: Annotated[str, Field(pattern=KIND_PATTERN)] | None = Field(
        default=None, description="Document kind; left empty, classification plugins decide"
    )
    subject: str = Field(default="", max_length=1000)
    body: str = Field(default="", max_length=200_000)
    sender: Sender | None = None
    received_at: datetime | None = None
    department: str | None = Field(default=None, max_length=64)
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=100)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _anonymous(self) -> DocumentIn:
        if self.kind == "petitie_anonima" and self.sender is not None and self.sender.name:
            raise ValueError("an anonymous petition (petitie_anonima) cannot name its sender")
        return self


class Document(BaseModel):
    """A document in the ledger, as connectors and the API see it."""

    model_config = ConfigDict(extra="ignore")

    id: str
    source: str
    external_id: str
    channel: Channel
    kind: str
    subject: str = ""
    body: str = ""
    sender: Sender | None = None
    received_at: datetime | None = None
    created_at: datetime
    department: str | None = None
    registration_number: str | None = None
    registered_at: datetime | None = None
    due_date: date | None = None
    status: str = "received"
    attachments: list[AttachmentRef] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)


class Receipt(BaseModel):
    """What a connector hands back on success.

    ``registration_number`` / ``registered_at`` are written onto the document (the WEBCON connector
    returns them); ``remote_id`` is the remote system's id for what was created; ``data`` is kept
    verbatim with the delivery (keep it free of personal data).
    """

    model_config = ConfigDict(extra="forbid")

    remote_id: str | None = None
    registration_number: str | None = None
    registered_at: datetime | None = None
    status: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


@dataclass(slots=True)
class Job:
    """One claimed delivery, handed to a connector's ``deliver``.

    ``idempotency_key`` is stable across every attempt of this delivery: send it to the remote
    side when it accepts one, and use it to reconcile when it does not.
    """

    delivery_id: int
    connector: str
    idempotency_key: str
    attempt: int
    document: Document
    target: str | None = None
