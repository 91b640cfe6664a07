"""A simulator of the Fiscal Directorate's intake API, served on 127.0.0.1 (tests, demo)."""

from hub_fiscal.simulator.server import DirectorateSimulator, ReceivedAct

__all__ = ["DirectorateSimulator", "ReceivedAct"]
