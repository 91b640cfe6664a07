"""Dashboard pages that plugins contribute (``hub_register_dashboard_pages``).

A plugin gives data, never HTML: a :class:`DashboardPage` names its address, its title in the
navigation and the scope a person needs, and its ``load`` function returns a
:class:`DashboardTable` — column headings and rows of strings — which the core template
renders, escaped, under the dashboard's own Content-Security-Policy. So a plugin page can
neither inject markup nor script, and every page looks and behaves like the others.

It lives outside :mod:`hub.dashboard` and imports nothing heavy, so a plugin may import it
without loading the web stack.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.api.auth import Principal
    from hub.runtime import Hub

__all__ = ["PAGE_PREFIX", "SLUG", "DashboardPage", "DashboardTable", "PageLoader"]

#: A plugin page is served at ``/pages/<slug>``.
PAGE_PREFIX = "/pages"
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$")
#: Rows a page may show; more are cut off (and the page says so).
MAX_ROWS = 1000


@dataclass(frozen=True, slots=True)
class DashboardTable:
    """What a plugin page shows: a table of plain strings (the template escapes them).

    Args:
        columns: the column headings, in Romanian.
        rows: one list of cell texts per row, as many cells as ``columns``.
        intro: a sentence above the table (what the list is, as of when).
        empty: shown instead of the table when there are no rows.
        numeric: indexes of the columns aligned right (counts, days).
    """

    columns: list[str]
    rows: list[list[str]]
    intro: str = ""
    empty: str = "Nimic de afișat."
    numeric: frozenset[int] = field(default_factory=frozenset)

    def checked(self) -> DashboardTable:
        """The table with every cell a string and every row as wide as the headings."""
        width = len(self.columns)
        if not width or not all(isinstance(c, str) for c in self.columns):
            raise TypeError("a dashboard table needs column headings (strings)")
        rows = []
        for row in self.rows[:MAX_ROWS]:
            if len(row) != width:
                raise TypeError(f"a dashboard table row has {len(row)} cells, not {width}")
            rows.append(["" if cell is None else str(cell) for cell in row])
        return DashboardTable(
            list(self.columns), rows, str(self.intro), str(self.empty), frozenset(self.numeric)
        )


#: ``await load(hub, principal)``: the signed-in person as a :class:`hub.api.auth.Principal`
#: (``.has("pii")`` says whether they may see personal data unmasked; ``.unit`` their unit).
PageLoader = Callable[["Hub", "Principal"], Awaitable[DashboardTable]]


@dataclass(frozen=True, slots=True)
class DashboardPage:
    """A page a plugin adds to the dashboard.

    Args:
        slug: its address, ``/pages/<slug>`` (lowercase letters, digits and hyphens).
        title: its title in the navigation and on the page, in Romanian.
        scope: the API scope a person's role must grant (``read``, ``operator``, ``unit``, …);
            people without it neither see the entry nor open the page (403).
        load: ``async def load(hub, principal) -> DashboardTable``, called on every view.
    """

    slug: str
    title: str
    scope: str
    load: PageLoader

    @property
    def path(self) -> str:
        return f"{PAGE_PREFIX}/{self.slug}"
