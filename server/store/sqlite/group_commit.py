"""Group commit on a thread of its own: an append-only table's rows, committed in batches.

A caller's `Committed` settles only once its row is committed. Whatever arrives while a commit runs
joins the next one, so concurrent callers share a transaction; a lone caller's row is committed at
once (no timer). The thread owns its own connection, so a write never waits behind another
connection's transaction on the event loop, and a row costs one hand-off to the thread and, only if
someone is already waiting for it, one back: no task, lock or extra loop iteration per row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any

from server.store.sql.group_commit import Committed, wake

Values = Sequence[Any]
# (row or None for a barrier, who waits for it); None alone stops the thread
_Item = tuple[Values | None, Committed | None]
log = logging.getLogger("concierge.store")

BUSY_TIMEOUT_MS = 5000


class GroupCommitWriter:
    """`submit()` queues a row for the next commit, which settles its `Committed` (if any).

    A failed commit keeps its rows for the next one (a `barrier()` retries them), and the callers waiting
    for them get the error; rows nobody waits for have it logged.
    """

    def __init__(self, path: Path, insert_sql: str, neutral: Callable[[sqlite3.Error], Exception]) -> None:
        self._path = path
        self._sql = insert_sql
        self._neutral = neutral
        self._queue: SimpleQueue[_Item | None] = SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, values: Values, committed: Committed | None) -> None:
        self._start()
        self._queue.put((values, committed))

    async def barrier(self) -> None:
        """Returns once every row submitted before it is committed; raises if their commit failed."""
        done = Committed()
        self._start()
        self._queue.put((None, done))
        await done

    async def close(self) -> None:
        """Commits what is queued, then stops the thread and closes its connection."""
        if self._thread is None:
            return
        with contextlib.suppress(Exception):
            await self.barrier()
        self._queue.put(None)
        thread, self._thread = self._thread, None
        await asyncio.to_thread(thread.join)

    def _start(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="concierge-group-commit", daemon=True)
                    self._thread.start()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        retry: list[Values] = []
        try:
            while True:
                items = [self._queue.get()]
                with contextlib.suppress(Empty):
                    while items[-1] is not None:
                        items.append(self._queue.get_nowait())
                batch = [item for item in items if item is not None]
                rows = retry + [values for values, _ in batch if values is not None]
                error: Exception | None = None
                if rows:
                    try:
                        conn = conn or self._connect()
                        self._write(conn, rows)
                        retry = []
                    except sqlite3.Error as exc:
                        retry, error = rows, self._neutral(exc)
                    except Exception as exc:
                        retry, error = rows, exc
                _settle([committed for _, committed in batch if committed is not None], error)
                if error is not None and any(committed is None for _, committed in batch):
                    log.warning("execution log rows are not stored yet (they stay queued): %s", error)
                if items[-1] is None:
                    return
        finally:
            if conn is not None:
                conn.close()

    def _write(self, conn: sqlite3.Connection, rows: list[Values]) -> None:
        if len(rows) == 1:  # one statement commits on its own
            conn.execute(self._sql, rows[0])
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(self._sql, rows)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def _settle(settled: list[Committed], error: Exception | None) -> None:
    """Marks the rows, then wakes the loops that have a task waiting for one (one wake-up per loop)."""
    waiting: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for committed in settled:
        waiter = committed.mark(error)
        if waiter is not None:
            waiting.setdefault(waiter.get_loop(), []).append(waiter)
    for loop, waiters in waiting.items():
        with contextlib.suppress(RuntimeError):  # that loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(wake, waiters)
