"""The `hub` command line, in-process (typer's CliRunner) against a real ledger.

Each test points the CLI at this test's ledger with ``HUB_DATABASE_URL`` and loads only the
built-in plugins, so what is installed in the workspace does not change the outcome.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
import typer
from sqlalchemy import select
from structlog.testing import capture_logs
from typer.testing import CliRunner, Result

from hub.cli._common import actor
from hub.cli.main import build_app
from hub.db.engine import make_engines
from hub.db.ledger import DeliveryFilter, Ledger, Outcome
from hub.db.schema import deliveries, events
from hub.hookspecs import hookimpl
from hub.plugins import create_plugin_host
from hub.serve import bind

Invoke = Callable[..., Result]


@pytest.fixture
def routing(tmp_path: Path) -> Path:
    path = tmp_path / "routing.toml"
    path.write_text(
        '[[rule]]\nname = "petitions"\nkinds = ["petitie"]\ndepartment = "REG"\n'
        'destinations = [{ connector = "webhook", target = "REG" }]\n\n'
        '[fallback]\ndestinations = [{ connector = "noop" }]\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def cli_env(
    monkeypatch: pytest.MonkeyPatch, database_url: str, routing: Path, tmp_path: Path
) -> str:
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_ROUTING_FILE", str(routing))
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HUB_LOAD_PLUGINS", "webhook,noop")
    return database_url


@pytest.fixture
def invoke(cli_env: str) -> Invoke:
    with capture_logs():
        app = build_app()
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        # Unconfigured, structlog prints to stdout (`main()` configures it for stderr), and
        # `hub run` configures it for the runner's stderr, closed afterwards: capture the logs,
        # and restore the configuration for the tests that follow in this process.
        old = structlog.get_config()
        try:
            with capture_logs():
                return runner.invoke(app, list(args), input=input)
        finally:
            structlog.configure(**old)

    return run


@pytest.fixture
def ledger(cli_env: str) -> Iterator[Ledger]:
    writer, reader = make_engines(cli_env)
    yield Ledger(writer, reader)
    writer.dispose()
    reader.dispose()


def _docs(n: int, prefix: str = "doc", **extra: Any) -> list[dict[str, Any]]:
    return [{"source": "cli", "external_id": f"{prefix}-{i}", **extra} for i in range(n)]


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def _kill(ledger: Ledger, connector: str, n: int, reason: str = "remote refused it") -> list[int]:
    """Claim ``n`` deliveries and record them dead, as the dispatcher would."""
    jobs = ledger.claim(connector, n, "test-worker", 60)
    ledger.record_outcomes(
        [
            Outcome(
                delivery_id=j.delivery_id,
                document_id=j.document.id,
                connector=connector,
                attempt=j.attempt,
                state="dead",
                started_at=0.0,
                duration_ms=1.0,
                worker="test-worker",
                error_type="PermanentError",
                message=reason,
                reason=reason,
            )
            for j in jobs
        ]
    )
    return [j.delivery_id for j in jobs]


def _states(ledger: Ledger) -> dict[int, str]:
    with ledger.reader.connect() as conn:
        return {r.id: r.state for r in conn.execute(select(deliveries.c.id, deliveries.c.state))}


# --- configuration errors -----------------------------------------------------------------------


def test_bad_setting_is_one_red_line_and_exit_2(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_API_PORT", "not-a-port")
    result = invoke("status")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: invalid settings:")
    assert "HUB_API_PORT" in lines[0]
    assert "not-a-port" not in result.output  # the value is never echoed
    assert "Traceback" not in result.output


def test_outdated_schema_says_run_db_upgrade_then_upgrade_fixes_it(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh' / 'hub.db'}")
    result = invoke("run", "--no-api")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert "hub db upgrade" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    current = invoke("db", "current")
    assert current.exit_code == 0
    assert "none (empty database)" in current.stdout
    assert "outdated" in current.stdout

    up = invoke("db", "upgrade")
    assert up.exit_code == 0, up.output
    assert "upgraded from an empty database" in up.stdout
    again = invoke("db", "upgrade")
    assert "already at revision" in again.stdout

    assert "up to date" in invoke("db", "current").stdout
    assert invoke("status").exit_code == 0


def test_run_with_nothing_to_run_and_demo_on_a_busy_port_exit_2(invoke: Invoke) -> None:
    nothing = invoke("run", "--no-api", "--no-workers")
    assert nothing.exit_code == 2
    assert "nothing to run" in nothing.stderr

    busy = bind("127.0.0.1", 0)
    try:
        port = str(busy.getsockname()[1])
        result = invoke("demo", "--port", port, "--for", "1")
    finally:
        busy.close()
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--port" in result.stderr


def test_unreachable_ledger_is_a_configuration_error(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_DATABASE_URL", "postgresql+psycopg://nobody:s3cret@127.0.0.1:1/none")
    result = invoke("dead")
    assert result.exit_code == 2
    assert "HUB_DATABASE_URL" in result.stderr
    assert "s3cret" not in result.output


# --- tokens -------------------------------------------------------------------------------------


def test_token_create_list_revoke(invoke: Invoke, ledger: Ledger) -> None:
    created = invoke(
        "token", "create", "--name", "registry-desk", "--scope", "intake", "--scope", "read"
    )
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("hub_")
    assert ledger.verify_token(token) == ("registry-desk", frozenset({"intake", "read"}))

    listed = invoke("token", "list")
    assert listed.exit_code == 0
    assert "registry-desk" in listed.stdout
    assert "intake, read" in listed.stdout
    assert token not in listed.stdout  # shown once, at creation only

    duplicate = invoke("token", "create", "--name", "registry-desk", "--scope", "read")
    assert duplicate.exit_code == 1
    assert "already exists" in duplicate.stderr

    unknown = invoke("token", "create", "--name", "x", "--scope", "everything")
    assert unknown.exit_code == 1
    assert "unknown scope" in unknown.stderr

    revoked = invoke("token", "revoke", "registry-desk")
    assert revoked.exit_code == 0
    assert ledger.verify_token(token) is None
    assert "registry-desk" in invoke("token", "list").stdout
    again = invoke("token", "revoke", "registry-desk")
    assert again.exit_code == 1
    assert "no active token" in again.stderr


# --- intake -------------------------------------------------------------------------------------


def test_intake_good_files_then_duplicates(invoke: Invoke, tmp_path: Path, ledger: Ledger) -> None:
    many = _write(tmp_path / "many.json", _docs(3, kind="petitie", subject="Sesizare"))
    one = _write(tmp_path / "one.json", {"source": "cli", "external_id": "single"})
    first = invoke("intake", str(many), str(one))
    assert first.exit_code == 0, first.output
    assert "4 created, 0 duplicate, 0 file(s) refused" in first.stdout
    assert ledger.count_documents() == 4
    stats = ledger.connector_stats()
    assert stats["webhook"]["pending"] == 3  # petitions → webhook REG
    assert stats["noop"]["pending"] == 1  # the rest → fallback

    second = invoke("intake", str(many), str(one))
    assert second.exit_code == 0
    assert "0 created, 4 duplicate" in second.stdout
    assert ledger.count_documents() == 4


def test_intake_refuses_invalid_files_naming_the_field_not_the_value(
    invoke: Invoke, tmp_path: Path, ledger: Ledger
) -> None:
    bad_cnp = "1960101000009"  # 13 digits, wrong check digit
    good = _write(tmp_path / "good.json", _docs(2))
    bad = _write(
        tmp_path / "bad.json",
        [
            {"source": "cli", "external_id": "ok-1"},
            {
                "source": "cli",
                "external_id": "bad-1",
                "sender": {"type": "pf", "name": "Ion Popescu-Test", "cnp": bad_cnp},
            },
        ],
    )
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    wrong_type = _write(
        tmp_path / "type.json",
        {
            "source": "cli",
            "external_id": "t",
            "attachments": [
                {
                    "filename": "a.exe",
                    "content_type": "application/x-msdownload",
                    "content_base64": "AAAA",
                }
            ],
        },
    )
    result = invoke("intake", str(good), str(bad), str(broken), str(wrong_type))
    assert result.exit_code == 1
    assert "2 created, 0 duplicate, 3 file(s) refused" in result.stdout
    assert "[1].sender.cnp" in result.stderr
    assert "not valid UTF-8 JSON at line 1" in result.stderr
    assert "attachments[0].content_type" in result.stderr
    assert bad_cnp not in result.output
    assert "Popescu" not in result.output
    # The good file went in; nothing of the refused files did (not even its valid first item).
    assert ledger.count_documents() == 2
    assert ledger.find_documents(external_id="ok-1") == []


# --- status, dead, replay, cancel ------------------------------------------------------------


def test_status_counts_per_connector_and_json(
    invoke: Invoke, tmp_path: Path, ledger: Ledger
) -> None:
    invoke("intake", str(_write(tmp_path / "d.json", _docs(5))))
    _kill(ledger, "noop", 2)
    table = invoke("status")
    assert table.exit_code == 0, table.output
    row = next(line for line in table.stdout.splitlines() if "noop" in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    # connector, pending, waiting, in flight, delivered, retrying, dead, cancelled, oldest open
    assert cells[:8] == ["noop", "3", "0", "0", "0", "0", "2", "0"]
    assert cells[8] != "-"

    as_json = invoke("status", "--json")
    assert as_json.exit_code == 0
    data = json.loads(as_json.stdout)
    assert data["connectors"]["noop"]["pending"] == 3
    assert data["connectors"]["noop"]["dead"] == 2
    assert data["connectors"]["webhook"]["pending"] == 0
    assert data["sources"] == []


def test_dead_lists_reasons_and_replay_brings_them_back(
    invoke: Invoke, tmp_path: Path, ledger: Ledger
) -> None:
    assert "no dead letters" in invoke("dead").stdout
    invoke("intake", str(_write(tmp_path / "d.json", _docs(4))))
    dead_ids = _kill(ledger, "noop", 3, reason="remote answered HTTP 422")

    listed = invoke("dead", "--connector", "noop")
    assert listed.exit_code == 0
    for i in dead_ids:
        assert f"│ {i} " in listed.stdout or f"│  {i} " in listed.stdout
    assert listed.stdout.count("remote answered HTTP 422") == 3
    assert "no dead letters for webhook" in invoke("dead", "--connector", "webhook").stdout
    assert "(1 shown)" in invoke("dead", "--limit", "1").stdout

    refused = invoke("replay", input="n\n")
    assert refused.exit_code == 1
    assert "Replay 3 dead deliveries?" in refused.stdout
    assert all(_states(ledger)[i] == "dead" for i in dead_ids)

    nothing = invoke("replay", "--connector", "webhook", "--yes")
    assert "Nothing to replay" in nothing.stdout

    one = invoke("replay", str(dead_ids[0]), "999999", "--yes")
    assert one.exit_code == 0, one.output
    assert "1 deliveries replayed" in one.stdout
    assert "999999" in one.stdout  # reported as skipped
    assert _states(ledger)[dead_ids[0]] == "pending"

    rest = invoke("replay", input="y\n")
    assert rest.exit_code == 0
    assert "2 deliveries replayed" in rest.stdout
    assert all(_states(ledger)[i] == "pending" for i in dead_ids)
    with ledger.reader.connect() as conn:
        actors = {
            r.actor
            for r in conn.execute(select(events.c.actor).where(events.c.action == "replayed"))
        }
    assert actors == {actor()}
    assert actor().startswith("cli:")


def test_replay_window_and_chunks(invoke: Invoke, tmp_path: Path, ledger: Ledger) -> None:
    invoke("intake", str(_write(tmp_path / "d.json", _docs(620))))
    dead_ids = _kill(ledger, "noop", 620)
    assert "Nothing to replay" in invoke("replay", "--since", "2999-01-01", "--yes").stdout
    assert "Nothing to replay" in invoke("replay", "--until", "2001-01-01T00:00", "--yes").stdout
    bad = invoke("replay", "--since", "yesterday", "--yes")
    assert bad.exit_code == 1
    assert "--since" in bad.stderr

    result = invoke("replay", "--since", "2001-01-01", "--until", "2999-01-01T00:00+02:00", "--yes")
    assert result.exit_code == 0, result.output
    assert "620 deliveries replayed" in result.stdout  # 500 + 120, in two transactions
    assert {_states(ledger)[i] for i in dead_ids} == {"pending"}


def test_cancel_needs_a_selector_and_cancels_open_deliveries(
    invoke: Invoke, tmp_path: Path, ledger: Ledger
) -> None:
    invoke("intake", str(_write(tmp_path / "d.json", _docs(3, kind="petitie"))))
    invoke("intake", str(_write(tmp_path / "e.json", _docs(2, prefix="other"))))
    bare = invoke("cancel", "--yes")
    assert bare.exit_code == 1
    assert "give delivery ids or a filter" in bare.stderr

    result = invoke("cancel", "--connector", "webhook", input="y\n")
    assert result.exit_code == 0, result.output
    assert "Cancel 3 " in result.stdout
    assert "3 deliveries cancelled" in result.stdout
    stats = ledger.connector_stats()
    assert stats["webhook"]["cancelled"] == 3
    assert stats["noop"]["pending"] == 2

    # A cancelled delivery can be brought back by id.
    cancelled = ledger.select_delivery_ids(
        DeliveryFilter(connector="webhook", states=("cancelled",))
    )
    back = invoke("replay", str(cancelled[0]), "--yes")
    assert "1 deliveries replayed" in back.stdout
    assert _states(ledger)[cancelled[0]] == "pending"


# --- doctor and plugins -------------------------------------------------------------------------


def test_doctor_passes_on_a_good_setup(invoke: Invoke) -> None:
    result = invoke("doctor")
    assert result.exit_code == 0, result.output
    assert "✓ ledger reachable" in result.stdout
    assert "✓ ledger schema" in result.stdout
    assert "✓ routing rules" in result.stdout
    assert "✓ connector webhook" in result.stdout
    assert "all checks passed" in result.stdout


def test_doctor_fails_on_a_bad_setting_with_one_line_naming_the_variable(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_WEBHOOK__ENDPOINTS__DJ__URL", "ftp://juridic.example")
    monkeypatch.setenv("HUB_WEBHOOK__ENDPOINTS__DJ__SECRET", "whsec_c2VjcmV0LXZhbHVlLXRlc3Q=")
    result = invoke("doctor")
    assert result.exit_code == 1
    failing = [line for line in result.stdout.splitlines() if line.startswith("✗")]
    assert len(failing) == 1
    assert failing[0].startswith("✗ settings")
    assert "HUB_WEBHOOK__ENDPOINTS__DJ__URL" in failing[0]
    assert "c2VjcmV0" not in result.output
    assert "1 check(s) failed" in result.stdout


def test_doctor_reports_broken_routing_and_outdated_schema(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rules = tmp_path / "bad-routing.toml"
    rules.write_text('[fallback]\ndestinations = [{ connector = "nowhere" }]\n', encoding="utf-8")
    monkeypatch.setenv("HUB_ROUTING_FILE", str(rules))
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'empty' / 'hub.db'}")
    result = invoke("doctor")
    assert result.exit_code == 1
    out = result.stdout
    assert "✓ ledger reachable" in out
    assert "✗ ledger schema" in out and "hub db upgrade" in out
    assert "✗ routing rules" in out and "unknown connector 'nowhere'" in out
    assert "✓ connector noop" in out


def test_plugins_table(invoke: Invoke) -> None:
    result = invoke("plugins")
    assert result.exit_code == 0
    rows = {
        line.split("│")[1].strip(): line
        for line in result.stdout.splitlines()
        if line.startswith("│")
    }
    assert "loaded" in rows["webhook"] and "registry-hub" in rows["webhook"]
    assert "│ webhook " in rows["webhook"].split("loaded", 1)[1]  # its connector
    assert "loaded" in rows["noop"]
    others = set(rows) - {"webhook", "noop"}
    assert all("disabled" in rows[name] for name in others)


# --- plugin commands ----------------------------------------------------------------------------


class _Greeter:
    @hookimpl
    def hub_register_commands(self, cli: typer.Typer) -> None:
        @cli.command("greet")
        def greet(name: str) -> None:
            """A plugin's command."""
            typer.echo(f"salut, {name}")


class _MonthlyReport:
    @hookimpl
    def hub_register_reports(self, report: typer.Typer) -> None:
        @report.command("volumes")
        def volumes(month: str = typer.Option(..., help="YYYY-MM")) -> None:
            """A plugin's report."""
            typer.echo(f"report for {month}")


class _Broken:
    @hookimpl
    def hub_register_commands(self, cli: typer.Typer) -> None:
        raise RuntimeError("plugin bug")


def test_plugins_add_commands(cli_env: str) -> None:
    with capture_logs():
        app = build_app(create_plugin_host(entry_points=False, extra=[_Greeter()]))
    result = CliRunner().invoke(app, ["greet", "Ana"])
    assert result.exit_code == 0
    assert result.stdout == "salut, Ana\n"


def test_plugins_add_reports_under_hub_report(cli_env: str) -> None:
    with capture_logs():
        app = build_app(create_plugin_host(entry_points=False, extra=[_MonthlyReport()]))
        bare = build_app(create_plugin_host(entry_points=False))
    result = CliRunner().invoke(app, ["report", "volumes", "--month", "2026-11"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "report for 2026-11\n"
    assert CliRunner().invoke(bare, ["report", "volumes", "--month", "2026-11"]).exit_code != 0


def test_a_broken_plugin_costs_only_its_commands(
    cli_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with capture_logs() as logs:
        app = build_app(create_plugin_host(entry_points=False, extra=[_Broken()]))
    assert [e["event"] for e in logs] == ["hub.cli.plugin_commands_failed"]
    assert "plugin commands are unavailable (RuntimeError)" in capsys.readouterr().err
    runner = CliRunner()
    with capture_logs():
        result = runner.invoke(app, ["db", "current"])
    assert result.exit_code == 0
    assert "up to date" in result.stdout
    assert runner.invoke(app, ["greet", "Ana"]).exit_code != 0


def test_cli_start_does_not_import_what_only_some_commands_need() -> None:
    """fpdf2 (~0.8 s), aiohttp, alembic and FastAPI (~0.25 s each), holidays (~0.13 s), jinja2
    and uvicorn are imported on first use, not by every `hub …` command: the API's routes, the
    connectors, the schema check, the term engine, the reports and `hub run` import the
    modules that use them."""
    code = (
        "import sys\n"
        "from hub.cli.main import main\n"
        "sys.argv = ['hub', '--help']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "lazy = ('fpdf', 'aiohttp', 'httpx_aiohttp', 'alembic', 'holidays', 'fastapi', 'uvicorn',"
        " 'jinja2')\n"
        "print(sorted(m for m in lazy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert "Usage" in done.stdout  # the plugins' commands were registered: --help ran
    assert done.stdout.strip().splitlines()[-1] == "[]"
