"""WEBCON BPS plugin of the registry hub: registration, status sync, release, and a simulator.

* :class:`hub_webcon.connector.WebconConnector` — the ``webcon`` connector;
* :class:`hub_webcon.status_sync.WebconStatusSource` — the ``webcon-status`` source;
* :mod:`hub_webcon.release` — ``POST /api/v1/documents/{id}/release``;
* :mod:`hub_webcon.simulator` — a WEBCON BPS simulator faithful to the published OpenAPI.

See docs/webcon.md.
"""
