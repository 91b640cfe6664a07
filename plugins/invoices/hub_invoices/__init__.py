"""RO e-Factura invoice robot — skeleton until its issue lands."""
