"""The hub's exceptions, branched by what happens next.

::

    HubError
    ├── ConfigurationError          fix the settings, plugins or rules; the hub will not start
    │   └── SchemaOutdatedError     run `hub db upgrade`
    ├── InputError                  the caller sent something wrong; nothing was written
    │   ├── InvalidDocument         422, with the field path
    │   ├── PayloadTooLarge         413
    │   └── UnsupportedMediaType    415
    └── DeliveryError               raised by connectors; the dispatcher decides
        ├── TransientError          retry later (network, 5xx, 429, timeout before sending)
        ├── PermanentError          dead-letter at once, reason kept (4xx validation, no target)
        └── AmbiguousError          sent, outcome unknown: ask the connector's ``reconcile`` first

Every message is short, actionable and free of personal data: it ends up in logs, in the audit
trail and on the dashboard. Put identifiers of *records* (delivery id, WEBCON errorGuid) in
messages, never identifiers of *people*.

:func:`classify_http_status` is the one table that maps HTTP statuses to those outcomes.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Any

__all__ = [
    "AmbiguousError",
    "ConfigurationError",
    "DeliveryError",
    "HubError",
    "InputError",
    "InvalidDocument",
    "PayloadTooLarge",
    "PermanentError",
    "SchemaOutdatedError",
    "TransientError",
    "UnsupportedMediaType",
    "classify_http_status",
    "parse_retry_after",
]


class HubError(Exception):
    """Root of every error the hub raises on purpose."""


class ConfigurationError(HubError):
    """Settings, plugins or routing rules are wrong. The message names the setting to fix."""


class SchemaOutdatedError(ConfigurationError):
    """The ledger's schema is older than this version of the hub."""


class InputError(HubError):
    """Bad input from a caller. Nothing was written. ``status`` is the HTTP answer."""

    status: int = 400

    def __init__(self, message: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []


class InvalidDocument(InputError):
    status = 422


class PayloadTooLarge(InputError):
    status = 413


class UnsupportedMediaType(InputError):
    status = 415


class DeliveryError(HubError):
    """Raised by a connector when a delivery did not succeed.

    Args:
        message: short, PII-free reason (kept in the attempt record and the dead letter).
        retry_after: seconds the remote side asked us to wait, if it said so.
        status_code: the remote HTTP status, when there was one.
        error_type: the remote side's machine-readable error type (e.g. WEBCON ``type``).
        remote_ref: the remote side's reference for this error (e.g. WEBCON ``errorGuid``).
    """

    outcome = "failed"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status_code: int | None = None,
        error_type: str | None = None,
        remote_ref: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.status_code = status_code
        self.error_type = error_type
        self.remote_ref = remote_ref


class TransientError(DeliveryError):
    outcome = "transient"


class PermanentError(DeliveryError):
    outcome = "permanent"


class AmbiguousError(DeliveryError):
    """The request was (maybe) sent and the outcome is unknown."""

    outcome = "ambiguous"


#: HTTP status → the error class a connector should raise. Statuses not listed: 2xx succeed,
#: other 4xx are permanent, other 5xx transient.
HTTP_STATUS_OUTCOMES: dict[int, type[DeliveryError]] = {
    408: TransientError,
    409: PermanentError,
    423: TransientError,
    425: TransientError,
    429: TransientError,
    500: TransientError,
    502: TransientError,
    503: TransientError,
    504: TransientError,
}


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    import time

    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def classify_http_status(
    status: int, *, message: str | None = None, retry_after: str | None = None
) -> DeliveryError | None:
    """Map an HTTP answer to the error to raise, or None when it is a success (2xx)."""
    if 200 <= status < 300:
        return None
    cls = HTTP_STATUS_OUTCOMES.get(status)
    if cls is None:
        cls = TransientError if status >= 500 else PermanentError
    return cls(
        message or f"remote answered HTTP {status}",
        retry_after=parse_retry_after(retry_after),
        status_code=status,
    )
