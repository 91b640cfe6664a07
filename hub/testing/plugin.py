"""pytest plugin of the hub (entry point ``pytest11: hub_testing``): test-data fixtures.

Loaded automatically wherever the hub is installed, so it only defines fixtures: no hooks, no
configuration, no imports beyond the hub's models. Each fixture is a factory, so a test makes as
many documents or jobs as it needs, with keyword overrides::

    def test_payload(hub_job):
        job = hub_job(connector="webhook", target="DJ", subject="Cerere")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from hub.models import Document, DocumentIn, Job, Sender
from hub.testing import factories

__all__ = ["hub_document", "hub_document_in", "hub_job", "hub_sender"]


@pytest.fixture
def hub_sender() -> Callable[..., Sender]:
    """``hub_sender(**overrides)``: a fake natural person with a valid CNP."""
    return factories.fake_sender


@pytest.fixture
def hub_document_in() -> Callable[..., DocumentIn]:
    """``hub_document_in(**overrides)``: a petition as a source offers it (attachment inline)."""
    return factories.make_document_in


@pytest.fixture
def hub_document() -> Callable[..., Document]:
    """``hub_document(**overrides)``: the ledger's view of a petition, as connectors get it."""
    return factories.make_document


@pytest.fixture
def hub_job() -> Callable[..., Job]:
    """``hub_job(connector=..., target=..., attempt=..., document=..., **document_overrides)``:
    a claimed delivery as the dispatcher hands it to ``deliver``."""

    def factory(
        connector: str = "test",
        *,
        target: str | None = None,
        attempt: int = 1,
        document: Document | None = None,
        idempotency_key: str | None = None,
        **document_overrides: Any,
    ) -> Job:
        if document is None:
            document = factories.make_document(**document_overrides)
        return factories.make_job(
            connector,
            target=target,
            attempt=attempt,
            document=document,
            idempotency_key=idempotency_key,
        )

    return factory
