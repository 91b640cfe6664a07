"""The plugin's tables (SQLAlchemy Core, own MetaData, names prefixed ``courts_``).

* ``courts_cases`` — every case the feed has seen: the event keys already turned into documents
  (so only changes make new ones) and the hearings, for the calendar;
* ``courts_handovers`` / ``courts_handover_items`` — who received a department's acts, when,
  and which documents that covered;
* ``courts_postings`` — acts posted on the notice board: posting, due removal, removal, clerks.

Revisions: :mod:`hub_courts.migrations` (branch ``courts``).
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["cases", "handover_items", "handovers", "metadata", "postings"]

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    }
)
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

cases = sa.Table(
    "courts_cases",
    metadata,
    sa.Column("court", sa.String(64), primary_key=True),
    sa.Column("number", sa.String(64), primary_key=True),
    sa.Column("subject", sa.Text, nullable=False, default=""),
    sa.Column("stage", sa.String(100), nullable=False, default=""),
    sa.Column("modified", sa.String(32), nullable=True),
    sa.Column("hearings", sa.JSON, nullable=False),
    sa.Column("events", sa.JSON, nullable=False),
    sa.Column("first_seen", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

handovers = sa.Table(
    "courts_handovers",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("day", sa.Date, nullable=False, index=True),
    sa.Column("department", sa.String(64), nullable=False),
    sa.Column("received_by", sa.String(200), nullable=False),
    sa.Column("received_at", sa.Float, nullable=False),
    sa.Column("recorded_by", sa.String(200), nullable=False),
    sa.Column("recorded_at", sa.Float, nullable=False),
    sa.Column("documents", sa.Integer, nullable=False),
)

handover_items = sa.Table(
    "courts_handover_items",
    metadata,
    sa.Column("document_id", sa.String(36), primary_key=True),
    sa.Column("handover_id", _ID, sa.ForeignKey("courts_handovers.id"), nullable=False, index=True),
)

postings = sa.Table(
    "courts_postings",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("document_id", sa.String(36), nullable=True, index=True),
    sa.Column("act", sa.String(500), nullable=False),
    sa.Column("issuer", sa.String(300), nullable=False, default=""),
    sa.Column("case_number", sa.String(64), nullable=False, default=""),
    sa.Column("addressee", sa.String(300), nullable=False, default=""),
    sa.Column("posted_on", sa.Date, nullable=False),
    sa.Column("removal_due", sa.Date, nullable=False, index=True),
    sa.Column("posted_by", sa.String(200), nullable=False),
    sa.Column("removed_on", sa.Date, nullable=True),
    sa.Column("removed_by", sa.String(200), nullable=True),
    sa.Column("reminded_at", sa.Float, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
)
