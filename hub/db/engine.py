"""Engines for the ledger, with the durability settings chosen on purpose.

SQLite: WAL journal (readers never block the writer), ``synchronous=FULL`` by default so that a
commit — and so an accepted document — survives a power loss, not only a process crash (with WAL,
NORMAL may lose the last transactions on power loss); intake and dispatch batch their writes so
that one fsync covers many documents. Write transactions start with ``BEGIN IMMEDIATE`` so a second
process (the CLI during ``hub run``) waits on ``busy_timeout`` instead of failing on a lock
upgrade. ``foreign_keys=ON``.

PostgreSQL (``postgresql+psycopg://``): default ``synchronous_commit=on``; claims use
``FOR UPDATE SKIP LOCKED``.

*Bookkeeping* — claims, attempt outcomes, lease recovery — does not need its own fsync: losing
the last few of those records in a power cut only means a delivery is attempted again, with the
same idempotency key, which at-least-once delivery allows anyway. Those transactions therefore
run with ``synchronous=NORMAL`` on SQLite (the WAL is synced by the next intake commit or
checkpoint, which orders them) and ``synchronous_commit=off`` on PostgreSQL (its own small
pool, :func:`make_bookkeeping_engine`). What a
caller was told is accepted — documents, operator actions — always commits durably.
"""

from __future__ import annotations

import os
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

__all__ = ["is_sqlite", "make_bookkeeping_engine", "make_engines", "make_inline_engine"]


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_engine(
    url: str, synchronous: str, begin: str, *, busy_ms: int = 30_000, autocheckpoint: bool = True
) -> Engine:
    engine = create_engine(
        url,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        # Room for the hot path's multi-row INSERTs, one statement per row count
        # (hub.db.ledger._HotSql), beside everything else (sqlite3 keeps 128 by default).
        connect_args={
            "check_same_thread": False,
            "timeout": busy_ms / 1000,
            "cached_statements": 1024,
        },
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={busy_ms:d}")
        if not autocheckpoint:
            cur.execute("PRAGMA wal_autocheckpoint=0")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine


def make_engines(url: str, *, sqlite_synchronous: str = "FULL") -> tuple[Engine, Engine]:
    """(writer, reader) engines. On PostgreSQL they are the same engine."""
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            from pathlib import Path

            Path(database).parent.mkdir(parents=True, exist_ok=True)
        writer = _sqlite_engine(url, sqlite_synchronous, "BEGIN IMMEDIATE")
        reader = _sqlite_engine(url, sqlite_synchronous, "BEGIN")
        return writer, reader
    engine = _pg_engine(url, pool_size=10, max_overflow=10)
    return engine, engine


def _pg_engine(url: str, **pool: Any) -> Engine:
    """A PostgreSQL engine: JSON through orjson, a ping on checkout (a connection the server
    dropped is replaced, not failed on), the pool as given."""
    return create_engine(
        url,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        pool_pre_ping=True,
        **pool,
    )


def make_bookkeeping_engine(url: str) -> Engine:
    """The dispatcher's bookkeeping engine, used by the ledger's writer thread alone.

    SQLite: a writer engine with ``synchronous=NORMAL``. PostgreSQL: a small pool whose
    sessions start with ``synchronous_commit=off``, added to the deployment's own startup
    options (:func:`_with_option`): an option of the session, never ``SET`` on a connection a
    pooler might hand to another client's commits."""
    if is_sqlite(url):
        return _sqlite_engine(url, "NORMAL", "BEGIN IMMEDIATE")
    return _pg_engine(
        url,
        pool_size=2,
        max_overflow=2,
        connect_args={"options": _with_option(url, "-c synchronous_commit=off")},
    )


def make_inline_engine(url: str) -> Engine:
    """SQLite: the bookkeeping engine the event loop uses (:meth:`hub.db.runner.DbRunner.bookkeep`):
    ``synchronous=NORMAL`` as the bookkeeping engine, and neither a busy wait nor a checkpoint:
    while another process holds the write lock, ``BEGIN IMMEDIATE`` fails at once and the call
    goes to the writer thread, which may wait; the WAL is checkpointed on that thread too
    (:meth:`hub.db.ledger.Ledger.checkpoint`). The loop never sleeps in SQLite's busy handler or
    waits for an fsync."""
    if not is_sqlite(url):
        raise ValueError("the inline bookkeeping engine is for SQLite only")
    return _sqlite_engine(url, "NORMAL", "BEGIN IMMEDIATE", busy_ms=0, autocheckpoint=False)


def _with_option(url: str, option: str) -> str:
    """The startup options the deployment gave (the URL's ``options``, else libpq's
    ``PGOPTIONS``, which an explicit ``options`` would silence), with ``option`` added: the
    bookkeeping sessions keep the writer's ``search_path``, ``statement_timeout`` and the rest."""
    given = make_url(url).query.get("options") or os.environ.get("PGOPTIONS") or ""
    if not isinstance(given, str):  # the option given twice in the URL
        given = " ".join(given)
    return f"{given} {option}".strip()
