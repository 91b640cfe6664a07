"""Alembic revisions of the postal plugin's tables (entry-point group ``hub.migrations``)."""
