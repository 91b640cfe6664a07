"""Entry point of the built-in ``terms`` plugin: ``POST /api/v1/documents/{id}/term/extension``
(:mod:`hub.builtin.term_extension`), imported when the API is built, not by every CLI command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.hookspecs import hookimpl

if TYPE_CHECKING:
    from fastapi import APIRouter

    from hub.settings import HubSettings


@hookimpl
def hub_register_routes(router: APIRouter, settings: HubSettings) -> None:
    from hub.builtin.term_extension import register_routes

    register_routes(router)
