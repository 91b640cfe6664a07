"""What the simulator's parts share: WEBCON's error as an exception, request keys, formats."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from hub_webcon.simulator.model import ApiClient

SPEC_PREFIX = "/api/data/v6.0"
VERSIONS = ("v5.0", "v6.0")
ERROR_SCHEMA = "WebCon.BPSCloud.Core.PublicApi.Exceptions.ApiErrorResponse"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ApiHandler = Callable[[web.Request], Awaitable[tuple[int, Any]]]


class ApiFault(Exception):
    """An answer in WEBCON's error shape: ``{type, description, errorGuid}``."""

    def __init__(self, status: int, error_type: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error_type = error_type
        self.description = description


CLIENT = web.RequestKey("client", ApiClient)
BODY: web.RequestKey[dict[str, Any]] = web.RequestKey("body", dict)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _link(href: str) -> list[dict[str, str]]:
    return [{"href": href, "method": "GET", "rel": "self"}]
