"""The ``noop`` connector: accepts every delivery at once. For dispatch benchmarks, demos and
smoke tests of routing; route nothing real to it."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from hub.connectors import Connector, ConnectorSettings
from hub.hookspecs import hookimpl
from hub.models import Job, Receipt

__all__ = ["NoopConnector"]


class NoopSettings(ConnectorSettings):
    concurrency: int = Field(default=256, ge=1, le=4096, description="Deliveries in flight at once")


class NoopConnector(Connector):
    name = "noop"
    settings_model = NoopSettings
    description = "Accepts every delivery immediately (benchmarks, demos)"

    async def deliver(self, job: Job) -> Receipt:
        return Receipt(remote_id=job.idempotency_key)


@hookimpl(trylast=True)
def hub_register_connectors(register: Any) -> None:
    register(NoopConnector)
