"""Settings: environment (HUB_, __ nesting), secrets directory, hub.toml; plugin sections; errors
that name the variable and never the value; secrets never printed."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field, SecretStr

from hub.connectors import Connector, ConnectorSettings
from hub.errors import ConfigurationError
from hub.hookspecs import hookimpl
from hub.plugins import create_plugin_host
from hub.settings import load_settings

SECRET = "s3cr3t-Value-7f1c"


class ReqSettings(ConnectorSettings):
    base_url: str = Field(pattern=r"^https?://", description="Where the remote lives")
    api_key: SecretStr = Field(description="Key sent to the remote")
    port: int = Field(default=443, description="Remote port")


class ReqConnector(Connector):
    name = "reqconn"
    settings_model = ReqSettings


class ReqPlugin:
    @hookimpl
    def hub_register_connectors(self, register):  # type: ignore[no-untyped-def]
        register(ReqConnector)


def _sections() -> dict[str, type]:
    host = create_plugin_host(entry_points=False, extra=[ReqPlugin()])
    return host.settings_sections()


def test_env_prefix_and_nested_delimiter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_API_PORT", "9191")
    monkeypatch.setenv("HUB_DISPATCHER__BATCH_SIZE", "17")
    monkeypatch.setenv("HUB_DISPATCHER__LEASE_SECONDS", "7.5")
    s = load_settings()
    assert s.api_port == 9191
    assert s.dispatcher.batch_size == 17
    assert s.dispatcher.lease_seconds == 7.5
    # Without the prefix nothing is read.
    monkeypatch.setenv("API_PORT", "1")
    assert load_settings().api_port == 9191


def test_plugin_section_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_REQCONN__BASE_URL", "https://remote.invalid")
    monkeypatch.setenv("HUB_REQCONN__API_KEY", SECRET)
    monkeypatch.setenv("HUB_REQCONN__RETRY__MAX_ATTEMPTS", "4")
    s = load_settings(_sections())
    section = s.section("reqconn")
    assert isinstance(section, ReqSettings)
    assert section.base_url == "https://remote.invalid"
    assert section.api_key.get_secret_value() == SECRET
    assert section.retry.max_attempts == 4


def test_hub_toml_via_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    toml = tmp_path / "conf" / "hub.toml"
    toml.parent.mkdir()
    toml.write_text(
        'api_port = 9123\nlog_format = "json"\n\n[dispatcher]\nbatch_size = 33\n\n'
        '[reqconn]\nbase_url = "https://from-toml.invalid"\napi_key = "k"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("HUB_CONFIG_FILE", str(toml))
    s = load_settings(_sections())
    assert s.api_port == 9123
    assert s.log_format == "json"
    assert s.dispatcher.batch_size == 33
    assert s.section("reqconn").base_url == "https://from-toml.invalid"
    # The environment wins over the file.
    monkeypatch.setenv("HUB_API_PORT", "9000")
    assert load_settings(_sections()).api_port == 9000


def test_secrets_dir_fills_secret_fields(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "HUB_REQCONN__API_KEY").write_text(SECRET + "\n", encoding="utf-8")
    (secrets / "HUB_DATABASE_URL").write_text("sqlite:////tmp/from-secret.db\n", encoding="utf-8")
    (secrets / "not-a-hub-file").write_text("ignored", encoding="utf-8")
    monkeypatch.setenv("HUB_SECRETS_DIR", str(secrets))
    monkeypatch.setenv("HUB_REQCONN__BASE_URL", "https://remote.invalid")
    s = load_settings(_sections())
    key = s.section("reqconn").api_key
    assert isinstance(key, SecretStr)
    assert key.get_secret_value() == SECRET  # stripped of the trailing newline
    assert s.effective_database_url() == "sqlite:////tmp/from-secret.db"
    # The environment wins over the secrets directory.
    monkeypatch.setenv("HUB_REQCONN__API_KEY", "from-env")
    assert load_settings(_sections()).section("reqconn").api_key.get_secret_value() == "from-env"


def test_secrets_dir_that_is_not_a_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HUB_SECRETS_DIR", str(tmp_path / "missing"))
    with pytest.raises(ConfigurationError, match="HUB_SECRETS_DIR"):
        load_settings()


def test_missing_plugin_section_names_each_variable() -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings(_sections())
    message = str(info.value)
    assert "HUB_REQCONN__BASE_URL" in message
    assert "HUB_REQCONN__API_KEY" in message


def test_missing_field_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_REQCONN__API_KEY", SECRET)
    with pytest.raises(ConfigurationError) as info:
        load_settings(_sections())
    message = str(info.value)
    assert "HUB_REQCONN__BASE_URL" in message
    assert "HUB_REQCONN__API_KEY" not in message
    assert SECRET not in message


def test_bad_value_names_the_variable_not_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_REQCONN__BASE_URL", "ftp://" + SECRET)
    monkeypatch.setenv("HUB_REQCONN__API_KEY", SECRET)
    monkeypatch.setenv("HUB_REQCONN__PORT", "port-" + SECRET)
    with pytest.raises(ConfigurationError) as info:
        load_settings(_sections())
    message = str(info.value)
    assert "HUB_REQCONN__BASE_URL" in message
    assert "HUB_REQCONN__PORT" in message
    assert SECRET not in message
    assert info.value.__cause__ is None  # the ValidationError (with inputs) is not chained


def test_bad_nested_secret_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.builtin.webhook import WebhookSettings

    monkeypatch.setenv("HUB_WEBHOOK__ENDPOINTS__DJ__URL", "https://dj.invalid/hook")
    monkeypatch.setenv("HUB_WEBHOOK__ENDPOINTS__DJ__SECRET", "nope_" + SECRET)
    with pytest.raises(ConfigurationError) as info:
        load_settings({"webhook": WebhookSettings})
    message = str(info.value)
    assert "HUB_WEBHOOK__ENDPOINTS__DJ__SECRET" in message
    assert "whsec_" in message  # says how to fix it
    assert SECRET not in message


def test_secrets_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_REQCONN__BASE_URL", "https://remote.invalid")
    monkeypatch.setenv("HUB_REQCONN__API_KEY", SECRET)
    monkeypatch.setenv("HUB_DATABASE_URL", f"postgresql+psycopg://hub:{SECRET}@127.0.0.1/hub")
    s = load_settings(_sections())
    for text in (repr(s), str(s), s.model_dump_json(), repr(s.section("reqconn"))):
        assert SECRET not in text
    assert "**********" in repr(s.section("reqconn"))
    assert SECRET in s.effective_database_url()


def test_section_colliding_with_core_settings() -> None:
    with pytest.raises(ConfigurationError, match="dispatcher"):
        load_settings({"dispatcher": ReqSettings})


def test_sections_with_defaults_need_no_configuration() -> None:
    s = load_settings({"plain": ConnectorSettings})
    assert s.section("plain").concurrency == 32
    assert s.effective_database_url().startswith("sqlite:///")


def test_a_worker_id_longer_than_the_ledger_keeps_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Leases and events store the worker's name in 64 characters: a longer HUB_WORKER_ID stops
    start-up with the variable named, instead of every claim failing later on PostgreSQL."""
    monkeypatch.setenv("HUB_WORKER_ID", "w" * 65)
    with pytest.raises(ConfigurationError, match="HUB_WORKER_ID"):
        load_settings(())
    monkeypatch.setenv("HUB_WORKER_ID", "w" * 64)
    assert load_settings(()).worker_id == "w" * 64


def test_the_default_worker_id_fits_even_with_a_long_host_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os
    import socket

    from hub.runtime import default_worker_id

    monkeypatch.setattr(socket, "gethostname", lambda: "registry-hub-" + "x" * 50)
    worker = default_worker_id()
    assert len(worker) == 64 and worker.endswith(f":{os.getpid()}")
