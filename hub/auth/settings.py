"""Settings of the dashboard and its sign-in (``HUB_DASHBOARD__*``, ``HUB_OIDC__*``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = ["DashboardSettings", "OidcSettings"]


class DashboardSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Serve the dashboard at /")
    cookie_secure: bool = Field(
        default=True,
        description="Session cookie only over HTTPS. May be false only when the API listens "
        "on a loopback address (development, tests)",
    )
    session_hours: float = Field(default=8.0, gt=0, le=24 * 30, description="Session lifetime")
    lockout_failures: int = Field(
        default=5, ge=1, le=100, description="Wrong passwords in a row that lock an account"
    )
    lockout_minutes: float = Field(default=15.0, gt=0, description="How long a lockout lasts")
    refresh_seconds: int = Field(
        default=5, ge=1, le=300, description="How often the overview refreshes itself"
    )


class OidcSettings(BaseModel):
    """Sign-in through the institution's identity provider (``HUB_OIDC__*``): the OpenID
    Connect authorization code flow with PKCE. Off while ``issuer`` is empty.

    The provider proves who someone is; the hub decides what they may do: only a user created
    with ``hub user create NAME --role … --oidc-subject SUB`` (SUB = the provider's ``sub``)
    gets in, with that user's role."""

    model_config = ConfigDict(extra="forbid")

    issuer: str = Field(default="", description="Issuer URL; its discovery document is used")
    client_id: str = Field(default="", description="Client id registered at the provider")
    client_secret: SecretStr = Field(
        default=SecretStr(""), description="Client secret (client_secret_basic)"
    )
    redirect_url: str = Field(
        default="",
        description="The callback URL registered at the provider; empty: <this host>"
        "/login/oidc/callback",
    )
    label: str = Field(
        default="Autentificare instituțională", description="Text of the sign-in button"
    )

    @property
    def enabled(self) -> bool:
        return bool(self.issuer and self.client_id)
