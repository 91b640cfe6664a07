"""Reading an intake body: the media type and the size are checked before anything is parsed.

The size is checked twice: on ``Content-Length`` before a byte is read, and while streaming, so a
chunked upload cannot slip past the limit. The body is then parsed exactly once, by pydantic's
JSON parser straight into :class:`hub.models.DocumentIn`.
"""

from __future__ import annotations

from pydantic import ValidationError
from starlette.requests import ClientDisconnect, Request

from hub.api.errors import ApiError, render_errors, summarize
from hub.models import DocumentIn

__all__ = ["check_json", "parse_document", "read_limited"]


def check_json(request: Request) -> None:
    """415 unless the body is declared as JSON (UTF-8, the only charset JSON has)."""
    ctype = request.headers.get("content-type", "")
    media, _, params = ctype.partition(";")
    media = media.strip().lower()
    if media != "application/json" and not (
        media.startswith("application/") and media.endswith("+json")
    ):
        raise ApiError(415, "send the document as application/json")
    charset = params.strip().lower().removeprefix("charset=").strip('"')
    if params.strip().lower().startswith("charset=") and charset not in ("utf-8", "utf8"):
        raise ApiError(415, "JSON bodies must be UTF-8")


def _too_large(limit: int) -> ApiError:
    return ApiError(413, f"the request body is larger than {limit} bytes")


async def read_limited(request: Request, limit: int) -> bytes:
    """The whole body, or 413 as soon as it passes ``limit`` bytes.

    Reads the ASGI messages directly: one request body is usually one message, and this is the
    intake path, where Starlette's stream generator would be measurable overhead."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def parse_document(body: bytes) -> DocumentIn:
    """422 with the field path of each problem, never the value."""
    try:
        return DocumentIn.model_validate_json(body)
    except ValidationError as exc:
        errors = render_errors(exc.errors(include_input=False, include_url=False))
        raise ApiError(
            422,
            summarize(errors, "the document is not valid"),
            code="invalid_document",
            errors=errors,
        ) from None
