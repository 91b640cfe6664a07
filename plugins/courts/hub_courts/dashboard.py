"""The notice board on the dashboard (``/pages/avizier``): what is posted now, by removal date.

The addressee is masked unless the person holds the ``pii`` scope (the API's ``GET
/notice-board`` is the full record). Registered through ``hub_register_dashboard_pages``; the
core renders the table, so this module returns plain strings only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.dashboard_pages import DashboardPage, DashboardTable
from hub.redaction import mask
from hub_courts import noticeboard, service

if TYPE_CHECKING:
    from hub.api.auth import Principal
    from hub.runtime import Hub

__all__ = ["NOTICE_BOARD_PAGE", "notice_board_table"]

COLUMNS = ["Act", "Dosar", "Destinatar", "Afișat la", "Se dezafișează la", "Zile rămase"]


def _days_left(days: int) -> str:
    if days > 0:
        return str(days)
    if days == 0:
        return "0 (azi)"
    return f"depășit cu {-days}"


async def notice_board_table(hub: Hub, principal: Principal) -> DashboardTable:
    settings = service.courts_settings(hub)
    today = service.local_today(settings)
    up = await hub.runner.read(noticeboard.list_postings, hub.ledger.reader, current=True)
    unmasked = principal.has("pii")
    rows = [
        [
            p.act,
            p.case_number or "—",
            (p.addressee if unmasked else mask(p.addressee)) or "—",
            f"{p.posted_on:%d.%m.%Y}",
            f"{p.removal_due:%d.%m.%Y}",
            _days_left((p.removal_due - today).days),
        ]
        for p in up
    ]
    due = sum(1 for p in up if p.removal_due <= today)
    intro = (
        f"Acte afișate acum la avizierul primăriei (la data de {today:%d.%m.%Y}), în ordinea "
        f"dezafișării. Termen de dezafișare împlinit: {due}. "
        + ("" if unmasked else "Destinatarii sunt mascați (date personale).")
    )
    return DashboardTable(
        columns=COLUMNS,
        rows=rows,
        intro=intro.strip(),
        empty="Niciun act afișat la avizier.",
        numeric=frozenset({5}),
    )


NOTICE_BOARD_PAGE = DashboardPage(
    slug="avizier", title="Avizier", scope="read", load=notice_board_table
)
