"""Schema migrations (Alembic), driven from code: ``hub db upgrade`` and the start-up check."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from hub.errors import SchemaOutdatedError

__all__ = ["check_schema", "current_revision", "head_revision", "upgrade"]

MIGRATIONS = Path(__file__).parent / "migrations"


def _config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(_config(engine), revision)


def check_schema(engine: Engine) -> None:
    """Raise :class:`SchemaOutdatedError` unless the ledger is at the newest revision."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaOutdatedError(
            f"the ledger's schema is at revision {current or 'none (empty database)'}, "
            f"this hub needs {head}: run `hub db upgrade`"
        )
