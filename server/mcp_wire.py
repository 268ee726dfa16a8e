"""JSON answers on the MCP endpoint written straight to ASGI: the endpoint's own refusals and the
`tools/call` fast path use them."""

from __future__ import annotations

import asyncio
import contextlib
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


class EventStream:
    """An answer that becomes a server-sent event stream only if notifications come before it: the
    first one opens the stream and the answer ends it; without any, the answer is one JSON response.
    A notification that cannot be sent (the client went away) is not the call's error: the ones after
    it are dropped."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.opened = False
        self.ended = False
        self._lock = asyncio.Lock()  # notifications of concurrent calls in one batch, then the answer

    async def notify(self, message: dict[str, Any]) -> None:
        async with self._lock:
            if self.ended:
                return
            try:
                if not self.opened:
                    self.opened = True
                    await self.send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
                await self.send({"type": "http.response.body", "body": sse_event(message), "more_body": True})
            except Exception:  # the client is gone; the call runs on and its answer is dropped
                self.ended = True

    async def answer(self, status: int, message: dict[str, Any]) -> None:
        async with self._lock:
            if not self.opened:
                await json_response(self.send, status, message)
            elif not self.ended:
                await self.send({"type": "http.response.body", "body": sse_event(message), "more_body": False})
            self.ended = True

    async def abandon(self, status: int) -> None:
        """Ends a request whose client has gone: nothing reaches it, `status` is for the metrics."""
        async with self._lock:
            with contextlib.suppress(Exception):
                if not self.opened:
                    await self.send({"type": "http.response.start", "status": status, "headers": []})
                if not self.ended:
                    await self.send({"type": "http.response.body", "body": b""})
            self.ended = True


SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


def sse_event(message: dict[str, Any]) -> bytes:
    return b"event: message\ndata: " + jsontext.dumps_bytes(message) + b"\n\n"
