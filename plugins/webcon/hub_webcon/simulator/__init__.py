"""A simulated WEBCON BPS (REST API v6.0 / v5.0), faithful to the published OpenAPI document.

:mod:`~hub_webcon.simulator.server` is the server (app, OAuth2, validation against the
document, the ``/_sim`` admin API); its endpoints live in :mod:`.metadata_api` and
:mod:`.elements_api`, the catalog in :mod:`.model`, the faults it can inject in :mod:`.faults`.
``python -m hub_webcon.simulator --help`` runs it on its own.
"""

from hub_webcon.simulator.faults import FaultRule, Faults
from hub_webcon.simulator.model import Catalog, guid_for, registry_catalog
from hub_webcon.simulator.section import settings_for
from hub_webcon.simulator.server import ApiFault, WebconSimulator
from hub_webcon.simulator.spec import WebconSpec, load_spec

__all__ = [
    "ApiFault",
    "Catalog",
    "FaultRule",
    "Faults",
    "WebconSimulator",
    "WebconSpec",
    "guid_for",
    "load_spec",
    "registry_catalog",
    "settings_for",
]
