"""The benchmark's documents: ~1 KB of JSON each, the same for the hub and the plain clients.

No hub import here: the plain-client processes use it too, and their memory must not carry
the hub's.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

WEBHOOK_SECRET = "whsec_YmVuY2gtc2VjcmV0LW5vdC1mb3ItcHJvZHVjdGlvbi0xMjM0NTY3OA=="
TARGET = "bench"

_BODY = (
    "Subsemnatul, în calitate de locatar al imobilului din zona Circumvalațiunii, vă aduc la "
    "cunoștință că iluminatul public de pe strada noastră nu funcționează de mai multe "
    "săptămâni, iar trotuarul este deteriorat în dreptul stației de autobuz. Solicit "
    "remedierea situației și comunicarea unui termen estimativ de intervenție. Menționez că "
    "am mai depus o sesizare similară, fără să primesc răspuns până în prezent. Vă rog să "
    "dispuneți verificarea în teren și informarea mea în termenul legal prevăzut de "
    "Ordonanța Guvernului nr. 27/2002 privind activitatea de soluționare a petițiilor. "
)


def document_in(seq: int, run: str, *, t0: float | None = None) -> dict[str, Any]:
    """What a producer posts to ``POST /api/v1/documents`` (and what the pre-fill writes)."""
    meta: dict[str, Any] = {"bench_run": run, "bench_seq": seq}
    if t0 is not None:
        meta["bench_t0"] = t0
    return {
        "source": "bench",
        "external_id": f"{run}-{seq}",
        "channel": "api",
        "kind": "petitie",
        "subject": f"Sesizare iluminat public și trotuar deteriorat nr. {seq}",
        "body": _BODY,
        "metadata": meta,
    }


def plain_body(seq: int, run: str, *, t0: float | None = None) -> tuple[str, bytes]:
    """(webhook-id, body) for the plain clients and the peer queue: the shape and size of the
    hub's webhook POST (``t0`` as in :func:`document_in`)."""
    now = datetime.now(UTC).isoformat()
    doc = document_in(seq, run, t0=t0)
    wid = "msg_" + uuid.uuid4().hex
    data = {
        "id": str(uuid.uuid4()),
        "source": doc["source"],
        "external_id": doc["external_id"],
        "channel": doc["channel"],
        "kind": doc["kind"],
        "subject": doc["subject"],
        "department": "REG",
        "target": TARGET,
        "registration_number": None,
        "registered_at": None,
        "received_at": now,
        "due_date": None,
        "sender": None,
        "attachments": [],
        "metadata": doc["metadata"],
        "body": doc["body"],
    }
    return wid, orjson.dumps({"type": "document.routed", "timestamp": now, "data": data})
