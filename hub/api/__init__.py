"""The hub's HTTP API (FastAPI): intake, documents, deliveries, connectors, metrics and probes.

The app only serves requests; ``hub run`` runs it beside :meth:`hub.runtime.Hub.run_workers` in
one event loop, so the API never starts or stops the dispatcher itself.
"""

from hub.api.app import create_app

__all__ = ["create_app"]
