"""What plugin authors may import is pinned: adding or removing a public name is a decision."""

from __future__ import annotations

import importlib
import importlib.metadata

import hub

PUBLIC = {
    "AmbiguousError",
    "AttachmentRef",
    "Channel",
    "ConfigurationError",
    "Connector",
    "ConnectorSettings",
    "DeliveryError",
    "DeliveryState",
    "Destination",
    "Document",
    "DocumentIn",
    "HealthCheck",
    "HubError",
    "InputError",
    "Job",
    "PermanentError",
    "PollResult",
    "Receipt",
    "RetryPolicy",
    "Sender",
    "Source",
    "SourceSettings",
    "TransientError",
    "__version__",
    "classify_http_status",
    "hookimpl",
    "make_client",
}


def test_all_is_pinned() -> None:
    assert set(hub.__all__) == PUBLIC
    assert len(hub.__all__) == len(PUBLIC), "no duplicates in __all__"


def test_every_public_name_is_importable() -> None:
    module = importlib.import_module("hub")
    for name in hub.__all__:
        assert getattr(module, name, None) is not None, name
    namespace: dict[str, object] = {}
    exec("from hub import *", namespace)
    assert set(namespace) >= PUBLIC


def test_public_names_are_the_real_objects() -> None:
    from hub.connectors import Connector
    from hub.errors import TransientError
    from hub.hookspecs import hookimpl

    assert hub.Connector is Connector
    assert hub.TransientError is TransientError
    assert hub.hookimpl is hookimpl
    assert issubclass(hub.TransientError, hub.DeliveryError)
    assert issubclass(hub.DeliveryError, hub.HubError)


def test_version_matches_the_distribution() -> None:
    assert hub.__version__ == importlib.metadata.version("registry-hub")
