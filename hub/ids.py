"""Identifiers the hub makes for what it keeps.

Document ids are UUIDs of version 7 (RFC 9562): 48 bits of Unix time in milliseconds, then 74
random bits. Ordered by creation time, a new id lands at the right edge of every index that holds
it (the documents' key, the deliveries' and events' ``document_id``), so an insert touches the
same few pages as the one before it instead of a random page of a tree that grows with the
ledger; with random (version 4) ids, a ledger of 100,000 documents cost the writer thread ~50 %
more per document than with these, and the difference grows with the ledger
(docs/performance.md). The time an
id carries is the time the hub took the document in, which its record states anyway.

Python 3.14 has ``uuid.uuid7`` with the same fields, which also orders the ids made within one
millisecond (a counter in the low bits); here those are random, so ids of one millisecond sort
among themselves by chance, which costs the indexes nothing.
"""

from __future__ import annotations

import os
import time
import uuid

__all__ = ["new_id", "uuid7"]

_MS_MASK = (1 << 48) - 1


def uuid7() -> uuid.UUID:
    """A version 7 UUID: ``unix_ts_ms`` (48 bits), version 7, 12 random bits, the RFC 9562
    variant, 62 random bits."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")  # 80 bits; 74 used
    value = (
        (ms & _MS_MASK) << 80
        | 0x7 << 76
        | (rand >> 62 & 0xFFF) << 64
        | 0b10 << 62
        | rand & ((1 << 62) - 1)
    )
    return uuid.UUID(int=value)


def new_id() -> str:
    """A new document's id, as the ledger stores it (36 characters)."""
    return str(uuid7())
