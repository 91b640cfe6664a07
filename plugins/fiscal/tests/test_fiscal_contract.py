"""The hub's connector contract kit, run for the ``fiscal`` connector."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import respx
from fiscal_helpers import fine_metadata
from hub_fiscal.connector import FiscalConnector

from hub.models import DocumentIn, Job
from hub.testing import ConnectorContract
from hub.testing.factories import make_document_in
from hub.testing.remote import MockRemote

BASE = "https://intake.dfmt.example.test"


class _Store:
    def __init__(self, blobs: dict[str, bytes]) -> None:
        self.blobs = blobs

    async def attachment_content(self, sha256: str) -> bytes | None:
        return self.blobs.get(sha256)


class TestFiscalContract(ConnectorContract):
    connector_class = FiscalConnector
    settings: dict[str, Any] = {
        "base_url": BASE,
        "secret": "whsec_a2l0LWZpc2NhbC1zZWNyZXQtdmFsdWUtMTIzNDU=",
    }

    def make_document(self) -> DocumentIn:
        return make_document_in(kind="amenda", metadata=fine_metadata())

    def make_connector(self, remote: MockRemote) -> FiscalConnector:
        conn = FiscalConnector(self.build_settings(), transport=remote.transport)
        blobs = {}
        for a in self.make_document().attachments:
            content = a.decode()
            blobs[hashlib.sha256(content).hexdigest()] = content
        conn.documents = _Store(blobs)  # type: ignore[assignment]
        return conn

    def delivery_route(self, router: respx.MockRouter, job: Job) -> respx.Route:
        return router.post(f"{BASE}/api/intake/v1/acts")

    def success_response(self, job: Job) -> httpx.Response:
        return httpx.Response(
            201,
            json={"number": "DFMT/2026/000042", "received_at": "2026-11-29T08:00:00+00:00"},
        )
