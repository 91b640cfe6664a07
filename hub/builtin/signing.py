"""Standard Webhooks signatures (https://www.standardwebhooks.com/): HMAC-SHA256 over
``{webhook-id}.{webhook-timestamp}.{body}`` with the secret's bytes, sent as ``v1,<base64>``.

Secrets are ``whsec_<base64>``; several signatures may be sent space-separated while a secret is
being rotated. :func:`verify` is what a receiver (and our tests and sinks) runs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

__all__ = ["SignatureError", "new_secret", "secret_key", "sign", "sign_with_key", "verify"]

PREFIX = "whsec_"
TOLERANCE_SECONDS = 5 * 60


class SignatureError(Exception):
    pass


def secret_key(secret: str) -> bytes:
    """The HMAC key a ``whsec_`` secret stands for (decode it once, sign many times)."""
    raw = secret.removeprefix(PREFIX)
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError:
        raise SignatureError("webhook secret must be whsec_ followed by base64") from None


def new_secret() -> str:
    import secrets

    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    return sign_with_key(secret_key(secret), msg_id, timestamp, body)


def sign_with_key(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """:func:`sign` with the key already decoded (:func:`secret_key`)."""
    mac = hmac.digest(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac).decode()


def verify(secret: str, headers: dict[str, str], body: bytes, *, now: float | None = None) -> None:
    """Raise :class:`SignatureError` unless the headers carry a valid, fresh signature."""
    h = {k.lower(): v for k, v in headers.items()}
    msg_id, ts, sigs = h.get("webhook-id"), h.get("webhook-timestamp"), h.get("webhook-signature")
    if not (msg_id and ts and sigs):
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(ts)
    except ValueError:
        raise SignatureError("webhook-timestamp is not an integer") from None
    if abs((time.time() if now is None else now) - timestamp) > TOLERANCE_SECONDS:
        raise SignatureError("webhook-timestamp is too old or in the future")
    expected = sign(secret, msg_id, timestamp, body)
    for candidate in sigs.split():
        if hmac.compare_digest(candidate, expected):
            return
    raise SignatureError("no matching signature")
