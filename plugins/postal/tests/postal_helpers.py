"""Helpers of the postal plugin's tests: a hub with the plugin against the simulator, an API
client with a token, sample addressees."""

from __future__ import annotations

# --- a hub with the postal plugin against the simulator ---------------------------------------
import asyncio
import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from hub_postal.simulator import CourierSimulator

from hub.api.app import create_app
from hub.connectors import Connector
from hub.hookspecs import hookimpl
from hub.models import Job, Receipt
from hub.runtime import Hub
from hub.testing.factories import make_document_in

FAST_RETRY = {"base_seconds": 0.01, "cap_seconds": 0.05, "max_attempts": 4}
_numbers = itertools.count(1)


class RegistrarConnector(Connector):
    """Stands in for WEBCON: gives each document a registration number."""

    name = "registrar"

    async def deliver(self, job: Job) -> Receipt:
        return Receipt(remote_id=job.document.id, registration_number=f"REG/{next(_numbers):05d}")


class RegistrarPlugin:
    @hookimpl
    def hub_register_connectors(self, register: Callable[[type[Any]], None]) -> None:
        register(RegistrarConnector)


RULES = {"fallback": {"destinations": [{"connector": "registrar"}]}}


def postal_hub_factory(
    make_hub: Callable[..., Hub], courier_sim: CourierSimulator
) -> Callable[..., Hub]:
    def build(**section: Any) -> Hub:
        settings = courier_sim.settings(**({"retry": FAST_RETRY} | section))
        return make_hub(rules=RULES, plugins=(RegistrarPlugin(),), overrides={"postal": settings})

    return build


async def registered_document(hub: Hub, **overrides: Any) -> str:
    """A document taken in and registered (its registrar delivery done)."""
    result = await hub.intake.submit(hub.intake.prepare(make_document_in(**overrides)))
    await settled(hub, result.document_id, "registrar")
    return result.document_id


async def settled(
    hub: Hub, document_id: str, connector: str, timeout: float = 15.0
) -> dict[str, Any]:
    """The document's delivery to ``connector`` once it is delivered or dead."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        rows = await hub.runner.read(hub.ledger.deliveries_of, document_id)
        mine = [r for r in rows if r["connector"] == connector]
        if mine and mine[-1]["state"] in ("delivered", "dead"):
            return mine[-1]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{connector} delivery still open: {mine}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def api_client(hub: Hub, *scopes: str) -> AsyncIterator[httpx.AsyncClient]:
    name = "-".join(scopes) + "-" + uuid.uuid4().hex[:8]
    token = await hub.runner.write(hub.ledger.create_token, name, list(scopes))
    transport = httpx.ASGITransport(app=create_app(hub))
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://hub.test",
        headers={"Authorization": f"Bearer {token}"},
    ) as client:
        yield client


def addressee(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Ana Destinatar-Test",
        "phone": "0722111222",
        "address": {
            "county": "Timiș",
            "locality": "Timișoara",
            "street": "Strada Vasile Alecsandri",
            "number": "3",
            "postal_code": "300078",
        },
    }
    data.update(overrides)
    return data
