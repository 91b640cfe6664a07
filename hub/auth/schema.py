"""Tables of dashboard users and their sessions (migration ``auth_0001``).

Kept on their own :class:`MetaData`: they are not part of the delivery ledger, and the ledger's
tables never refer to them (the audit trail names people as ``user:<name>``).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
)

__all__ = ["auth_metadata", "user_sessions", "users"]

auth_metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

BigId = BigInteger().with_variant(Integer(), "sqlite")

users = Table(
    "users",
    auth_metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("pii", Boolean, nullable=False, default=False),
    Column("unit", String(32), nullable=True),
    # argon2id PHC string; NULL for accounts that sign in only through OpenID Connect.
    Column("password_hash", String(255), nullable=True),
    Column("oidc_subject", String(255), nullable=True, unique=True),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("failed_attempts", Integer, nullable=False, default=0),
    Column("locked_until", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("last_login_at", Float, nullable=True),
)

user_sessions = Table(
    "user_sessions",
    auth_metadata,
    # sha256 of the cookie's value: a stolen database does not yield live sessions.
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
)
