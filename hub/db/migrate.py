"""Schema migrations (Alembic), driven from code: ``hub db upgrade`` and the start-up check.

The core's revisions live in ``hub/db/migrations/versions``. A plugin that keeps tables of its
own ships its revisions in a folder of its package and declares it in the entry-point group
``hub.migrations`` (``invoices = "hub_invoices.migrations"``: the module's folder is the versions
folder). Each plugin's revisions form their own branch: the first one has ``down_revision =
None``, ``branch_labels = ("<plugin>",)`` and ``depends_on = "0001"`` (or a later core revision),
so that plugins never have to agree on an order among themselves. ``hub db upgrade`` upgrades
every branch to its head; the ledger is current when its heads are exactly the scripts' heads.

Alembic (~0.25 s to import) is imported by the functions that use it, not with this module:
CLI commands that never look at the schema (``hub --help`` among them) do not pay for it.
"""

from __future__ import annotations

import os
from functools import cache
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from hub.errors import SchemaOutdatedError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

__all__ = [
    "MIGRATION_ENTRY_POINT_GROUP",
    "check_schema",
    "current_revision",
    "head_revision",
    "missing_revisions",
    "upgrade",
    "version_locations",
]

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_ENTRY_POINT_GROUP = "hub.migrations"


@cache
def version_locations() -> tuple[Path, ...]:
    """The core's versions folder, then every installed plugin's, by entry-point name."""
    found = [MIGRATIONS / "versions"]
    for entry in sorted(entry_points(group=MIGRATION_ENTRY_POINT_GROUP), key=lambda e: e.name):
        module = import_module(entry.value)
        assert module.__file__ is not None
        found.append(Path(module.__file__).parent)
    return tuple(found)


def _config(engine: Engine | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join(str(p) for p in version_locations()))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def _describe(revisions: set[str] | tuple[str, ...]) -> str | None:
    return ", ".join(sorted(revisions)) or None


def head_revision() -> str:
    """The scripts' head revisions, sorted and comma-joined (one per branch)."""
    described = _describe(tuple(_script().get_heads()))
    assert described is not None
    return described


def current_revision(engine: Engine) -> str | None:
    """The ledger's head revisions in the same form, or ``None`` for an empty database.

    A branch that ``depends_on`` a core revision records only its own head in the version
    table, so this may name fewer revisions than :func:`head_revision` and still be current:
    ask :func:`missing_revisions`.
    """
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return _describe(MigrationContext.configure(conn).get_current_heads())


def missing_revisions(engine: Engine) -> list[str]:
    """The scripts' heads that the ledger has not applied (empty: the schema is current)."""
    from alembic.runtime.migration import MigrationContext

    script = _script()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_heads()
    applied = {rev.revision for rev in script.revision_map.iterate_revisions(current, "base")}
    return sorted(set(script.get_heads()) - applied)


def upgrade(engine: Engine, revision: str = "heads") -> None:
    from alembic import command

    command.upgrade(_config(engine), revision)


def check_schema(engine: Engine) -> None:
    """Raise :class:`SchemaOutdatedError` unless the ledger is at the newest revisions."""
    missing = missing_revisions(engine)
    if missing:
        current = current_revision(engine)
        raise SchemaOutdatedError(
            f"the ledger's schema is at revision {current or 'none (empty database)'}, "
            f"this hub also needs {', '.join(missing)}: run `hub db upgrade`"
        )


def _script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())
