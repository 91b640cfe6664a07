"""Settings of the ``invoices`` section (``HUB_INVOICES__…``).

Every field has a default so that a hub without e-Factura configured still starts; the source
stays disabled until :attr:`InvoicesSettings.configured` is true (``hub doctor`` names what is
missing).

Routing: ANAF's invoices carry references the hub's routing rules cannot see (contract, order,
supplier CUI), so the source picks the department itself from ``routes`` (first match wins) and
leaves the destinations to the routing rules (kind ``factura``)::

    HUB_INVOICES__ROUTES='[{"contract_prefix": "CTR-DT", "department": "DT"},
                           {"supplier_cui": "14399840", "department": "DE"}]'
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.ro import cui as ro_cui

__all__ = ["InvoiceRoute", "InvoicesSettings", "LimitSettings", "ParseLimits"]

BASE_URLS = {
    "prod": "https://api.anaf.ro/prod/FCTEL/rest",
    "test": "https://api.anaf.ro/test/FCTEL/rest",
}
TOKEN_URL = "https://logincert.anaf.ro/anaf-oauth2/v1/token"  # noqa: S105 (a URL)
AUTHORIZE_URL = "https://logincert.anaf.ro/anaf-oauth2/v1/authorize"


def normalize_cui(value: str) -> str:
    """Digits only (``RO`` prefix and spaces dropped), validated; ValueError otherwise."""
    digits = re.sub(r"^\s*RO\s*", "", value.strip(), flags=re.IGNORECASE).replace(" ", "")
    try:
        return str(ro_cui.validate(digits))
    except StdnumValidationError:
        raise ValueError("not a valid CUI (check digit or length is wrong)") from None


class InvoiceRoute(BaseModel):
    """One routing rule for invoices: every condition it sets must match."""

    model_config = ConfigDict(extra="forbid")

    contract_prefix: str | None = Field(default=None, description="Contract reference prefix")
    order_prefix: str | None = Field(default=None, description="Order reference prefix")
    supplier_cui: str | None = Field(default=None, description="Supplier CUI (digits)")
    department: str = Field(min_length=1, max_length=64, description="Department code")

    @field_validator("supplier_cui")
    @classmethod
    def _cui(cls, v: str | None) -> str | None:
        return normalize_cui(v) if v else None

    @model_validator(mode="after")
    def _some_condition(self) -> InvoiceRoute:
        if not (self.contract_prefix or self.order_prefix or self.supplier_cui):
            raise ValueError("a route needs contract_prefix, order_prefix or supplier_cui")
        return self


class LimitSettings(BaseModel):
    """ANAF's published call limits (limiteApeluriAPI), kept with a margin by default."""

    model_config = ConfigDict(extra="forbid")

    calls_per_minute: int = Field(
        default=950,
        ge=1,
        description="All methods, per minute (ANAF: 1,000; a margin for clock and network skew)",
    )
    simple_list_per_day: int = Field(default=1500, ge=1, description="listaMesajeFactura / CUI")
    paged_list_per_day: int = Field(
        default=100_000, ge=1, description="listaMesajePaginatieFactura calls per CUI per day"
    )


class ParseLimits(BaseModel):
    """Bounds on what a downloaded ZIP may unpack to (ZIP bombs, XML bombs)."""

    model_config = ConfigDict(extra="forbid")

    max_zip_bytes: int = Field(default=20 * 1024 * 1024, gt=0, description="Largest ZIP accepted")
    max_entries: int = Field(default=10, ge=2, description="Most entries in one ZIP")
    max_xml_bytes: int = Field(
        default=20 * 1024 * 1024, gt=0, description="Largest uncompressed entry"
    )
    max_ratio: float = Field(default=200.0, gt=1, description="Largest compression ratio")
    max_lines: int = Field(default=5000, ge=1, description="Most invoice lines kept")


class InvoicesSettings(BaseModel):
    """The ``invoices`` section (source ``efactura``)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Poll e-Factura (once configured)")
    environment: Literal["prod", "test"] = Field(default="prod", description="ANAF environment")
    base_url: str = Field(
        default="",
        description="e-Factura REST base; empty: https://api.anaf.ro/<environment>/FCTEL/rest",
    )
    token_url: str = Field(default=TOKEN_URL, description="ANAF OAuth2 token endpoint")
    authorize_url: str = Field(default=AUTHORIZE_URL, description="ANAF OAuth2 authorize page")
    redirect_uri: str = Field(
        default="", description="Callback URL registered with the OAuth application at ANAF"
    )
    client_id: str = Field(default="", description="Client id of the application ANAF registered")
    client_secret: SecretStr = Field(default=SecretStr(""), description="Its client secret")
    cif: str = Field(default="", description="The city hall's CUI (digits, without RO)")
    token_key: SecretStr = Field(
        default=SecretStr(""),
        description="Fernet key encrypting the stored tokens "
        "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key())')",
    )
    refresh_token: SecretStr = Field(
        default=SecretStr(""),
        description="Seed refresh token, used once when no token is stored yet (else use "
        "`hub invoices login`)",
    )
    interval_seconds: float = Field(default=600.0, gt=0, description="Seconds between polls")
    window_days: int = Field(
        default=60, ge=1, le=60, description="First poll looks back this many days (≤ 60)"
    )
    overlap_seconds: float = Field(
        default=600.0, ge=0, description="Each window re-reads this much before the cursor"
    )
    filter: Literal["P", "E"] = Field(
        default="P",
        description="P: received invoices, then E (error messages) in the same window; "
        "E: error messages only",
    )
    max_messages_per_poll: int = Field(
        default=500, ge=1, le=10_000, description="Messages downloaded per poll at most"
    )
    download_concurrency: int = Field(default=4, ge=1, le=32, description="Downloads in flight")
    timeout_seconds: float = Field(default=60.0, gt=0, description="HTTP timeout per call")
    http_transport: Literal["aiohttp", "httpx"] = Field(
        default="aiohttp", description="HTTP client transport (see hub.http)"
    )
    token_refresh_margin_days: float = Field(
        default=7.0, ge=0, description="Refresh the access token this long before it expires"
    )
    timezone: str = Field(default="Europe/Bucharest", description="ANAF's day (quotas reset)")
    limits: LimitSettings = Field(default_factory=LimitSettings, description="ANAF's limits")
    parse: ParseLimits = Field(default_factory=ParseLimits, description="ZIP / XML bounds")
    routes: list[InvoiceRoute] = Field(
        default_factory=list, description="Department by contract / order / supplier"
    )
    cross_check_detalii: bool = Field(
        default=True,
        description="Refuse an invoice whose supplier CUI differs from cif_emitent in detalii",
    )

    @field_validator("cif")
    @classmethod
    def _cif(cls, v: str) -> str:
        return normalize_cui(v) if v else ""

    @field_validator("base_url", "token_url", "authorize_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if v and not re.match(r"^https?://[^/]", v):
            raise ValueError("must start with https:// (or http:// for a local simulator)")
        return v.rstrip("/")

    @property
    def api_base(self) -> str:
        return self.base_url or BASE_URLS[self.environment]

    def missing(self) -> list[str]:
        """Environment variables still to set before the source can poll."""
        out = []
        if not self.client_id:
            out.append("HUB_INVOICES__CLIENT_ID")
        if not self.client_secret.get_secret_value():
            out.append("HUB_INVOICES__CLIENT_SECRET")
        if not self.cif:
            out.append("HUB_INVOICES__CIF")
        if not self.token_key.get_secret_value():
            out.append("HUB_INVOICES__TOKEN_KEY")
        return out

    @property
    def configured(self) -> bool:
        return not self.missing()
