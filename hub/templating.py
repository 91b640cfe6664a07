"""The Jinja environment for the hub's own templates (``hub/templates``): the e-mails, the
overdue report and the public status page.

One environment, built on first use (jinja2 takes ~0.07 s to import, which CLI commands that
render nothing need not pay). ``.html`` templates are autoescaped, plain-text ones are not and
keep their final newline; an undefined name is an error, never an empty string.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jinja2

__all__ = ["templates"]


@cache
def templates() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("hub", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
