"""API tokens bound to one receiving unit (the ``unit`` scope, issue #7)

Revision ID: units_0001
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "units_0001"
down_revision = "0001"
branch_labels = ("units",)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("unit")
