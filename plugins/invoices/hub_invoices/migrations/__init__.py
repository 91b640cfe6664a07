"""Alembic revisions of the ``invoices`` branch (entry-point group ``hub.migrations``)."""
