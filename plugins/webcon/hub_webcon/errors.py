"""WEBCON's answers mapped to what the hub does next — the one table.

WEBCON answers errors as ``{"type", "description", "errorGuid"}``. :data:`ERROR_TABLE` decides,
from the HTTP status and that ``type``, whether the attempt is retried, dead-lettered, or the
token renewed; nothing else in the plugin classifies answers.

======  ==================================  =============================================
status  WEBCON ``type``                     what happens
======  ==================================  =============================================
400     any                                 permanent: dead letter with WEBCON's description
401     any                                 renew the token once and retry; again → transient
403     ``InvalidScope``                    permanent, *configuration problem* (scopes)
403     ``InsufficientAccountPermissions``  permanent, *configuration problem* (privileges)
403     other                               permanent
404     any                                 permanent (unknown element, workflow, field …)
405     any                                 permanent, *configuration problem* (impersonation)
409     ``ResourceIsLocked``                transient: someone holds the checkout
409     other (``ValidationError`` …)       permanent: validation failed
423     any                                 transient: locked, retry later
429     any                                 transient (WEBCON documents none; harmless)
5xx     any                                 transient
other   4xx                                 permanent
======  ==================================  =============================================

Transport failures follow the same rule everywhere: a refused connection (``ConnectError``) or
an exhausted pool means nothing was sent → transient; any other failure after a request that
changes something (create, attachment, path) may have reached WEBCON → ambiguous, and the
connector reconciles before it creates again. httpx-aiohttp reports a server that disconnected
as ``ConnectTimeout``, which is why a "connect" timeout is ambiguous too.

The ``type`` and ``errorGuid`` travel in the :class:`~hub.errors.DeliveryError` (``error_type``,
``remote_ref``) and so land in the attempt record, where WEBCON's support can look them up.
Descriptions pass :func:`hub.redaction.redact_text`: WEBCON may quote a field's value.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from hub.errors import (
    AmbiguousError,
    DeliveryError,
    PermanentError,
    TransientError,
    parse_retry_after,
)
from hub.redaction import redact_text

__all__ = [
    "ERROR_TABLE",
    "Outcome",
    "WebconApiError",
    "WebconConfigurationError",
    "classify",
    "delivery_error",
    "transport_error",
]

Outcome = Literal["permanent", "configuration", "refresh", "transient"]

#: (status, WEBCON type or None for any) → outcome. First match wins; order matters.
ERROR_TABLE: tuple[tuple[int, str | None, Outcome], ...] = (
    (400, None, "permanent"),
    (401, None, "refresh"),
    (403, "InvalidScope", "configuration"),
    (403, "InsufficientAccountPermissions", "configuration"),
    (403, None, "permanent"),
    (404, None, "permanent"),
    (405, None, "configuration"),
    (409, "ResourceIsLocked", "transient"),
    (409, None, "permanent"),
    (423, None, "transient"),
    (429, None, "transient"),
)

#: Where a configuration problem is fixed, by WEBCON type.
_CONFIG_HINTS = {
    "InvalidScope": "grant the scope to the API application or set HUB_WEBCON__SCOPE",
    "InsufficientAccountPermissions": "give the API application privileges on the workflow",
    "AuthenticationFailed": "check HUB_WEBCON__CLIENT_ID and HUB_WEBCON__CLIENT_SECRET",
    "invalid_client": "check HUB_WEBCON__CLIENT_ID and HUB_WEBCON__CLIENT_SECRET",
    "invalid_scope": "request only granted scopes (HUB_WEBCON__SCOPE)",
    "unauthorized_client": "allow client credentials for the API application",
}


class WebconConfigurationError(PermanentError):
    """Permanent, and the cause is the hub's or WEBCON's configuration, not the document."""


@dataclass(frozen=True, slots=True)
class WebconApiError:
    """One error answer, parsed."""

    status: int
    type: str | None
    description: str
    error_guid: str | None
    retry_after: float | None = None

    @classmethod
    def from_response(cls, response: httpx.Response) -> WebconApiError:
        body: Any = None
        with contextlib.suppress(ValueError):
            body = response.json()
        if not isinstance(body, dict):
            body = {}
        etype = body.get("type") or body.get("error")
        desc = body.get("description") or body.get("error_description") or ""
        return cls(
            status=response.status_code,
            type=str(etype) if etype else None,
            description=redact_text(str(desc))[:500],
            error_guid=str(body["errorGuid"]) if body.get("errorGuid") else None,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )


def classify(status: int, error_type: str | None) -> Outcome:
    """The table's verdict for one answer."""
    for code, etype, outcome in ERROR_TABLE:
        if code == status and (etype is None or etype == error_type):
            return outcome
    return "permanent" if 400 <= status < 500 else "transient"


def delivery_error(err: WebconApiError, what: str) -> DeliveryError:
    """The hub error for a WEBCON error answer to ``what`` (e.g. "create element")."""
    outcome = classify(err.status, err.type)
    label = err.type or f"HTTP {err.status}"
    message = f"WEBCON {what}: {err.status} {label}"
    if err.description:
        message += f": {err.description}"
    kwargs: dict[str, Any] = {
        "status_code": err.status,
        "error_type": (err.type or f"http_{err.status}")[:64],
        "remote_ref": err.error_guid,
        "retry_after": err.retry_after,
    }
    if outcome == "configuration":
        hint = _CONFIG_HINTS.get(err.type or "", "check the webcon settings and WEBCON's setup")
        return WebconConfigurationError(f"configuration problem: {message} ({hint})", **kwargs)
    if outcome == "permanent":
        return PermanentError(message, **kwargs)
    return TransientError(message, **kwargs)


def transport_error(exc: httpx.TransportError, what: str, *, changes: bool) -> DeliveryError:
    """A failure with no answer. ``changes``: the request creates or changes something."""
    name = type(exc).__name__
    if isinstance(exc, httpx.ConnectError | httpx.PoolTimeout) or not changes:
        return TransientError(f"WEBCON {what}: no answer ({name})", error_type=name)
    return AmbiguousError(f"WEBCON {what}: sent, no answer ({name})", error_type=name)
