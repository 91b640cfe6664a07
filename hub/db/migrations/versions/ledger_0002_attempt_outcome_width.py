"""Widen attempts.outcome to 64 characters: it holds the connector's error type when there is
one (``error_type`` is 64 wide), and a type longer than 16 — ``RemoteProtocolError``, WEBCON's
``ElementNotFoundException`` — was refused on PostgreSQL, failing the record of its whole batch.

SQLite does not enforce a VARCHAR's length: nothing to change there (and no table to rebuild).

Revision ID: ledger_0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "ledger_0002"
down_revision = "0001"
branch_labels = ("ledger",)
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.alter_column(
        "attempts",
        "outcome",
        type_=sa.String(64),
        existing_type=sa.String(16),
        existing_nullable=False,
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.alter_column(
        "attempts",
        "outcome",
        type_=sa.String(16),
        existing_type=sa.String(64),
        existing_nullable=False,
        postgresql_using="left(outcome, 16)",
    )
