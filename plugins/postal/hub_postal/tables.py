"""The plugin's own tables (SQLAlchemy Core, ``postal_`` prefix). The Alembic revisions in
:mod:`hub_postal.migrations` create them; keep both in step.

Times the hub compares (state changes, polling) are epoch seconds as floats, like the core's
deliveries; money is kept in bani (integer hundredths of a RON), never as floats.
The addressee and the signer are personal data: they live in JSON columns read only by the
code that prints or sends them, and never reach a log line.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from hub.db.schema import UTCDateTime

__all__ = [
    "metadata",
    "postal_attachments",
    "postal_counters",
    "postal_dispatches",
    "postal_events",
    "postal_manifests",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

BigId = BigInteger().with_variant(Integer(), "sqlite")

postal_manifests = Table(
    "postal_manifests",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("day", Date, nullable=False),
    Column("network", String(32), nullable=False),
    Column("service", String(32), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("items", Integer, nullable=False),
    Column("total_bani", BigInteger, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(120), nullable=False),
    UniqueConstraint("day", "network", "service", "sequence", name="uq_postal_manifests_day"),
)

postal_dispatches = Table(
    "postal_dispatches",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("document_id", String(36), ForeignKey("documents.id"), nullable=False, index=True),
    Column("registration_number", String(64), nullable=True),
    Column("idempotency_key", String(200), nullable=True, unique=True),
    Column("request_hash", String(64), nullable=False),
    Column("department", String(64), nullable=True),
    Column("service", String(32), nullable=False),
    Column("network", String(32), nullable=False),
    Column("contractor", String(32), nullable=True),
    #: Personal data: name, contact, phone, e-mail and the address.
    Column("addressee", JSON, nullable=False),
    Column("county", String(2), nullable=False),
    Column("weight_grams", Integer, nullable=False),
    Column("state", String(24), nullable=False),
    Column("state_since", Float, nullable=False),
    Column("tracking_number", String(32), nullable=True, unique=True),
    Column("manifest_id", BigInteger, ForeignKey("postal_manifests.id"), nullable=True),
    Column("cost_bani", BigInteger, nullable=False),
    #: Delivery outcome: when, who signed (personal data), proof sha256, proof document id.
    Column("outcome", JSON, nullable=True),
    Column("stuck_flagged_at", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(120), nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_postal_dispatches_state", "state", "network"),
    Index("ix_postal_dispatches_created", "created_at"),
)

postal_attachments = Table(
    "postal_attachments",
    metadata,
    Column("dispatch_id", String(36), ForeignKey("postal_dispatches.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(127), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("content", LargeBinary, nullable=False),
)

postal_events = Table(
    "postal_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("dispatch_id", String(36), ForeignKey("postal_dispatches.id"), nullable=False),
    Column("at", Float, nullable=False),
    Column("code", String(16), nullable=False),
    Column("state", String(24), nullable=True),
    Column("description", Text, nullable=True),
    Column("location", String(100), nullable=True),
    Column("occurred_at", UTCDateTime(), nullable=True),
    Column("actor", String(120), nullable=False),
    UniqueConstraint("dispatch_id", "code", "occurred_at", name="uq_postal_events_dispatch"),
    Index("ix_postal_events_dispatch", "dispatch_id", "id"),
)

postal_counters = Table(
    "postal_counters",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)
