"""The ``postal`` connector: hands a courier dispatch to the contractor and returns its AWB.

A courier dispatch (``POST /api/v1/dispatches`` with service ``courier_pod``) is a delivery of
the answered document to ``postal`` whose target is the dispatch id; the post services never
reach a connector (they go on the daily manifest). ``deliver`` reads the dispatch from the
plugin's table, creates the shipment (with the signed proof returned to sender when
``proof_of_delivery`` is on), records the AWB on the dispatch and returns it as the receipt's
``remote_id``.

No duplicates: the courier API has no idempotency key, so the delivery's key travels in the
shipment's ``content`` field; after an ambiguous failure, and before any attempt that may
follow an earlier one, :meth:`reconcile` / ``deliver`` search the recent AWBs for it.
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from hub.connectors import Connector, HealthCheck
from hub.errors import AmbiguousError, DeliveryError, PermanentError
from hub.log import get_logger
from hub.models import Job, Receipt
from hub_postal.address import Addressee
from hub_postal.contractor import CourierClient, CreatedShipment, Shipment, make_courier_client
from hub_postal.settings import PostalSettings

__all__ = ["DispatchLookup", "PostalConnector"]

log = get_logger("hub_postal.connector")


class DispatchLookup(Protocol):
    """What the connector needs of the plugin's store (a fake one in unit tests)."""

    async def get(self, dispatch_id: str) -> dict[str, Any] | None: ...

    async def set_awb(
        self, dispatch_id: str, awb: str, actor: str, cost_bani: int | None = None
    ) -> None: ...


class PostalConnector(Connector):
    name = "postal"
    settings_model = PostalSettings
    description = "Courier shipments of outgoing correspondence (AWB, signed proof of delivery)"
    settings: PostalSettings

    def __init__(self, settings: Any, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(settings, transport=transport)
        self.courier: CourierClient = make_courier_client(self.settings, transport)
        self._dispatches: DispatchLookup | None = None

    @property
    def dispatches(self) -> DispatchLookup:
        if self._dispatches is None:
            if self.documents is None:
                raise PermanentError("the postal connector runs only inside a hub")
            from hub_postal.store import PostalStore

            self._dispatches = PostalStore(self.documents.ledger, self.documents.runner)
        return self._dispatches

    @dispatches.setter
    def dispatches(self, value: DispatchLookup) -> None:
        self._dispatches = value

    async def aclose(self) -> None:
        await self.courier.aclose()

    async def _dispatch(self, job: Job) -> dict[str, Any]:
        if not self.settings.configured:
            raise PermanentError(
                "the courier is not configured: set " + ", ".join(self.settings.missing()),
                error_type="not_configured",
            )
        if not job.target:
            raise PermanentError("a postal delivery needs a dispatch id as its target")
        dispatch = await self.dispatches.get(job.target)
        if dispatch is None:
            raise PermanentError(f"no dispatch {job.target}", error_type="unknown_dispatch")
        return dispatch

    def _shipment(self, job: Job, dispatch: dict[str, Any]) -> Shipment:
        addressee = Addressee.model_validate(dispatch["addressee"])
        reg = dispatch.get("registration_number") or job.document.registration_number or ""
        return Shipment(
            reference=job.idempotency_key,
            addressee=addressee,
            weight_kg=max(int(dispatch.get("weight_grams") or 0) / 1000, 0.001),
            envelopes=1,
            proof_of_delivery=self.settings.proof_of_delivery,
            observation=f"Răspuns la nr. {reg}" if reg else "Corespondență",
        )

    async def deliver(self, job: Job) -> Receipt:
        dispatch = await self._dispatch(job)
        if dispatch.get("tracking_number"):
            return self._receipt(job, CreatedShipment(str(dispatch["tracking_number"])), True)
        if await self._may_have_sent(job):
            found = await self.courier.find_shipment(job.idempotency_key)
            if found is not None:
                return await self._adopt(job, found, reconciled=True)
        created = await self.courier.create_shipment(self._shipment(job, dispatch))
        return await self._adopt(job, created, reconciled=False)

    async def _may_have_sent(self, job: Job) -> bool:
        """An earlier attempt of this delivery (also before a replay) may have created it."""
        if job.attempt > 1:
            return True
        if self.documents is None:
            return False
        return await self.documents.attempt_count(job.delivery_id) > 0

    async def reconcile(self, job: Job, error: AmbiguousError) -> Receipt | None:
        found = await self.courier.find_shipment(job.idempotency_key)
        if found is None:
            return None
        return await self._adopt(job, found, reconciled=True)

    async def _adopt(self, job: Job, created: CreatedShipment, *, reconciled: bool) -> Receipt:
        # The cost stays the contract's tariff (set at request time); the courier's own
        # price is kept in the receipt for reconciling the invoice.
        try:
            await self.dispatches.set_awb(str(job.target), created.awb, f"connector:{self.name}")
        except DeliveryError:
            raise
        except Exception as exc:
            # The AWB exists; the next attempt finds it by its reference and records it.
            raise AmbiguousError(
                f"AWB {created.awb} created but not recorded ({type(exc).__name__})"
            ) from None
        log.info(
            "hub_postal.awb_created",
            dispatch_id=job.target,
            awb=created.awb,
            reconciled=reconciled,
        )
        return self._receipt(job, created, reconciled)

    def _receipt(self, job: Job, created: CreatedShipment, reconciled: bool) -> Receipt:
        return Receipt(
            remote_id=created.awb,
            status="registered",
            data={
                "dispatch_id": job.target,
                "awb": created.awb,
                "contractor": self.courier.name,
                "tariff_ron": created.tariff_ron,
                "reconciled": reconciled,
            },
        )

    async def health(self) -> list[HealthCheck]:
        try:
            return await self.courier.health()
        except DeliveryError as exc:
            return [HealthCheck(name="courier", ok=False, detail=exc.message)]
