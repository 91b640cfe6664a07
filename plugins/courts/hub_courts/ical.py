"""The legal department's hearing calendar as iCalendar (RFC 5545).

One ``VEVENT`` per hearing of a known case: a stable ``UID`` (court, case number, hearing
time), the local start time with its ``VTIMEZONE`` (Europe/Bucharest), an hour's duration, the
case and court in the summary and the panel and ruling in the description.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone

from hub_courts.names import court_label

__all__ = ["hearings_calendar"]


def hearings_calendar(
    hearings: list[dict[str, Any]], *, tz: str, now: datetime | None = None
) -> bytes:
    zone = ZoneInfo(tz)
    stamp = (now or datetime.now(UTC)).astimezone(UTC)
    cal = Calendar()
    cal.add("prodid", "-//Primaria Municipiului Timisoara//registry-hub courts//RO")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", "Termene instanțe — Direcția Juridică")
    cal.add("x-wr-timezone", tz)
    if hearings:
        first = min(h["at"] for h in hearings)
        last = max(h["at"] for h in hearings)
        cal.add_component(
            Timezone.from_tzinfo(
                zone,
                tzid=tz,
                first_date=date(first.year, 1, 1),
                last_date=date(last.year + 1, 12, 31),
            )
        )
    for h in hearings:
        at: datetime = h["at"].replace(tzinfo=zone)
        uid_src = f"{h['court']}|{h['number']}|{h['at'].isoformat()}"
        ev = Event()
        ev.add("uid", hashlib.sha256(uid_src.encode()).hexdigest()[:32] + "@registry-hub")
        ev.add("dtstamp", stamp)
        ev.add("dtstart", at)
        ev.add("dtend", at + timedelta(hours=1))
        court = court_label(h["court"])
        ev.add("summary", f"Termen dosar {h['number']} — {court}")
        ev.add("location", court)
        lines = [f"Dosar: {h['number']}", f"Instanța: {court}"]
        if h.get("subject"):
            lines.append(f"Obiect: {h['subject']}")
        if h.get("panel"):
            lines.append(f"Complet: {h['panel']}")
        if h.get("solution"):
            lines.append(f"Soluție: {h['solution']}")
        ev.add("description", "\n".join(lines))
        ev.add("categories", ["Termen instanță"])
        cal.add_component(ev)
    return bytes(cal.to_ical())
