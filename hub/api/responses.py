"""A JSON response rendered by orjson, for the paths where FastAPI's own serialisation would
cost more than building the body by hand (intake) and for error bodies.

FastAPI's ``ORJSONResponse`` is deprecated; this is the few lines it amounted to. Datetimes in
UTC render with ``Z``, the same as pydantic renders them on the other endpoints.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel
from starlette.responses import Response

__all__ = ["OrjsonResponse"]

_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class OrjsonResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=_default, option=_OPTIONS)
