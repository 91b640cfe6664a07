"""Ledger tables (SQLAlchemy Core). Alembic migrations in ``hub/db/migrations`` follow this file.

Times on the hot path (deliveries, attempts, events) are UNIX epoch seconds as floats: cheap to
compare and index on both SQLite and PostgreSQL. Times people read on documents are timezone-aware
datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
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
from sqlalchemy.types import TypeDecorator

__all__ = [
    "api_tokens",
    "as_utc",
    "attachments",
    "attempts",
    "deliveries",
    "document_attachments",
    "documents",
    "events",
    "metadata",
    "source_state",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive value is taken as UTC already (as the ledger stores it)."""
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that stays aware on SQLite too: SQLite keeps no offset, so
    values are stored converted to UTC and read back with UTC attached (same DDL as before)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        # A naive value is UTC, as it reads back; PostgreSQL would otherwise take it in the
        # session's time zone.
        return as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


documents = Table(
    "documents",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("source", String(64), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("idempotency_key", String(200), nullable=True, unique=True),
    Column("request_hash", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("subject", Text, nullable=False, default=""),
    Column("body", Text, nullable=False, default=""),
    Column("sender", JSON, nullable=True),
    Column("received_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("department", String(64), nullable=True),
    Column("routing_rule", String(200), nullable=True),
    Column("registration_number", String(64), nullable=True, index=True),
    Column("registered_at", UTCDateTime(), nullable=True),
    Column("due_date", Date, nullable=True),
    Column("status", String(32), nullable=False, default="received"),
    Column("closed_at", UTCDateTime(), nullable=True),
    Column("meta", JSON, nullable=False, default=dict),
    UniqueConstraint("source", "external_id", name="uq_documents_source_external_id"),
    Index("ix_documents_created_at", "created_at"),
)

attachments = Table(
    "attachments",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("content", LargeBinary, nullable=False),
)

document_attachments = Table(
    "document_attachments",
    metadata,
    Column("document_id", String(36), ForeignKey("documents.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(127), nullable=False),
    Column("sha256", String(64), ForeignKey("attachments.sha256"), nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("document_id", String(36), ForeignKey("documents.id"), nullable=False, index=True),
    Column("connector", String(64), nullable=False),
    Column("target", String(64), nullable=True),
    Column("idempotency_key", String(80), nullable=False, unique=True),
    Column("state", String(16), nullable=False),
    Column("depends_on", String(64), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", Float, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("last_error_type", String(64), nullable=True),
    Column("receipt", JSON, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("delivered_at", Float, nullable=True),
    Index("ix_deliveries_claim", "connector", "state", "next_attempt_at"),
    Index("ix_deliveries_state_updated", "state", "updated_at"),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("delivery_id", BigInteger, ForeignKey("deliveries.id"), nullable=False, index=True),
    Column("number", Integer, nullable=False),
    Column("worker", String(64), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("duration_ms", Float, nullable=False),
    # The state, or the connector's error type when there is one: as wide as error_type
    # (migration ledger_0002).
    Column("outcome", String(64), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error_type", String(64), nullable=True),
    Column("message", Text, nullable=True),
    Column("remote_ref", String(64), nullable=True),
    # Migration dashboard_0001: the dashboard counts recent attempts (rates, 24-hour chart).
    Index("ix_attempts_started_at", "started_at"),
)

events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("document_id", String(36), nullable=True, index=True),
    Column("delivery_id", BigInteger, nullable=True, index=True),
    Column("actor", String(120), nullable=False),
    Column("action", String(32), nullable=False),
    Column("from_state", String(16), nullable=True),
    Column("to_state", String(16), nullable=True),
    Column("reason", Text, nullable=True),
    Index("ix_events_at", "at"),
)

source_state = Table(
    "source_state",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("cursor", JSON, nullable=True),
    Column("last_poll_at", Float, nullable=True),
    Column("last_success_at", Float, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("documents_total", BigInteger, nullable=False, default=0),
    Column("paused", Boolean, nullable=False, default=False),
    Column("paused_until", Float, nullable=True),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("scopes", String(200), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
    Column("last_used_at", Float, nullable=True),
    # Migration units_0001: a token with the ``unit`` scope sees only this unit's items.
    Column("unit", String(32), nullable=True),
)
