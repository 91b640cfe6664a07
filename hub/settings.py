"""The hub's settings: environment (``HUB_`` prefix, ``__`` nesting), a secrets directory, and an
optional ``hub.toml``, in that order of precedence.

Each plugin owns a section (``HUB_WEBCON__BASE_URL`` → ``settings.webcon.base_url``), typed by the
model its connector or source declares. :func:`load_settings` builds the root model with those
sections and turns any validation failure into one :class:`~hub.errors.ConfigurationError`
whose lines name the setting and its environment variable — and never the value, which may be
a secret.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, create_model
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings.sources.utils import parse_env_vars

from hub.auth.settings import DashboardSettings, OidcSettings
from hub.errors import ConfigurationError
from hub.mail import SmtpSettings

__all__ = ["DispatcherSettings", "HubSettings", "load_settings", "settings_error"]

ENV_PREFIX = "HUB_"


class DispatcherSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_size: int = Field(default=256, ge=1, le=5000, description="Deliveries claimed at once")
    lease_seconds: float = Field(
        default=120.0, gt=0, description="How long a claim holds before another worker may retry"
    )
    idle_poll_seconds: float = Field(
        default=0.5, gt=0, description="Longest sleep between claims when nothing wakes workers"
    )
    shutdown_grace_seconds: float = Field(
        default=20.0, ge=0, description="How long SIGTERM waits for deliveries in flight"
    )
    coalesce_seconds: float = Field(
        default=0.004,
        ge=0,
        le=1,
        description="When work trickles in, wait this long before the next claim or outcome"
        " write so that one transaction takes several deliveries (0 = write at once)",
    )
    intake_handoff: bool = Field(
        default=True,
        description="Intake claims new deliveries in its own transaction and hands them to the"
        " dispatcher of the same process (no claim query, no read-back); false: the dispatcher"
        " claims every delivery from the ledger",
    )
    claim_ahead: bool = Field(
        default=True,
        description="Where a claim is a round trip (PostgreSQL), a connector with a backlog claims"
        " up to half its concurrency ahead of its free slots, so that a finished delivery's slot"
        " starts the next one at once instead of waiting for a claim (only where three quarters"
        " of the lease outlast twice the connector's timeout)",
    )
    sqlite_inline_bookkeeping: bool = Field(
        default=True,
        description="SQLite: claims and attempt outcomes run on the event loop while the"
        " ledger's writer thread is idle (a quarter less CPU per delivery); false: always on"
        " the writer thread",
    )


class HubSettings(BaseSettings):
    """Core settings. Plugin sections are added by :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="ignore",
        toml_file="hub.toml",
    )

    data_dir: Path = Field(default=Path("var"), description="Where the SQLite ledger lives")
    database_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL; empty means sqlite:///<data_dir>/hub.db. "
        "postgresql+psycopg://… selects PostgreSQL",
    )
    sqlite_synchronous: Literal["FULL", "NORMAL"] = Field(
        default="FULL",
        description="FULL: every commit survives a power loss (default). NORMAL: survives a "
        "process crash only",
    )
    routing_file: Path = Field(default=Path("routing.toml"), description="Routing rules (TOML)")
    units_file: Path = Field(
        default=Path("units.toml"), description="Directory of receiving units (TOML, hub.units)"
    )
    terms_file: Path = Field(
        default=Path("terms.toml"), description="Legal terms per document kind (TOML, hub.terms)"
    )
    api_host: str = Field(default="127.0.0.1", description="Address the HTTP API binds to")
    api_port: int = Field(default=8080, ge=0, le=65535, description="Port of the HTTP API")
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Reverse proxies whose X-Forwarded-For is believed (comma-separated"
        " addresses or networks, '*' for any): the client address of rate limits and logs",
    )
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto", description="json in production; auto = console on a terminal"
    )
    log_level: str = Field(default="INFO", description="Python logging level")
    max_attachment_bytes: int = Field(
        default=25 * 1024 * 1024, gt=0, description="Largest attachment accepted (413 above)"
    )
    max_request_bytes: int = Field(
        default=60 * 1024 * 1024, gt=0, description="Largest intake request body (413 above)"
    )
    allowed_media_types: list[str] = Field(
        default_factory=lambda: [
            "application/pdf",
            "image/jpeg",
            "image/png",
            "image/tiff",
            "text/plain",
            "text/xml",
            "application/xml",
            "application/zip",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/msword",
            "application/vnd.oasis.opendocument.text",
            "message/rfc822",
        ],
        description="Attachment media types accepted at intake (415 otherwise)",
    )
    worker_id: str = Field(
        default="",
        max_length=64,
        description="Name of this process in leases and events (at most 64 characters)",
    )
    dispatcher: DispatcherSettings = Field(default_factory=DispatcherSettings)
    gc_threshold: int = Field(
        default=20_000,
        ge=0,
        description=(
            "Allocations between two collections of Python's youngest generation once the"
            " workers run (0 leaves the interpreter's setting, by default 700);"
            " see docs/performance.md"
        ),
    )
    smtp: SmtpSettings = Field(default_factory=SmtpSettings, description="Outgoing e-mail")
    public_url: str = Field(
        default="http://127.0.0.1:8080",
        description="The hub's address as citizens and departments reach it (links in e-mails,"
        " receipts' QR codes, signed download URLs)",
    )
    download_link_secret: SecretStr | None = Field(
        default=None,
        description="Key of the short-lived signed attachment links (GET /files/{sha256}); "
        "unset: no links are issued (connectors send attachments inline)",
    )
    dashboard: DashboardSettings = Field(
        default_factory=DashboardSettings, description="Web dashboard and its sign-in"
    )
    oidc: OidcSettings = Field(
        default_factory=OidcSettings, description="Dashboard sign-in through OpenID Connect"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("HUB_CONFIG_FILE", "hub.toml"))
        return (
            init_settings,
            env_settings,
            SecretsDirSource(settings_cls),
            TomlConfigSettingsSource(settings_cls, toml_file=toml_path),
        )

    def effective_database_url(self) -> str:
        if self.database_url is not None and self.database_url.get_secret_value():
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.data_dir / 'hub.db'}"

    def section(self, name: str) -> Any:
        return getattr(self, name)


class SecretsDirSource(EnvSettingsSource):
    """Files in ``HUB_SECRETS_DIR`` named like the variable they stand for
    (``HUB_WEBHOOK__ENDPOINTS__DJ__SECRET``), as Docker and Kubernetes mount secrets. Nested
    names work exactly as in the environment; the file's content, stripped, is the value."""

    def _load_env_vars(self) -> dict[str, str | None]:
        folder = os.environ.get("HUB_SECRETS_DIR")
        if not folder:
            return {}
        root = Path(folder)
        if not root.is_dir():
            raise ConfigurationError(f"HUB_SECRETS_DIR={folder} is not a directory")
        found = {
            p.name: p.read_text(encoding="utf-8").strip()
            for p in root.iterdir()
            if p.is_file() and p.name.upper().startswith(ENV_PREFIX)
        }
        return dict(parse_env_vars(found, False, False, None))


def env_var_for(loc: tuple[str | int, ...]) -> str:
    return ENV_PREFIX + "__".join(str(part).upper() for part in loc)


def settings_error(exc: ValidationError) -> ConfigurationError:
    """One line per problem, naming the setting and its env var, never the value."""
    lines = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = tuple(err["loc"])
        dotted = ".".join(str(p) for p in loc) or "(root)"
        lines.append(f"setting {dotted} ({env_var_for(loc)}): {err['msg']}")
    return ConfigurationError("invalid settings: " + "; ".join(lines))


def load_settings(
    sections: dict[str, type[BaseModel]] | None = None, **overrides: Any
) -> HubSettings:
    """Build the settings with the plugin sections the plugin host collected.

    Raises :class:`ConfigurationError` (one line per problem) instead of a ValidationError.
    """
    model: type[HubSettings] = HubSettings
    if sections:
        clash = set(sections) & set(HubSettings.model_fields)
        if clash:
            raise ConfigurationError(
                f"plugin settings section(s) {sorted(clash)} collide with core settings"
            )
        fields: dict[str, Any] = {}
        for name, section_model in sections.items():
            try:
                section_model()
                default: Any = Field(default_factory=section_model)
            except ValidationError:
                # Required fields: validate an empty section so that each missing field is
                # named with its own variable (HUB_<SECTION>__<FIELD>), not the section's.
                default = Field(default_factory=dict, validate_default=True)
            fields[name] = (section_model, default)
        model = create_model("HubSettingsWithPlugins", __base__=HubSettings, **fields)
    try:
        return model(**overrides)
    except ValidationError as exc:
        raise settings_error(exc) from None
