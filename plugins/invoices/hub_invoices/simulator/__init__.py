"""A simulated ANAF: OAuth2 and the RO e-Factura list and download services (127.0.0.1)."""

from hub_invoices.simulator.invoices import SUPPLIERS, Supplier, make_cui, make_iban, make_zip
from hub_invoices.simulator.server import EFacturaSimulator, SimMessage

__all__ = [
    "SUPPLIERS",
    "EFacturaSimulator",
    "SimMessage",
    "Supplier",
    "make_cui",
    "make_iban",
    "make_zip",
]
