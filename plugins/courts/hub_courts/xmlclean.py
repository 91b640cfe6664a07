"""Cleaning what the portal sends before an XML parser sees it.

Some answers of portalquery.just.ro carry characters XML 1.0 forbids — control characters
written as character references (``&#x1;``, ``&#11;``) or, less often, as raw bytes — typed into
party names and solutions by the courts' own software. A conforming parser rejects the whole
answer, so one bad byte would hide every case in it. They carry no meaning: drop them.
"""

from __future__ import annotations

import re

__all__ = ["clean_xml"]

# Character references to code points XML 1.0 does not allow (C0 controls except tab, LF, CR;
# U+FFFE/U+FFFF), in decimal or hexadecimal.
_BAD_REF = re.compile(
    rb"&#(?:x0*(?:[0-8bBcCeEfF]|1[0-9a-fA-F]|[fF]{3}[eEfF])|0*(?:[0-8]|1[124-9]|2[0-9]|3[01]|6553[45]));"
)
_BAD_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def clean_xml(body: bytes) -> tuple[bytes, int]:
    """The body without illegal character references and control bytes, and how many went."""
    cleaned, refs = _BAD_REF.subn(b"", body)
    cleaned, raw = _BAD_BYTES.subn(b"", cleaned)
    return cleaned, refs + raw
