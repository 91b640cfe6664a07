"""Dispatch requests and returned confirmation cards: the logic the API and the CLI share.

A request names the registered document it answers, the addressee, the service and the files
to print. It is validated whole before anything is written (addresses, attachments, the answered
document); then, in one transaction:

* **courier** (``courier_pod``): the dispatch row *and* a delivery of the answered document to
  the ``postal`` connector (target = dispatch id), which creates the AWB;
* **post** (simple, registered, registered with confirmation of receipt — Poșta Română or the
  military post): the dispatch row, state ``queued``, with the next S10 number of the service's
  range for registered items; it goes on the day's manifest (:mod:`hub_postal.manifest`).

Nothing about the addressee is logged: only ids, service and county.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.errors import InputError, InvalidDocument
from hub.ids import new_id
from hub.log import get_logger
from hub.models import AttachmentIn
from hub.runtime import narrow_settings
from hub_postal import s10
from hub_postal.address import Addressee
from hub_postal.proof import ProofFile, proof_document, summary
from hub_postal.settings import (
    COURIER_SERVICES,
    Network,
    PostalSettings,
    Service,
)
from hub_postal.store import PostalStore, S10Exhausted

if TYPE_CHECKING:
    from hub.runtime import Hub

__all__ = [
    "ConfirmationIn",
    "Conflict",
    "DispatchIn",
    "NotFound",
    "PostalService",
    "postal_settings",
]

log = get_logger("hub_postal.dispatches")
ALLOWED_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "image/tiff"})


class DispatchIn(BaseModel):
    """``POST /api/v1/dispatches``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, hide_input_in_errors=True)

    document_id: str | None = Field(default=None, max_length=36, description="Hub document id")
    registration_number: str | None = Field(
        default=None, max_length=64, description="Or the document's registration number"
    )
    addressee: Addressee
    service: Service
    network: Network | None = Field(
        default=None,
        description="posta_romana (default for post services) or posta_militara; courier for "
        "courier_pod",
    )
    department: str | None = Field(
        default=None, max_length=64, description="Department paying for it; default: the document's"
    )
    weight_grams: int | None = Field(default=None, ge=1, le=30_000, description="Weight, grams")
    attachments: list[AttachmentIn] = Field(
        default_factory=list, max_length=20, description="Files to print and send"
    )

    @model_validator(mode="after")
    def _consistent(self) -> DispatchIn:
        if bool(self.document_id) == bool(self.registration_number):
            raise ValueError("give exactly one of document_id and registration_number")
        courier = self.service in COURIER_SERVICES
        if self.network is None:
            self.network = Network.COURIER if courier else Network.POSTA_ROMANA
        elif courier != (self.network == Network.COURIER):
            raise ValueError(f"service {self.service.value} is not sent by {self.network.value}")
        if courier and not self.addressee.phone:
            raise ValueError("addressee.phone: the courier needs the addressee's phone number")
        return self


class ConfirmationIn(BaseModel):
    """A returned confirmation-of-receipt card (or the post's notice that it came back)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, hide_input_in_errors=True)

    outcome: Literal["delivered", "refused", "returned"] = "delivered"
    received_at: datetime = Field(description="Date on the card (when it was signed)")
    signer: str | None = Field(default=None, max_length=200, description="Who signed the card")
    card: AttachmentIn | None = Field(default=None, description="The scanned card")

    @model_validator(mode="after")
    def _signed(self) -> ConfirmationIn:
        if self.outcome == "delivered" and not self.signer:
            raise ValueError("a delivered item needs the name of who signed for it")
        return self


class NotFound(InputError):
    status = 404


class Conflict(InputError):
    status = 409


@dataclass(slots=True)
class Created:
    dispatch: dict[str, Any]
    created: bool
    delivery_id: int | None = None


def postal_settings(hub: Hub) -> PostalSettings:
    settings: PostalSettings = narrow_settings(PostalSettings, hub.settings.section("postal"))
    return settings


def _bani(value: Decimal) -> int:
    return int((value * 100).to_integral_value())


def _decode(items: list[AttachmentIn], loc: str, limit: int) -> list[dict[str, Any]]:
    out = []
    for i, a in enumerate(items):
        ctype = a.content_type.split(";")[0].strip().lower()
        if ctype not in ALLOWED_TYPES:
            raise InvalidDocument(
                f"{loc}[{i}].content_type is not accepted (PDF, PNG, JPEG, TIFF)",
                errors=[{"loc": [loc, i, "content_type"], "msg": "unsupported media type"}],
            )
        try:
            content = base64.b64decode(a.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidDocument(
                f"{loc}[{i}].content_base64 is not valid base64",
                errors=[{"loc": [loc, i, "content_base64"], "msg": "not valid base64"}],
            ) from None
        if len(content) > limit:
            raise InvalidDocument(
                f"{loc}[{i}] is larger than {limit} bytes",
                errors=[{"loc": [loc, i], "msg": "too large"}],
            )
        out.append(
            {
                "filename": a.filename,
                "content_type": ctype,
                "size": len(content),
                "sha256": hashlib.sha256(content).hexdigest(),
                "content": content,
            }
        )
    return out


class PostalService:
    """Dispatch requests and confirmations against one hub."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.settings = postal_settings(hub)
        self.store = PostalStore(hub.ledger, hub.runner)

    async def create(
        self, body: DispatchIn, *, actor: str, idempotency_key: str | None = None
    ) -> Created:
        request_hash = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
        if idempotency_key:
            previous = await self.store.find(idempotency_key=idempotency_key)
            if previous is not None:
                if previous["request_hash"] != request_hash:
                    raise Conflict(
                        f"this Idempotency-Key was used for another dispatch ({previous['id']})"
                    )
                return Created(previous, created=False)
        doc = await self._answered(body)
        attachments = _decode(body.attachments, "attachments", self.settings.max_attachment_bytes)
        now = self.hub.ledger.clock()
        assert body.network is not None
        courier = body.service in COURIER_SERVICES
        tariff = self.settings.contract.tariffs_ron.get(body.service, Decimal("0"))
        row: dict[str, Any] = {
            "id": new_id(),
            "document_id": doc.id,
            "registration_number": doc.registration_number,
            "idempotency_key": idempotency_key,
            "request_hash": request_hash,
            "department": body.department or doc.department,
            "service": body.service.value,
            "network": body.network.value,
            "contractor": self.settings.contractor if courier else None,
            "addressee": body.addressee.model_dump(mode="json"),
            "county": body.addressee.address.county,
            "weight_grams": body.weight_grams or int(self.settings.default_weight_kg * 1000),
            "state": "requested" if courier else "queued",
            "state_since": now,
            "tracking_number": None,
            "manifest_id": None,
            "cost_bani": _bani(tariff),
            "outcome": None,
            "stuck_flagged_at": None,
            "created_at": now,
            "created_by": actor,
            "updated_at": now,
        }
        delivery_id = None
        if courier:
            delivery_id = await self.hub.documents.add_delivery(
                doc.id,
                "postal",
                target=row["id"],
                actor=actor,
                reason=f"courier dispatch {row['id']}",
                also=lambda conn: self.store.insert_dispatch(conn, row, attachments),
            )
            self.hub.dispatcher.wake()
        else:
            try:
                await self.store.insert_post_dispatch(row, attachments, self._s10(body.service))
            except S10Exhausted as exc:
                raise Conflict(f"{exc}: configure the next range (HUB_POSTAL__S10__…)") from None
        log.info(
            "hub_postal.dispatch_requested",
            dispatch_id=row["id"],
            document_id=doc.id,
            service=row["service"],
            network=row["network"],
            county=row["county"],
        )
        stored = await self.store.get(row["id"])
        assert stored is not None
        return Created(stored, created=True, delivery_id=delivery_id)

    def _s10(self, service: Service) -> Any:
        rng = self.settings.s10.get(service)
        if rng is None:
            return None
        return (
            f"s10:{service.value}",
            rng.first,
            rng.last,
            lambda serial: s10.format_s10(rng.prefix, serial, rng.country),
        )

    async def _answered(self, body: DispatchIn) -> Any:
        if body.document_id:
            doc = await self.hub.documents.get(body.document_id)
            loc = "document_id"
        else:
            found = await self.hub.runner.read(
                self.hub.ledger.find_documents,
                registration_number=body.registration_number,
                limit=2,
            )
            doc = found[0] if len(found) == 1 else None
            loc = "registration_number"
        if doc is None:
            raise InvalidDocument(
                f"{loc}: no such registered document",
                errors=[{"loc": [loc], "msg": "no such document"}],
            )
        if self.settings.require_registered and not doc.registration_number:
            raise Conflict(
                f"document {doc.id} has no registration number yet; dispatch it once it is "
                "registered"
            )
        return doc

    async def confirm(
        self, dispatch_ref: str, body: ConfirmationIn, *, actor: str
    ) -> dict[str, Any]:
        """Record a returned confirmation-of-receipt card (or a returned item) of a post
        dispatch: the proof document, the dispatch's outcome, the answered document's metadata.
        Recording the same card again changes nothing."""
        dispatch = await self.store.get(dispatch_ref)
        if dispatch is None and s10.is_valid(dispatch_ref):
            number = dispatch_ref.strip().upper().replace(" ", "")
            dispatch = await self.store.find(tracking_number=number)
        if dispatch is None:
            raise NotFound("no such dispatch (give its id or its S10 number)")
        if dispatch["network"] == Network.COURIER:
            raise Conflict("courier proofs come from the courier's tracking, not from a card")
        recorded = (dispatch.get("outcome") or {}).get("proof_document_id")
        if recorded:
            if dispatch["state"] != body.outcome:
                raise Conflict(
                    f"a card was already recorded for this dispatch ({dispatch['state']}, proof "
                    f"document {recorded})"
                )
            return dispatch
        if dispatch["state"] not in ("posted", "queued"):
            raise Conflict(f"dispatch is {dispatch['state']}")
        file = None
        if body.card is not None:
            (decoded,) = _decode([body.card], "card", self.settings.max_attachment_bytes)
            file = ProofFile(decoded["filename"], decoded["content_type"], decoded["content"])
        at = body.received_at if body.received_at.tzinfo else body.received_at.replace(tzinfo=UTC)
        doc_in = proof_document(
            self.settings, dispatch, outcome=body.outcome, at=at, signer=body.signer, file=file
        )
        prepared = self.hub.intake.prepare(doc_in, actor=actor)
        result = await self.hub.intake.submit(prepared)
        await self.store.record_outcome(
            dispatch["id"],
            body.outcome,
            {
                "at": at.isoformat(),
                "signer": body.signer,
                "proof_document_id": result.document_id,
                "proof_sha256": prepared.attachments[0].sha256 if prepared.attachments else None,
            },
            actor,
            "CARD",
        )
        await self.hub.documents.merge_metadata(
            dispatch["document_id"],
            "postal",
            summary(dispatch, outcome=body.outcome, at=at, proof_document_id=result.document_id),
            actor=actor,
            action="postal_proof",
            reason=f"dispatch {dispatch['id']}: {body.outcome} "
            f"(proof document {result.document_id})",
        )
        log.info(
            "hub_postal.card_recorded",
            dispatch_id=dispatch["id"],
            outcome=body.outcome,
            proof_document_id=result.document_id,
        )
        out = await self.store.get(dispatch["id"])
        assert out is not None
        return out
