"""Group commit through the `Database` seam (PostgreSQL's pool): the rows that arrive while a commit is
running join the next one, so concurrent callers share a transaction instead of paying one each.

SQLite has a cheaper one of its own, on a writer thread (`server/store/sqlite/group_commit.py`); both
give the same `GroupCommit` guarantees.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Generator, Sequence
from typing import Any, Protocol

from server.store.sql.database import Database

log = logging.getLogger("concierge.store")
Values = Sequence[Any]


class Committed:
    """Awaited by one task; returns once its row is committed, raises if that commit failed.

    Settled from any thread, and the event loop is woken only when a task is already waiting: the row of
    a remote call is committed while the call is out, so by the time it is awaited there is nothing to
    wait for, and the writer need not interrupt the loop to say so. (The writer marks the row settled,
    then looks for a waiter; the awaiting task publishes its waiter, then looks again: one of them always
    sees the other.)"""

    __slots__ = ("_loop", "_waiter", "_settled", "error")

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._waiter: asyncio.Future[None] | None = None
        self._settled = False
        self.error: Exception | None = None

    def done(self) -> bool:
        return self._settled

    def settle(self, error: Exception | None) -> None:
        """On the loop's own thread."""
        waiter = self.mark(error)
        if waiter is not None:
            wake([waiter])

    def mark(self, error: Exception | None) -> asyncio.Future[None] | None:
        """Settles it from any thread; returns the waiter to wake (with `wake`, on its loop), if any."""
        self.error, self._settled = error, True
        return self._waiter

    def __await__(self) -> Generator[Any, None, None]:
        if not self._settled:
            waiter = self._waiter = self._loop.create_future()
            if not self._settled:
                yield from waiter.__await__()
        if self.error is not None:
            raise self.error


def wake(waiters: list[asyncio.Future[None]]) -> None:
    for waiter in waiters:
        if not waiter.done():  # its task was cancelled; the row is committed all the same
            waiter.set_result(None)


class GroupCommit(Protocol):
    """`submit()` queues a row for the next commit, which settles `committed` (None: nobody waits; a
    failure is logged). A failed commit keeps its rows for the next one (a `barrier()` retries them),
    and the callers waiting for them get the error."""

    def submit(self, values: Values, committed: Committed | None) -> None: ...

    async def barrier(self) -> None:
        """Returns once every row submitted before it is committed; raises if their commit failed."""
        ...

    async def close(self) -> None: ...


class AsyncGroupCommit:
    """A commit starts at once unless one is running; its task takes everything queued so far."""

    def __init__(self, db: Database, insert_sql: str) -> None:
        self.db = db
        self.sql = insert_sql
        self._pending: list[Values] = []
        self._waiters: list[Committed | None] = []
        self._writer: asyncio.Task[None] | None = None
        self._flushing = asyncio.Lock()

    def submit(self, values: Values, committed: Committed | None) -> None:
        self._waiters.append(committed)
        self._pending.append(values)
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write_queued())

    async def _write_queued(self) -> None:
        try:
            while self._pending:
                try:
                    await self.barrier()
                except Exception:
                    log.exception("writing %d execution log rows failed; they stay queued", len(self._pending))
                    return
        finally:
            self._writer = None

    async def barrier(self) -> None:
        """Serialised, so a read that waits here also waits for a batch another task is still committing."""
        async with self._flushing:
            if not self._pending:
                return
            batch, self._pending = self._pending, []
            waiters, self._waiters = self._waiters, []
            try:
                if len(batch) == 1:  # one statement commits on its own: one trip to the database
                    await self.db.execute(self.sql, batch[0])
                else:
                    async with self.db.transaction() as tx:
                        await tx.executemany(self.sql, batch)
            except BaseException as exc:
                self._pending[:0] = batch  # keep them for the next commit rather than lose them
                error = exc if isinstance(exc, Exception) else RuntimeError("the commit was interrupted")
                for waiter in waiters:
                    if waiter is not None:
                        waiter.settle(error)
                raise
            for waiter in waiters:
                if waiter is not None:
                    waiter.settle(None)

    async def close(self) -> None:
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
        await self.barrier()
