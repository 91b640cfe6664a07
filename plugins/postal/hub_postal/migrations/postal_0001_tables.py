"""postal: dispatches, their attachments and events, manifests, S10 counters

Revision ID: postal_0001
Revises:
Create Date: 2026-11-29 09:20:00
"""

import sqlalchemy as sa
from alembic import op

from hub.db.schema import UTCDateTime

revision = "postal_0001"
down_revision = None
branch_labels = ("postal",)
depends_on = "0001"

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "postal_manifests",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("network", sa.String(32), nullable=False),
        sa.Column("service", sa.String(32), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("total_bani", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postal_manifests")),
        sa.UniqueConstraint(
            "day", "network", "service", "sequence", name="uq_postal_manifests_day"
        ),
    )
    op.create_table(
        "postal_dispatches",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("document_id", sa.String(36), nullable=False),
        sa.Column("registration_number", sa.String(64), nullable=True),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("department", sa.String(64), nullable=True),
        sa.Column("service", sa.String(32), nullable=False),
        sa.Column("network", sa.String(32), nullable=False),
        sa.Column("contractor", sa.String(32), nullable=True),
        sa.Column("addressee", sa.JSON(), nullable=False),
        sa.Column("county", sa.String(2), nullable=False),
        sa.Column("weight_grams", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("state_since", sa.Float(), nullable=False),
        sa.Column("tracking_number", sa.String(32), nullable=True),
        sa.Column("manifest_id", sa.BigInteger(), nullable=True),
        sa.Column("cost_bani", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.Column("stuck_flagged_at", sa.Float(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_postal_dispatches_document_id_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["manifest_id"],
            ["postal_manifests.id"],
            name=op.f("fk_postal_dispatches_manifest_id_postal_manifests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postal_dispatches")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_postal_dispatches_idempotency_key")),
        sa.UniqueConstraint("tracking_number", name=op.f("uq_postal_dispatches_tracking_number")),
    )
    op.create_index(op.f("ix_postal_dispatches_document_id"), "postal_dispatches", ["document_id"])
    op.create_index("ix_postal_dispatches_state", "postal_dispatches", ["state", "network"])
    op.create_index("ix_postal_dispatches_created", "postal_dispatches", ["created_at"])
    op.create_table(
        "postal_attachments",
        sa.Column("dispatch_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(127), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dispatch_id"],
            ["postal_dispatches.id"],
            name=op.f("fk_postal_attachments_dispatch_id_postal_dispatches"),
        ),
        sa.PrimaryKeyConstraint("dispatch_id", "position", name=op.f("pk_postal_attachments")),
    )
    op.create_table(
        "postal_events",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("dispatch_id", sa.String(36), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("state", sa.String(24), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("location", sa.String(100), nullable=True),
        sa.Column("occurred_at", UTCDateTime(), nullable=True),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.ForeignKeyConstraint(
            ["dispatch_id"],
            ["postal_dispatches.id"],
            name=op.f("fk_postal_events_dispatch_id_postal_dispatches"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postal_events")),
        sa.UniqueConstraint("dispatch_id", "code", "occurred_at", name="uq_postal_events_dispatch"),
    )
    op.create_index("ix_postal_events_dispatch", "postal_events", ["dispatch_id", "id"])
    op.create_table(
        "postal_counters",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_postal_counters")),
    )


def downgrade() -> None:
    op.drop_table("postal_counters")
    op.drop_index("ix_postal_events_dispatch", table_name="postal_events")
    op.drop_table("postal_events")
    op.drop_table("postal_attachments")
    op.drop_index("ix_postal_dispatches_created", table_name="postal_dispatches")
    op.drop_index("ix_postal_dispatches_state", table_name="postal_dispatches")
    op.drop_index(op.f("ix_postal_dispatches_document_id"), table_name="postal_dispatches")
    op.drop_table("postal_dispatches")
    op.drop_table("postal_manifests")
