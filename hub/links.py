"""Short-lived signed download links for attachments: ``{public_url}/files/{sha256}?expires=
<unix>&sig=<hex>``, served outside ``/api`` (where every request needs a bearer token).

A receiving system that takes attachments *by reference* (the Fiscal Directorate's intake)
fetches them with such a link and no token: the HMAC-SHA256 over ``{sha256}.{expires}`` with
``HUB_DOWNLOAD_LINK_SECRET`` is the authorisation, and it lapses at ``expires``. The link names
the content by its hash, never by the sender's file name.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode

__all__ = ["LinkError", "sign_link", "signed_url", "verify_link"]


class LinkError(Exception):
    """The link is forged, altered or expired."""


def sign_link(secret: str, sha256: str, expires: int) -> str:
    return hmac.new(secret.encode(), f"{sha256}.{expires}".encode(), hashlib.sha256).hexdigest()


def signed_url(public_url: str, secret: str, sha256: str, ttl_seconds: float) -> tuple[str, int]:
    """The link and its expiry (unix seconds)."""
    expires = int(time.time() + ttl_seconds)
    query = urlencode({"expires": expires, "sig": sign_link(secret, sha256, expires)})
    return f"{public_url.rstrip('/')}/files/{sha256}?{query}", expires


def verify_link(
    secret: str, sha256: str, expires: int, sig: str, *, now: float | None = None
) -> None:
    """Raise :class:`LinkError` unless ``sig`` is this hub's signature and not expired."""
    # Bytes, not str: compare_digest raises TypeError on non-ASCII text (a 500, not a 403).
    if not hmac.compare_digest(
        sign_link(secret, sha256, expires).encode(), sig.encode("utf-8", "replace")
    ):
        raise LinkError("bad signature")
    if (time.time() if now is None else now) > expires:
        raise LinkError("expired")
