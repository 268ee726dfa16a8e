"""stdin for the SDK's stdio server, read on a daemon thread.

The SDK reads each line in an AnyIO worker thread that a cancellation must wait for: a `concierge
stdio` told to stop (Ctrl-C, SIGTERM) while its client keeps stdin open would wait for the client's
next line before closing anything, and the interpreter, at exit, for that thread. Here a daemon thread
reads and the serving side awaits a queue, so a stop takes effect at once and the blocked read ends
with the process. As the SDK does, the wire is read from a private copy of fd 0 and fd 0 itself is
pointed at the null device, so programs the server starts (workbench sandboxes, stdio upstreams) read
nothing of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import threading
from typing import IO

QUEUED_LINES = 64  # read ahead of the server at most this many lines


class StdinLines:
    """An async iterator of stdin's lines (text, newline kept), ending at end of file."""

    def __init__(self) -> None:
        wire = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        self._loop = asyncio.get_running_loop()
        self._lines: asyncio.Queue[str | None] = asyncio.Queue(QUEUED_LINES)
        stream = open(wire, encoding="utf-8", errors="replace")  # noqa: SIM115 (the thread's to close)
        threading.Thread(target=self._read, args=(stream,), name="concierge-stdin", daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        """A read error ends the input as its end would: the server then closes."""
        with stream, contextlib.suppress(OSError):
            for line in stream:
                if not self._put(line):
                    return
        self._put(None)

    def _put(self, line: str | None) -> bool:
        """Hands a line over, waiting while the queue is full; False once the loop has gone."""
        try:
            asyncio.run_coroutine_threadsafe(self._lines.put(line), self._loop).result()
        except (RuntimeError, asyncio.CancelledError):  # the loop closed, or stopped before taking it
            return False
        return True

    def __aiter__(self) -> StdinLines:
        return self

    async def __anext__(self) -> str:
        line = await self._lines.get()
        if line is None:
            raise StopAsyncIteration
        return line
