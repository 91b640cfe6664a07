"""Index attempts by start time: the dashboard's rates and 24-hour chart (issue #9)

Revision ID: dashboard_0001
Revises: 0001
"""

from alembic import op


revision = "dashboard_0001"
down_revision = "0001"
branch_labels = ("dashboard",)
depends_on = None


def upgrade() -> None:
    op.create_index("ix_attempts_started_at", "attempts", ["started_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_attempts_started_at", table_name="attempts")
