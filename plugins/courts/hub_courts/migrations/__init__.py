"""Alembic revisions of the courts plugin's tables (branch ``courts``)."""
