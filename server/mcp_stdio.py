"""The stdin and stdout of `concierge stdio`, for the SDK's stdio server.

The SDK reads each line of stdin in an AnyIO worker thread that a cancellation must wait for: told to
stop (Ctrl-C, SIGTERM) while its client keeps stdin open, the server would wait for the client's next
line before closing anything, and the interpreter, at exit, for that thread. Here a daemon thread reads
and the serving side awaits a queue, so a stop takes effect at once and the blocked read ends with the
process. And where the SDK ends the serving as soon as stdin ends, cancelling what is still running,
the end of stdin here waits until every request read has been answered (at most `grace_seconds`), so
a client that writes its requests and closes stdin still gets every answer.

As the SDK does, the wire is read and written through private copies of fd 0 and 1, and fd 0 and 1
themselves point at the null device and at stderr, so programs the server starts read nothing of the
wire and their stray output does not land on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import threading
import time
from typing import IO, Any

import anyio

from server.jsontext import loads
from server.mcp_cancel import CANCELLED

QUEUED_LINES = 64  # read ahead of the server at most this many lines


def _claim(fd: int, diversion: int) -> int:
    """A private copy of `fd` (close-on-exec, above the standard range); `fd` then points at `diversion`."""
    private = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    os.dup2(diversion, fd)
    return private


class StdioChannel:
    """Both ends for the SDK: an async iterator of the lines read (its `stdin`) and a writer with `write`
    and `flush` (its `stdout`) that notes the answers going out."""

    def __init__(self, grace_seconds: float) -> None:
        null = os.open(os.devnull, os.O_RDONLY)
        try:
            wire_in = _claim(0, null)
        finally:
            os.close(null)
        self._out = anyio.wrap_file(open(_claim(1, 2), "w", encoding="utf-8"))  # noqa: SIM115
        self._written: list[str] = []
        self._grace_seconds = grace_seconds
        self._unanswered: set[Any] = set()
        self._answered = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._room = threading.Semaphore(QUEUED_LINES)
        stream = open(wire_in, encoding="utf-8", errors="replace")  # noqa: SIM115 (the thread's to close)
        threading.Thread(target=self._read, args=(stream,), name="concierge-stdin", daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        """A read error ends the input as its end would."""
        with stream, contextlib.suppress(OSError):
            for line in stream:
                if not self._put(line):
                    return
        self._put(None)

    def _put(self, line: str | None) -> bool:
        """Hands a line over, waiting while the server is behind; False once the loop has closed."""
        self._room.acquire()
        try:
            self._loop.call_soon_threadsafe(self._lines.put_nowait, line)
        except RuntimeError:
            return False
        return True

    def __aiter__(self) -> StdioChannel:
        return self

    async def __anext__(self) -> str:
        line = await self._lines.get()
        self._room.release()
        if line is None:
            await self._drained()
            raise StopAsyncIteration
        for message in _messages(line):
            if "method" in message and "id" in message:
                self._unanswered.add(_key(message["id"]))
            elif message.get("method") == CANCELLED and isinstance(message.get("params"), dict):
                self._unanswered.discard(_key(message["params"].get("requestId")))  # the SDK answers nothing
        return line

    async def _drained(self) -> None:
        """Until every request read has its answer, or `grace_seconds` have passed."""
        deadline = time.monotonic() + self._grace_seconds
        while self._unanswered and (left := deadline - time.monotonic()) > 0:
            self._answered.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await self._answered.wait()

    async def write(self, text: str) -> None:
        await self._out.write(text)
        self._written.append(text)

    async def flush(self) -> None:
        """Answers count as sent once flushed: the serving may end as soon as the last one is."""
        await self._out.flush()
        written, self._written = self._written, []
        if not self._unanswered:
            return
        for message in (m for text in written for m in _messages(text)):
            if "method" not in message and "id" in message:
                self._unanswered.discard(_key(message["id"]))
                self._answered.set()


def _messages(text: str) -> list[dict[str, Any]]:
    try:
        parsed = loads(text)
    except ValueError:
        return []
    items = parsed if isinstance(parsed, list) else [parsed]
    return [item for item in items if isinstance(item, dict)]


def _key(request_id: Any) -> Any:
    """JSON-RPC ids are strings or numbers; anything else (unhashable) stands for itself as text."""
    return request_id if isinstance(request_id, str | int | float) else repr(request_id)
