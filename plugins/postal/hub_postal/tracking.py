"""The ``postal-tracking`` source: follows courier shipments until they end, and brings their
proofs of delivery in.

Every ``tracking.interval_seconds`` it

1. asks the courier for the tracking of the open shipments (those with an AWB, not ended), in
   batches of ``batch_size`` AWBs per request, records the events it has not seen, and moves
   each shipment to the state of its newest event (``tracking.state_codes``: picked up, in
   transit, out for delivery, delivered, refused, returned, lost);
2. for each ended shipment whose proof is not in the ledger yet, fetches the signed proof (when
   ``proof_of_delivery`` is on), records the outcome on the dispatch, writes the summary onto
   the answered document (``metadata.postal``) and returns the proof as a new document
   (:mod:`hub_postal.proof`) — committed by the hub with the poll, routed like any document
   (to WEBCON). A round that finds the proof document in the ledger marks it confirmed; until
   then it is offered again, and intake's deduplication absorbs the repeat;
3. flags shipments (and registered-with-confirmation letters) that stayed in one state longer
   than ``stuck_after_hours``: one ``STUCK`` event and one warning per stay, not per poll.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from hub.errors import DeliveryError
from hub.log import get_logger
from hub.models import DocumentIn
from hub.sources import PollResult, Source, SourceSettings
from hub_postal.contractor import CourierClient, make_courier_client
from hub_postal.proof import ProofFile, proof_document, proof_external_id, summary
from hub_postal.settings import PostalSettings
from hub_postal.store import EventIn, PostalStore

__all__ = ["PostalTrackingSource"]

log = get_logger("hub_postal.tracking")
ACTOR = "source:postal-tracking"
ENDED = ("delivered", "refused", "returned", "lost")


class PostalTrackingSource(Source):
    name = "postal-tracking"
    settings_section = "postal"
    settings_model: ClassVar[type[Any]] = PostalSettings
    description = "Courier tracking: shipment states, proofs of delivery, stuck shipments"

    def __init__(self, settings: Any, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        postal: PostalSettings = settings
        super().__init__(
            SourceSettings(
                enabled=postal.enabled and postal.tracking.enabled and postal.configured,
                interval_seconds=postal.tracking.interval_seconds,
            ),
            transport=transport,
        )
        self.postal = postal
        self.courier: CourierClient = make_courier_client(postal, transport)
        self._store: PostalStore | None = None

    @property
    def store(self) -> PostalStore:
        if self._store is None:
            assert self.documents is not None, "the tracking source runs inside a hub"
            self._store = PostalStore(self.documents.ledger, self.documents.runner)
        return self._store

    async def aclose(self) -> None:
        await self.courier.aclose()

    async def poll(self, cursor: dict[str, Any] | None) -> PollResult:
        if self.documents is None:
            return PollResult(cursor=cursor)
        counts = {"tracked": 0, "changed": 0, "proofs": 0, "stuck": 0}
        await self._confirm_proofs()
        await self._track(counts)
        documents = await self._proofs(counts)
        counts["stuck"] = await self._flag_stuck()
        log.info("hub_postal.tracking_round", **counts)
        return PollResult(
            documents=documents,
            cursor={"last_round": datetime.now(UTC).isoformat(), **counts},
        )

    async def _track(self, counts: dict[str, int]) -> None:
        codes = {k.upper(): v for k, v in self.postal.tracking.state_codes.items()}
        after = ""
        size = self.postal.tracking.batch_size
        while True:
            batch = await self.store.open_shipments(after=after, limit=size)
            if not batch:
                return
            after = batch[-1]["id"]
            by_awb = {str(d["tracking_number"]): d for d in batch}
            for tracking in await self.courier.track(list(by_awb)):
                dispatch = by_awb.get(tracking.awb)
                if dispatch is None:
                    continue
                counts["tracked"] += 1
                events = [
                    EventIn(
                        code=e.code,
                        description=e.description,
                        location=e.location,
                        occurred_at=e.occurred_at,
                        state=codes.get(e.code.upper()),
                    )
                    for e in tracking.events
                ]
                changed = await self.store.apply_events(dispatch["id"], events, ACTOR)
                if changed is None:
                    continue
                counts["changed"] += 1
                old, new = changed
                log.info(
                    "hub_postal.shipment_state",
                    dispatch_id=dispatch["id"],
                    awb=tracking.awb,
                    from_state=old,
                    to_state=new,
                )
                if new in ENDED:
                    signed_at = tracking.signed_at or max(
                        (e.occurred_at for e in events if e.state == new and e.occurred_at),
                        default=datetime.now(UTC),
                    )
                    await self.store.record_outcome(
                        dispatch["id"],
                        new,
                        {
                            "at": signed_at.isoformat(),
                            "signer": tracking.signer if new == "delivered" else None,
                        },
                        ACTOR,
                        "END",
                    )
            if len(batch) < size:
                return

    async def _proofs(self, counts: dict[str, int]) -> list[DocumentIn]:
        """Proof documents of ended shipments not yet confirmed in the ledger."""
        out = []
        for dispatch in await self.store.proofs_pending():
            outcome = dispatch["outcome"] or {}
            at = datetime.fromisoformat(outcome.get("at") or datetime.now(UTC).isoformat())
            if dispatch["state"] == "lost":
                # Nothing came back to file: the answered document learns it, and that is all.
                await self._write_back(dispatch, at)
                await self.store.record_outcome(
                    dispatch["id"], "lost", {"closed": True}, ACTOR, "END"
                )
                continue
            file = None
            signer = outcome.get("signer")
            if self.postal.proof_of_delivery and dispatch["state"] == "delivered":
                try:
                    proof = await self.courier.proof(str(dispatch["tracking_number"]))
                except DeliveryError as exc:
                    log.warning(
                        "hub_postal.proof_unavailable",
                        dispatch_id=dispatch["id"],
                        error_type=exc.error_type,
                    )
                    continue
                if proof is None:
                    continue  # not scanned yet: ask again next round
                file = ProofFile(proof.filename, proof.content_type, proof.content)
                signer = proof.signer or signer
            out.append(
                proof_document(
                    self.postal,
                    dispatch,
                    outcome=dispatch["state"],
                    at=at,
                    signer=signer,
                    file=file,
                )
            )
            if not outcome.get("summarised"):
                await self._write_back(dispatch, at)
            counts["proofs"] += 1
        return out

    async def _write_back(self, dispatch: dict[str, Any], at: datetime) -> None:
        """The outcome onto the answered document now; the proof document's id follows once it
        is committed (:meth:`_confirm_proofs`)."""
        assert self.documents is not None
        await self.documents.merge_metadata(
            dispatch["document_id"],
            "postal",
            summary(dispatch, outcome=dispatch["state"], at=at, proof_document_id=None),
            actor=ACTOR,
            action="postal_outcome",
            reason=f"dispatch {dispatch['id']} (AWB {dispatch['tracking_number']}): "
            f"{dispatch['state']}",
        )
        await self.store.record_outcome(
            dispatch["id"], dispatch["state"], {"summarised": True}, ACTOR, "END"
        )

    async def _confirm_proofs(self) -> None:
        assert self.documents is not None
        for dispatch in await self.store.proofs_pending():
            outcome = dispatch["outcome"] or {}
            if not outcome.get("summarised"):
                continue
            found = await self.documents.runner.read(
                self.documents.ledger.find_documents,
                external_id=proof_external_id(dispatch["id"]),
                limit=5,
            )
            doc = next((d for d in found if d.source == "postal"), None)
            if doc is None:
                continue
            at = datetime.fromisoformat(outcome["at"])
            sha = doc.attachments[0].sha256 if doc.attachments else None
            await self.store.record_outcome(
                dispatch["id"],
                dispatch["state"],
                {"proof_document_id": doc.id, "proof_sha256": sha},
                ACTOR,
                "END",
            )
            await self.documents.merge_metadata(
                dispatch["document_id"],
                "postal",
                summary(dispatch, outcome=dispatch["state"], at=at, proof_document_id=doc.id),
                actor=ACTOR,
                action="postal_proof",
                reason=f"dispatch {dispatch['id']}: proof document {doc.id}",
            )

    async def _flag_stuck(self) -> int:
        limit = self.postal.tracking.stuck_after_hours * 3600
        now = self.store.clock()
        flagged = 0
        for row in await self.store.stale(now - limit):
            if await self.store.flag_stuck(row["id"], row["state"]):
                flagged += 1
                hours = int((now - float(row["state_since"])) // 3600)
                log.warning(
                    "hub_postal.shipment_stuck",
                    dispatch_id=row["id"],
                    state=row["state"],
                    hours=hours,
                )
                assert self.documents is not None
                await self.documents.runner.write(
                    self.documents.ledger.record_event,
                    "postal_stuck",
                    ACTOR,
                    f"dispatch {row['id']} in state {row['state']} for {hours} h",
                    document_id=row["document_id"],
                )
        return flagged
