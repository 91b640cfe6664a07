"""A simulated WEBCON BPS (REST API v6.0 / v5.0), faithful to the published OpenAPI document.

See :mod:`hub_webcon.simulator.server` for what it serves and :mod:`.faults` for the faults it
can inject; ``python -m hub_webcon.simulator --help`` runs it on its own.
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
