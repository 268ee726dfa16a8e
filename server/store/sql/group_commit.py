"""Group commit through the `Database` seam (PostgreSQL's pool): the rows that arrive while a commit is
running join the next one, so concurrent callers share a transaction instead of paying one each.

SQLite has a cheaper one of its own, on a writer thread (`server/store/sqlite/group_commit.py`); both
give the same `GroupCommit` guarantees.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from server.store.sql.database import Database

log = logging.getLogger("concierge.store")
Values = Sequence[Any]


class GroupCommit(Protocol):
    """`submit()` queues a row and returns a future that resolves once it is committed. A failed commit
    keeps its rows for the next one (a `barrier()` retries them), and their callers get the error."""

    def submit(self, values: Values) -> asyncio.Future[None]: ...

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
        self._waiters: list[asyncio.Future[None]] = []
        self._writer: asyncio.Task[None] | None = None
        self._flushing = asyncio.Lock()

    def submit(self, values: Values) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._waiters.append(done)
        self._pending.append(values)
        if self._writer is None:
            self._writer = loop.create_task(self._write_queued())
        return done

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
                for waiter in waiters:
                    if waiter.done():
                        continue
                    if isinstance(exc, Exception):
                        waiter.set_exception(exc)
                    else:
                        waiter.cancel()
                raise
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def close(self) -> None:
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
        await self.barrier()
