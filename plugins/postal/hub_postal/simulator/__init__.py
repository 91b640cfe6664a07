"""A simulated courier API shaped like FAN Courier's public API v2, served on 127.0.0.1.

See :mod:`hub_postal.simulator.server`; ``hub demo`` runs it (:mod:`hub_postal.demo`).
"""

from hub_postal.simulator.server import CourierSimulator, FaultRule, SimShipment

__all__ = ["CourierSimulator", "FaultRule", "SimShipment"]
