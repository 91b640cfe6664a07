"""Unit tokens (``hub token create --scope unit --unit DJ``), the ``units_0001`` migration,
``hub report fiscal``, and the redirection term's arithmetic."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import structlog
from structlog.testing import capture_logs
from typer.testing import CliRunner, Result

from hub.api.auth import Authenticator, Principal
from hub.cli.main import build_app
from hub.db.engine import make_engines
from hub.db.ledger import Ledger
from hub.db.migrate import current_revision, head_revision, upgrade
from hub.items import redirect_due

Invoke = Callable[..., Result]


@pytest.fixture
def ledger(database_url: str) -> Iterator[Ledger]:
    writer, reader = make_engines(database_url)
    yield Ledger(writer, reader)
    writer.dispose()
    reader.dispose()


@pytest.fixture
def invoke(
    monkeypatch: pytest.MonkeyPatch, database_url: str, units_file: Path, tmp_path: Path
) -> Invoke:
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_UNITS_FILE", str(units_file))
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HUB_LOAD_PLUGINS", "webhook,noop,email,fiscal")
    with capture_logs():
        app = build_app()
    runner = CliRunner()

    def run(*args: str) -> Result:
        old = structlog.get_config()
        try:
            with capture_logs():
                return runner.invoke(app, list(args))
        finally:
            structlog.configure(**old)

    return run


def test_unit_token_is_bound_to_one_known_unit(invoke: Invoke, ledger: Ledger) -> None:
    made = invoke("token", "create", "--name", "dj", "--scope", "unit", "--unit", "DJ")
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[-1]
    assert ledger.resolve_token(token) == ("dj", frozenset({"unit"}), "DJ")
    assert ledger.verify_token(token) == ("dj", frozenset({"unit"}))
    unbound = invoke("token", "create", "--name", "x", "--scope", "unit")
    assert unbound.exit_code == 1 and "--unit" in unbound.stderr
    stray = invoke("token", "create", "--name", "y", "--scope", "read", "--unit", "DJ")
    assert stray.exit_code == 1
    wider = invoke(
        "token", "create", "--name", "w", "--scope", "unit", "--scope", "read", "--unit", "DJ"
    )
    assert wider.exit_code == 1 and "cannot be combined" in wider.stderr
    listed = invoke("token", "list")
    assert "unit (DJ)" in listed.stdout
    unknown = invoke("token", "create", "--name", "z", "--scope", "unit", "--unit", "NOPE")
    assert unknown.exit_code == 1 and "no unit 'NOPE'" in unknown.stderr
    assert [t["name"] for t in ledger.list_tokens()] == ["dj"]
    assert ledger.list_tokens()[0]["unit"] == "DJ"


async def test_authenticator_carries_the_unit() -> None:
    async def verify(token: str) -> tuple[str, frozenset[str], str | None] | None:
        return {"t": ("dj", frozenset({"unit"}), "DJ")}.get(token)

    principal = await Authenticator(verify).authenticate("t")
    assert principal == Principal("dj", frozenset({"unit"}), "DJ")
    assert principal.has("unit") and not principal.has("read")
    assert not Principal("ops", frozenset({"admin"})).has("unit")


def test_units_migration_is_its_own_branch(database_url: str) -> None:
    engine, reader = make_engines(database_url)
    try:
        assert "units_0001" in head_revision().split(", ")
        assert current_revision(engine) == head_revision()
        upgrade(engine)  # idempotent
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
        reader.dispose()


def test_report_fiscal_prints_csv(invoke: Invoke) -> None:
    result = invoke("report", "fiscal", "--date", "2026-11-20")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "data,emitent,numar_acte,total_ron",
        "2026-11-20,TOTAL,0,0.00",
    ]
    bad = invoke("report", "fiscal", "--date", "20.11.2026")
    assert bad.exit_code == 1 and "YYYY-MM-DD" in bad.stderr


@pytest.mark.parametrize(
    ("returned", "due"),
    [
        # Mon 23 Nov + 5 = Sat 28; Sun 29, 30 Nov (Sf. Andrei) and 1 Dec are not working days
        (datetime(2026, 11, 23, 9, 0, tzinfo=UTC), date(2026, 12, 2)),
        (datetime(2026, 11, 24, 9, 0, tzinfo=UTC), date(2026, 12, 2)),
        # Tue 10 Nov + 5 = Sun 15 → Mon 16
        (datetime(2026, 11, 10, 9, 0, tzinfo=UTC), date(2026, 11, 16)),
        # 22:30 UTC on the 11th is 00:30 on the 12th in Timișoara: + 5 = Tue 17
        (datetime(2026, 11, 11, 22, 30, tzinfo=UTC), date(2026, 11, 17)),
        # Wed 2 Dec + 5 = Mon 7 Dec
        (datetime(2026, 12, 2, 9, 0, tzinfo=UTC), date(2026, 12, 7)),
    ],
)
def test_redirect_term_is_five_days_to_a_working_day(returned: datetime, due: date) -> None:
    assert redirect_due(returned) == due
