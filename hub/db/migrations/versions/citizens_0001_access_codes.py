"""citizens: access codes for the public status page

Revision ID: citizens_0001
Revises: 0001
Create Date: 2026-11-29 09:10:00
"""

from alembic import op
import sqlalchemy as sa


revision = "citizens_0001"
down_revision = "0001"
branch_labels = ("citizens",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "citizens_access_codes",
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_citizens_access_codes_document_id_documents"),
        ),
        sa.PrimaryKeyConstraint("document_id", name=op.f("pk_citizens_access_codes")),
    )


def downgrade() -> None:
    op.drop_table("citizens_access_codes")
