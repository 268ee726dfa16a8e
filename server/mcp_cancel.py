"""Cancelling a `tools/call` in flight, as each protocol era says a client does it.

2026-07-28: a client cancels by closing the response stream (the era has no client notifications
over HTTP), so a call stops when its connection goes. Handshake era: a disconnect is not a
cancellation (the spec: the client may only have lost the network), a `notifications/cancelled`
naming the request is; it is honoured for a request of the same client (`Mcp-Session-Id`) in flight
in this process, and that request is answered with REQUEST_CANCELLED (-32800), as the SDK's own
handshake-era transport does. Whatever the call waits on is cancelled with it: an upstream MCP call
passes the cancellation on, and its execution log row says `cancelled`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

from starlette.types import Receive

CANCELLED = "notifications/cancelled"
RequestId = str | int


class Cancellation:
    """One request's task, and whether it was cancelled here: its CancelledError is then absorbed,
    while one from elsewhere (a server shutting down) goes on."""

    def __init__(self) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.task = task
        self.requested = False

    def cancel(self) -> None:
        if not self.requested:
            self.requested = True
            self.task.cancel()

    def absorbed(self) -> bool:
        """Called with a CancelledError caught: whether it was only ours (the task may go on)."""
        return self.requested and self.task.uncancel() == 0


@contextlib.contextmanager
def on_disconnect(receive: Receive, cancellation: Cancellation) -> Iterator[None]:
    """Cancels the request when its client disconnects before the block ends."""
    watcher = asyncio.get_running_loop().create_task(_disconnected(receive))
    watcher.add_done_callback(lambda done: _gone(done, cancellation))
    try:
        yield
    finally:
        watcher.cancel()


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _gone(watcher: asyncio.Task[None], cancellation: Cancellation) -> None:
    if not watcher.cancelled() and watcher.exception() is None:
        cancellation.cancel()


class InFlight:
    """Handshake-era requests being served, by client and JSON-RPC id, for `notifications/cancelled`."""

    def __init__(self) -> None:
        self._calls: dict[tuple[str, RequestId], Cancellation] = {}

    @contextlib.contextmanager
    def serving(self, client_id: str, request_id: RequestId, cancellation: Cancellation) -> Iterator[None]:
        key = (client_id, request_id)
        self._calls[key] = cancellation
        try:
            yield
        finally:
            if self._calls.get(key) is cancellation:
                del self._calls[key]

    def cancel(self, client_id: str, params: Any) -> None:
        """Cancels the request `params.requestId` of this client, if it is in flight here."""
        request_id = params.get("requestId") if isinstance(params, dict) else None
        if isinstance(request_id, str | int) and not isinstance(request_id, bool):
            cancellation = self._calls.get((client_id, request_id))
            if cancellation is not None:
                cancellation.cancel()
