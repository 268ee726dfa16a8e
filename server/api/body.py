"""Reading request bodies: size-capped while streaming (a huge body is refused before it is all read,
let alone parsed), depth-limited, JSON objects only, clear errors otherwise."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from server import jsontext
from server.config import Settings
from server.errors import InvalidInput, PayloadTooLarge
from server.limits.jsonlimits import check_depth


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body is larger than {limit} bytes (max_request_bytes)", {"limit_bytes": limit})


async def read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def json_object(request: Request, settings: Settings, *, required: bool = True) -> dict[str, Any]:
    """The body as a JSON object; an empty body is `{}` where the route's body is optional. Read once:
    the endpoint wrapper may already have read (and schema-checked) it."""
    cached = getattr(request.state, "json_body", None)
    if cached is not None:
        return cached
    raw = await read_capped(request, settings.max_request_bytes)
    if not raw.strip():
        if required:
            raise InvalidInput("request body is required: send a JSON object (Content-Type: application/json)")
        return {}
    try:
        data = jsontext.loads(raw)
    except ValueError as exc:
        raise InvalidInput(f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput("request body must be a JSON object")
    check_depth(data, settings.max_json_depth, raw)
    return data
