"""Reading request bodies: size-limited, JSON objects only, clear errors otherwise."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from server.errors import InvalidInput, PayloadTooLarge


async def json_object(request: Request, limit: int) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes", {"limit_bytes": limit})
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body is larger than {limit} bytes", {"limit_bytes": limit})
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput(f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput("request body must be a JSON object")
    return data
