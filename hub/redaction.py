"""One place that decides what personal data looks like and how it is masked.

Used by the log processor, by error messages built from remote answers, and by the API's
validation errors. Two layers: keys that always hold personal data are replaced whole; any
other string is scanned for CNPs, e-mail addresses, Romanian phone numbers and IBANs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["PII_KEYS", "mask", "redact_text", "redact_value"]

#: Keys whose values are personal data wherever they appear.
PII_KEYS: frozenset[str] = frozenset(
    {
        "name",
        "cnp",
        "email",
        "e_mail",
        "phone",
        "telefon",
        "address",
        "adresa",
        "sender",
        "petent",
        "body",
        "first_name",
        "last_name",
        "recipient",
        "addressee",
        "password",
        "token",
        "secret",
        "authorization",
        "client_secret",
    }
)

MASK = "[redacted]"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # CNP: 13 digits starting 1-9 (sex/century digit); not part of a longer number.
    (re.compile(r"(?<!\d)[1-9]\d{12}(?!\d)"), "[cnp]"),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[email]"),
    # IBAN before phones: RO + 2 check digits + 4 letters + 16 alphanumerics.
    (re.compile(r"\bRO\d{2}[A-Z]{4}[A-Z0-9]{16}\b", re.IGNORECASE), "[iban]"),
    (
        re.compile(r"(?<![\w])(?:\+?40|0040|0)[\s.-]?[237]\d{2}[\s.-]?\d{3}[\s.-]?\d{3}(?!\d)"),
        "[phone]",
    ),
)


def redact_text(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any, key: str | None = None) -> Any:
    if key is not None and key.lower() in PII_KEYS:
        return MASK if value not in (None, "") else value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


def mask(value: str | None, keep: int = 2) -> str:
    """Show only the last ``keep`` characters (for operators who must tell records apart)."""
    if not value:
        return ""
    return "•" * max(0, len(value) - keep) + value[-keep:]
