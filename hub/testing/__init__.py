"""The connector contract kit: standard tests and test data for connector authors.

``from hub.testing import ConnectorContract`` gives a connector its standard tests in one class
(see :mod:`hub.testing.contract` and ``docs/connectors.md``); the pytest plugin
(:mod:`hub.testing.plugin`, loaded through the ``pytest11`` entry point) adds the ``hub_document``
and ``hub_job`` fixtures; :class:`~hub.testing.loopback.LoopbackServer` serves a simulator's
aiohttp application on 127.0.0.1. Install with the ``testing`` extra: ``registry-hub[testing]``.

The contract and the respx helpers are imported on first use, not here: pytest loads the plugin
in every project that has the hub installed, and that must cost nothing and need no respx.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hub.testing.factories import (
    document_from,
    fake_sender,
    make_document,
    make_document_in,
    make_job,
    personal_values,
    valid_cnp,
)

if TYPE_CHECKING:
    from hub.testing.contract import ConnectorContract
    from hub.testing.hubrun import HubRun, dispatching, run_through_hub
    from hub.testing.loopback import LoopbackServer
    from hub.testing.remote import MockRemote

__all__ = [
    "ConnectorContract",
    "HubRun",
    "LoopbackServer",
    "MockRemote",
    "dispatching",
    "document_from",
    "fake_sender",
    "make_document",
    "make_document_in",
    "make_job",
    "personal_values",
    "run_through_hub",
    "valid_cnp",
]

_LAZY = {
    "ConnectorContract": "hub.testing.contract",
    "HubRun": "hub.testing.hubrun",
    "run_through_hub": "hub.testing.hubrun",
    "dispatching": "hub.testing.hubrun",
    "LoopbackServer": "hub.testing.loopback",
    "MockRemote": "hub.testing.remote",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hub.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
