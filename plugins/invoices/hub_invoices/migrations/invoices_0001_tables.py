"""e-Factura: tokens, daily quotas, ZIP archive, messages and invoice keys.

Revision ID: invoices_0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "invoices_0001"
down_revision = None
branch_labels = ("invoices",)
depends_on = "0001"


def upgrade() -> None:
    op.create_table(
        "invoices_tokens",
        sa.Column("cif", sa.String(16), primary_key=True),
        sa.Column("access_token", sa.Text, nullable=False),
        sa.Column("refresh_token", sa.Text, nullable=False),
        sa.Column("access_expires_at", sa.Float, nullable=False),
        sa.Column("refresh_expires_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "invoices_quota",
        sa.Column("cif", sa.String(16), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("calls", sa.Integer, nullable=False),
    )
    op.create_table(
        "invoices_archive",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "invoices_messages",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("cif", sa.String(16), nullable=False),
        sa.Column("tip", sa.String(64), nullable=False),
        sa.Column("id_solicitare", sa.String(32), nullable=True),
        sa.Column("detalii", sa.Text, nullable=True),
        sa.Column("data_creare", sa.String(16), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("zip_sha256", sa.String(64), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("downloads", sa.Integer, nullable=False),
        sa.Column("download_day", sa.String(10), nullable=True),
        sa.Column("supplier_cui", sa.String(16), nullable=True),
        sa.Column("invoice_number", sa.String(200), nullable=True),
        sa.Column("issue_date", sa.String(10), nullable=True),
        sa.Column("duplicate_of", sa.String(32), nullable=True),
        sa.Column("emissions", sa.Integer, nullable=False),
        sa.Column("listed_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_invoices_messages_state", "invoices_messages", ["state"])
    op.create_index("ix_invoices_messages_updated_at", "invoices_messages", ["updated_at"])
    op.create_table(
        "invoices_invoices",
        sa.Column("supplier_cui", sa.String(16), nullable=False),
        sa.Column("number", sa.String(200), nullable=False),
        sa.Column("issue_date", sa.String(10), nullable=False),
        sa.Column("message_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint(
            "supplier_cui", "number", "issue_date", name="uq_invoices_invoices_key"
        ),
    )


def downgrade() -> None:
    for name in (
        "invoices_invoices",
        "invoices_messages",
        "invoices_archive",
        "invoices_quota",
        "invoices_tokens",
    ):
        op.drop_table(name)
