"""The plugin's own tables (SQLAlchemy Core, names prefixed ``invoices_``); migrations in
:mod:`hub_invoices.migrations`.

* ``invoices_tokens`` — ANAF's OAuth2 pair per CUI, encrypted (Fernet), with their expiries.
* ``invoices_quota`` — calls made per CUI, ANAF day and kind: daily limits survive a restart.
* ``invoices_archive`` — every downloaded ZIP, content-addressed (sha256), written before it
  is parsed: ANAF allows 10 downloads of a message per day, the hub needs one.
* ``invoices_messages`` — every message listed, keyed by ANAF's id, with its state.
* ``invoices_invoices`` — (supplier CUI, number, issue date) → first message: duplicates.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "MESSAGE_STATES",
    "archive",
    "invoices",
    "messages",
    "metadata",
    "quota",
    "tokens",
]

metadata = MetaData()

#: listed → downloaded → ready → registered; or error / duplicate / anaf_error (final).
MESSAGE_STATES = (
    "listed",
    "downloaded",
    "ready",
    "registered",
    "duplicate",
    "error",
    "anaf_error",
)

tokens = Table(
    "invoices_tokens",
    metadata,
    Column("cif", String(16), primary_key=True),
    Column("access_token", Text, nullable=False),
    Column("refresh_token", Text, nullable=False),
    Column("access_expires_at", Float, nullable=False),
    Column("refresh_expires_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

quota = Table(
    "invoices_quota",
    metadata,
    Column("cif", String(16), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("calls", Integer, nullable=False, default=0),
)

archive = Table(
    "invoices_archive",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
)

messages = Table(
    "invoices_messages",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("cif", String(16), nullable=False),
    Column("tip", String(64), nullable=False),
    Column("id_solicitare", String(32), nullable=True),
    Column("detalii", Text, nullable=True),
    Column("data_creare", String(16), nullable=True),
    Column("state", String(16), nullable=False, index=True),
    Column("zip_sha256", String(64), nullable=True),
    Column("error", Text, nullable=True),
    Column("downloads", Integer, nullable=False, default=0),
    Column("download_day", String(10), nullable=True),
    Column("supplier_cui", String(16), nullable=True),
    Column("invoice_number", String(200), nullable=True),
    Column("issue_date", String(10), nullable=True),
    Column("duplicate_of", String(32), nullable=True),
    Column("emissions", Integer, nullable=False, default=0),
    Column("listed_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False, index=True),
)

invoices = Table(
    "invoices_invoices",
    metadata,
    Column("supplier_cui", String(16), nullable=False),
    Column("number", String(200), nullable=False),
    Column("issue_date", String(10), nullable=False),
    Column("message_id", String(32), nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("supplier_cui", "number", "issue_date", name="uq_invoices_invoices_key"),
)
