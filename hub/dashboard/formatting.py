"""Jinja filters: times in Bucharest time, ages and states in Romanian."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["FILTERS", "LOCAL_TZ"]

LOCAL_TZ = ZoneInfo("Europe/Bucharest")

STATES = {
    "waiting": "în așteptare (dependență)",
    "pending": "de trimis",
    "in_flight": "în curs",
    "retry_scheduled": "reîncercare programată",
    "delivered": "livrat",
    "dead": "eșuat definitiv",
    "cancelled": "anulat",
}
CIRCUITS = {
    "closed": "închis (normal)",
    "half_open": "semi-deschis (test)",
    "open": "deschis (oprit)",
    "disabled": "dezactivat",
}
ACTIONS = {
    "received": "primit",
    "claimed": "preluat de lucrător",
    "delivered": "livrat",
    "retry_scheduled": "reîncercare programată",
    "dead": "eșuat definitiv",
    "replayed": "reluat",
    "cancelled": "anulat",
    "lease_expired": "preluare expirată",
    "pii_viewed": "date personale afișate",
}
ROLES = {
    "viewer": "vizualizare",
    "operator": "operator",
    "admin": "administrator",
    "unit": "compartiment",
}


def when(ts: Any) -> str:
    """Epoch seconds or a datetime as 29.11.2026 10:15:03 (Bucharest); "—" for nothing."""
    if ts is None or ts == "":
        return "—"
    if isinstance(ts, datetime):
        value = ts
    elif isinstance(ts, date):
        return f"{ts:%d.%m.%Y}"
    else:
        value = datetime.fromtimestamp(float(ts), LOCAL_TZ)
    return f"{value.astimezone(LOCAL_TZ):%d.%m.%Y %H:%M:%S}"


def age(seconds: Any) -> str:
    if seconds is None:
        return "—"
    s = int(float(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} z {s % 86400 // 3600} h"


def number(value: Any, digits: int = 0) -> str:
    """Romanian decimals: comma, and a dot between thousands."""
    text = f"{float(value):,.{digits}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


FILTERS = {
    "when": when,
    "age": age,
    "number": number,
    "state_ro": lambda v: STATES.get(v, v),
    "circuit_ro": lambda v: CIRCUITS.get(v, v),
    "action_ro": lambda v: ACTIONS.get(v, v),
    "role_ro": lambda v: ROLES.get(v, v),
}
