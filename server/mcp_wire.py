"""JSON answers on the MCP endpoint written straight to ASGI: the endpoint's own refusals and the
`tools/call` fast path use them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.types import Send

from server import jsontext


async def json_response(
    send: Send, status: int, body: dict[str, Any] | list[Any], headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    payload = jsontext.dumps_bytes(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def jsonrpc_error(
    code: int, message: str, data: dict[str, Any] | None = None, request_id: str | int | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}
