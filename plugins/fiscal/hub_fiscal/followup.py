"""Follow-up of items delivered to units: overdue ones listed, each reminded once.

The ``units-followup`` source runs every ``HUB_DEPARTMENTS__INTERVAL_SECONDS``. An item
delivered more than ``ACK_WITHIN_HOURS`` ago that the unit neither acknowledged nor returned is
overdue. Each overdue item gets exactly one reminder: one e-mail per unit (to the unit, copy to
the head of the structure) listing its overdue items, then an ``item_reminded`` event per item.
An item with that event is never reminded again, however often the source runs; if the e-mail
fails nothing is marked, and the next round tries again.

The same source sends the daily digests of units that take one (:mod:`hub_fiscal.digest`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

from hub.errors import DeliveryError
from hub.items import Item, ItemStore
from hub.log import get_logger
from hub.mail import send_message
from hub.sources import PollResult, Source, SourceSettings
from hub.units import Unit, load_units
from hub_fiscal.digest import digest_message, load_documents
from hub_fiscal.settings import DepartmentsSettings

__all__ = ["FollowupSource", "overdue_by_unit", "reminder_message"]

log = get_logger("hub_fiscal.followup")
LOCAL_TZ = ZoneInfo("Europe/Bucharest")


def overdue_by_unit(
    store: ItemStore, ack_within_hours: float, *, unreminded_only: bool = False
) -> dict[str, list[Item]]:
    """Overdue items grouped by unit code."""
    grouped: dict[str, list[Item]] = defaultdict(list)
    for item in store.overdue(ack_within_hours * 3600, unreminded_only=unreminded_only):
        grouped[item.unit].append(item)
    return dict(grouped)


def reminder_message(unit: Unit, items: list[Item], public_url: str) -> EmailMessage:
    msg = EmailMessage()
    assert unit.email is not None
    msg["To"] = unit.email
    if unit.head_email:
        msg["Cc"] = unit.head_email
    msg["Subject"] = f"Reamintire: {len(items)} document(e) neconfirmate — {unit.name}"[:250]
    lines = [
        f"Către: {unit.name}",
        "",
        "Următoarele documente v-au fost transmise de registratură și nu au fost încă "
        "confirmate sau returnate:",
        "",
    ]
    for i in items:
        sent = i.delivered_at.strftime("%d.%m.%Y %H:%M") if i.delivered_at else "-"
        lines.append(f"  • nr. {i.registration_number or i.document_id} din {sent} (item {i.id})")
    lines += [
        "",
        f"Confirmați primirea: POST {public_url.rstrip('/')}/api/v1/items/<item>/ack",
        "sau returnați documentul cu motivarea (…/return), pentru redirecționare.",
        "",
        "Registratura Primăriei Municipiului Timișoara",
    ]
    msg.set_content("\n".join(lines) + "\n")
    return msg


class FollowupSource(Source):
    name = "units-followup"
    settings_section = "departments"
    settings_model = DepartmentsSettings
    description = "Items not acknowledged in time: one reminder each (event and e-mail)"
    settings: DepartmentsSettings

    def __init__(self, settings: SourceSettings, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        self.store: ItemStore | None = None

    async def start(self) -> None:
        if self.hub_settings is not None and self.documents is not None:
            units = load_units(self.hub_settings.units_file)
            self.store = ItemStore(self.documents.ledger, units)

    async def remind_once(self) -> dict[str, int]:
        """One round: list overdue items per unit, remind each item at most once."""
        if self.store is None:
            await self.start()
        if self.store is None or self.documents is None or self.hub_settings is None:
            return {"overdue": 0, "reminded": 0, "failed": 0}
        store, runner, hs = self.store, self.documents.runner, self.hub_settings
        grouped = await runner.read(
            overdue_by_unit, store, self.settings.ack_within_hours, unreminded_only=True
        )
        reminded = failed = 0
        for code, items in sorted(grouped.items()):
            unit = store.units.get(code)
            if unit is None:
                continue
            mailed = "no e-mail address"
            if self.settings.remind and unit.email:
                try:
                    await send_message(hs.smtp, reminder_message(unit, items, hs.public_url))
                    mailed = "e-mailed"
                except DeliveryError as exc:
                    log.warning("hub.followup.mail_failed", unit=code, error=exc.message)
                    failed += len(items)
                    continue
            reason = f"not acknowledged within {self.settings.ack_within_hours:g} h ({mailed})"
            reminded += await runner.write(store.mark_reminded, items, "hub:followup", reason)
        overdue = sum(len(v) for v in grouped.values())
        if overdue:
            log.info("hub.followup.round", overdue=overdue, reminded=reminded, failed=failed)
        return {"overdue": overdue, "reminded": reminded, "failed": failed}

    async def send_digests(
        self, sent: dict[str, str] | None = None, *, now: datetime | None = None
    ) -> dict[str, str]:
        """Send the day's digest to each digest unit with queued items, once per local day
        from ``digest_hour`` on. ``sent`` maps unit → day of its last digest (the source's
        cursor); the updated map is returned."""
        sent = dict(sent or {})
        if self.store is None:
            await self.start()
        if self.store is None or self.documents is None or self.hub_settings is None:
            return sent
        local = (now or datetime.now(UTC)).astimezone(LOCAL_TZ)
        if local.hour < self.settings.digest_hour:
            return sent
        store, docs, hs = self.store, self.documents, self.hub_settings
        today = local.date()
        for unit in store.units.units:
            if not unit.digest or not unit.email or sent.get(unit.code) == today.isoformat():
                continue
            items = await docs.runner.read(store.digest_queue, unit.code)
            if not items:
                continue
            documents = await docs.runner.read(load_documents, docs.ledger, items)
            contents: dict[str, bytes] = {}
            for doc in documents.values():
                for a in doc.attachments:
                    content = await docs.attachment_content(a.sha256)
                    if content is not None:
                        contents[a.sha256] = content
            message = digest_message(unit, today, items, documents, contents, hs.public_url)
            try:
                await send_message(hs.smtp, message)
            except DeliveryError as exc:
                log.warning("hub.followup.digest_failed", unit=unit.code, error=exc.message)
                continue
            reason = f"daily digest {today.isoformat()} to {unit.code}"
            await docs.runner.write(store.mark_digested, items, "hub:digest", reason)
            sent[unit.code] = today.isoformat()
            log.info("hub.followup.digest_sent", unit=unit.code, items=len(items))
        return sent

    async def poll(self, cursor: dict[str, Any] | None) -> PollResult:
        total = dict(cursor or {})
        total["digests"] = await self.send_digests(total.get("digests"))
        counts = await self.remind_once()
        total["reminded"] = int(total.get("reminded", 0)) + counts["reminded"]
        return PollResult(documents=[], cursor=total)
