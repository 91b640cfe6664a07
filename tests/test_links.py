"""Signed download links (:mod:`hub.links`): forged, altered, expired and malformed signatures
are all a :class:`LinkError` (403), never another exception (500)."""

from __future__ import annotations

import pytest

from hub.links import LinkError, sign_link, verify_link

SECRET, SHA = "link-secret-for-tests", "a" * 64


def test_a_good_link_passes_until_it_expires() -> None:
    sig = sign_link(SECRET, SHA, 2_000)
    verify_link(SECRET, SHA, 2_000, sig, now=1_999)
    with pytest.raises(LinkError, match="expired"):
        verify_link(SECRET, SHA, 2_000, sig, now=2_001)


@pytest.mark.parametrize(
    "sig",
    ["0" * 64, "ă" * 64, "\udcff" * 64, ""],
    ids=["forged", "non-ascii", "lone-surrogate", "empty"],
)
def test_bad_signatures_are_a_link_error(sig: str) -> None:
    with pytest.raises(LinkError, match="bad signature"):
        verify_link(SECRET, SHA, 2_000, sig, now=1_000)


def test_an_altered_expiry_is_refused() -> None:
    sig = sign_link(SECRET, SHA, 2_000)
    with pytest.raises(LinkError, match="bad signature"):
        verify_link(SECRET, SHA, 9_999, sig, now=1_000)
