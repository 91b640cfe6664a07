"""The hub's connector contract kit, run for the core's ``email`` connector.

The kit speaks HTTP, so it runs the connector's HTTP submission path (a mail gateway's API);
the SMTP path is proven end to end against a real SMTP server in ``test_email_e2e.py``.
"""

from __future__ import annotations

from typing import Any

import respx

from hub.builtin.email import EmailConnector
from hub.models import Job
from hub.testing import ConnectorContract
from hub.testing.remote import MockRemote

GATEWAY = "https://mail-gateway.example.test/v1/messages/mime"


class _Store:
    """Every attachment the kit's document has (contents from the factory)."""

    async def attachment_content(self, sha256: str) -> bytes | None:
        return b"%PDF-1.4 test\n"


class TestEmailContract(ConnectorContract):
    connector_class = EmailConnector
    target = "SPFL"
    settings: dict[str, Any] = {
        "submission": "http",
        "http_url": GATEWAY,
        "http_token": "gateway-token-value-123",
        "recipients": {"SPFL": "spfl@primariatm.test"},
    }

    def make_connector(self, remote: MockRemote) -> EmailConnector:
        conn = EmailConnector(self.build_settings(), transport=remote.transport)
        conn.documents = _Store()  # type: ignore[assignment]
        return conn

    def delivery_route(self, router: respx.MockRouter, job: Job) -> respx.Route:
        return router.post(GATEWAY)
