"""A simulator of portalquery.just.ro (see :mod:`hub_courts.simulator.server`)."""

from hub_courts.simulator.model import MUNICIPALITY_SPELLINGS, Store, local_now
from hub_courts.simulator.server import PortalSimulator, Switches

__all__ = ["MUNICIPALITY_SPELLINGS", "PortalSimulator", "Store", "Switches", "local_now"]
