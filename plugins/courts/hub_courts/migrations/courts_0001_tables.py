"""courts: known cases, handovers, notice board postings

Revision ID: courts_0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "courts_0001"
down_revision = None
branch_labels = ("courts",)
depends_on = "0001"

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "courts_cases",
        sa.Column("court", sa.String(64), nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("stage", sa.String(100), nullable=False),
        sa.Column("modified", sa.String(32), nullable=True),
        sa.Column("hearings", sa.JSON(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("first_seen", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("court", "number", name="pk_courts_cases"),
    )
    op.create_table(
        "courts_handovers",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("received_by", sa.String(200), nullable=False),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("recorded_at", sa.Float(), nullable=False),
        sa.Column("documents", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_courts_handovers"),
    )
    op.create_index("ix_courts_handovers_day", "courts_handovers", ["day"])
    op.create_table(
        "courts_handover_items",
        sa.Column("document_id", sa.String(36), nullable=False),
        sa.Column("handover_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["handover_id"],
            ["courts_handovers.id"],
            name="fk_courts_handover_items_handover_id_courts_handovers",
        ),
        sa.PrimaryKeyConstraint("document_id", name="pk_courts_handover_items"),
    )
    op.create_index(
        "ix_courts_handover_items_handover_id", "courts_handover_items", ["handover_id"]
    )
    op.create_table(
        "courts_postings",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("document_id", sa.String(36), nullable=True),
        sa.Column("act", sa.String(500), nullable=False),
        sa.Column("issuer", sa.String(300), nullable=False),
        sa.Column("case_number", sa.String(64), nullable=False),
        sa.Column("addressee", sa.String(300), nullable=False),
        sa.Column("posted_on", sa.Date(), nullable=False),
        sa.Column("removal_due", sa.Date(), nullable=False),
        sa.Column("posted_by", sa.String(200), nullable=False),
        sa.Column("removed_on", sa.Date(), nullable=True),
        sa.Column("removed_by", sa.String(200), nullable=True),
        sa.Column("reminded_at", sa.Float(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_courts_postings"),
    )
    op.create_index("ix_courts_postings_document_id", "courts_postings", ["document_id"])
    op.create_index("ix_courts_postings_removal_due", "courts_postings", ["removal_due"])


def downgrade() -> None:
    op.drop_table("courts_postings")
    op.drop_table("courts_handover_items")
    op.drop_table("courts_handovers")
    op.drop_table("courts_cases")
