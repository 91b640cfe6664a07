"""Plugins' own Alembic branches (entry-point group hub.migrations) beside the core's."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from hub.db import migrate
from hub.errors import SchemaOutdatedError

REVISION = """
from alembic import op
import sqlalchemy as sa

revision = "kit_0001"
down_revision = None
branch_labels = ("kit",)
depends_on = "0001"


def upgrade() -> None:
    op.create_table("kit_things", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("kit_things")
"""


@pytest.fixture
def with_plugin_branch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    versions = tmp_path / "kit_migrations"
    versions.mkdir()
    (versions / "kit_0001_things.py").write_text(REVISION, encoding="utf-8")
    core = migrate.MIGRATIONS / "versions"
    monkeypatch.setattr(migrate, "version_locations", lambda: (core, versions))
    return versions


def test_a_plugin_branch_is_upgraded_and_counted_current(
    with_plugin_branch: Path, tmp_path: Path
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    migrate.upgrade(engine, "0001")  # a ledger made before the plugin was installed
    assert "kit_0001" in migrate.missing_revisions(engine)
    with pytest.raises(SchemaOutdatedError, match=r"also needs .*kit_0001.*: run `hub db upgrade`"):
        migrate.check_schema(engine)

    migrate.upgrade(engine)
    assert migrate.missing_revisions(engine) == []
    migrate.check_schema(engine)
    assert "kit_things" in inspect(engine).get_table_names()
    assert "kit_0001" in (migrate.current_revision(engine) or "")
    assert "kit_0001" in migrate.head_revision().split(", ")
    engine.dispose()


def test_an_empty_database_misses_every_head(with_plugin_branch: Path, tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    missing = migrate.missing_revisions(engine)
    assert "kit_0001" in missing and len(missing) >= 2  # the core's head(s) too
    assert migrate.current_revision(engine) is None
    engine.dispose()
