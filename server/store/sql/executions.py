"""The execution log: one row per tool run; arguments kept only as a digest."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, OrderedDict

from server.store.records import ExecutionRow, PageKey
from server.store.sql.database import Database
from server.store.sql.mapping import columns, insert_sql, values

log = logging.getLogger("concierge.store")

_COLUMNS = ", ".join(columns(ExecutionRow))
# A batch whose commit was lost in transit (PostgreSQL's connection died) stays queued and is sent again;
# rows it already wrote are skipped rather than failing every later batch.
_INSERT = insert_sql("executions", ExecutionRow) + " ON CONFLICT (id) DO NOTHING"


class SqlExecutionStore:
    """Group commit: `record()` returns only once its row is committed, and every row that arrives while a
    commit is running joins the next one, so concurrent calls share a transaction instead of paying one
    each. A failed commit keeps its rows queued for the next one, and their callers get the error."""

    USED_CACHE = 10_000

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: list[ExecutionRow] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._writer: asyncio.Task[None] | None = None
        self._used: OrderedDict[str, Counter[str]] = OrderedDict()
        self._flushing = asyncio.Lock()

    async def record(self, row: ExecutionRow) -> None:
        done = asyncio.get_running_loop().create_future()
        self._waiters.append(done)
        await self.insert(row)
        await asyncio.shield(done)

    async def insert(self, row: ExecutionRow) -> None:
        """Queues the row for the next commit, which starts at once unless one is running."""
        self._pending.append(row)
        used = self._used.get(row.session_id)
        if used is not None and row.status == "success":
            used[row.toolkit] += 1
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write_queued())

    async def _write_queued(self) -> None:
        try:
            while self._pending:
                try:
                    await self.flush()
                except Exception:
                    log.exception("writing %d execution log rows failed; they stay queued", len(self._pending))
                    return
        finally:
            self._writer = None

    async def flush(self) -> None:
        """Serialised, so a read that flushes also waits for a batch another task is still committing."""
        async with self._flushing:
            if not self._pending:
                return
            batch, self._pending = self._pending, []
            waiters, self._waiters = self._waiters, []
            try:
                if len(batch) == 1:  # one statement commits on its own: one trip to the database thread
                    await self.db.execute(_INSERT, values(batch[0]))
                else:
                    async with self.db.transaction() as tx:
                        await tx.executemany(_INSERT, [values(r) for r in batch])
            except BaseException as exc:
                self._pending[:0] = batch  # keep them for the next flush rather than lose them
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

    async def aclose(self) -> None:
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
        await self.flush()

    async def get(self, log_id: str) -> ExecutionRow | None:
        await self.flush()
        r = await self.db.fetchone(f"SELECT {_COLUMNS} FROM executions WHERE id = ?", (log_id,))
        return ExecutionRow(*r) if r else None

    async def list_by_session(self, session_id: str, limit: int = 100) -> list[ExecutionRow]:
        await self.flush()
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM executions WHERE session_id = ? ORDER BY started_at DESC LIMIT ?",
            (session_id, limit),
        )
        return [ExecutionRow(*r) for r in rows]

    async def used_toolkits(self, session_id: str) -> dict[str, int]:
        """Successful calls per toolkit in this session (search boosts them); read once, then kept current."""
        used = self._used.get(session_id)
        if used is None:
            await self.flush()
            rows = await self.db.fetchall(
                "SELECT toolkit, COUNT(*) FROM executions WHERE session_id = ? AND status = 'success' GROUP BY toolkit",
                (session_id,),
            )
            used = self._used[session_id] = Counter({r[0]: r[1] for r in rows})
            while len(self._used) > self.USED_CACHE:
                self._used.popitem(last=False)
        self._used.move_to_end(session_id)
        return dict(used)

    async def page_by_session(self, session_id: str, after: PageKey | None, limit: int) -> list[ExecutionRow]:
        await self.flush()
        keyset = "AND (started_at, id) < (?, ?) " if after is not None else ""
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM executions WHERE session_id = ? {keyset}ORDER BY started_at DESC, id DESC LIMIT ?",
            (session_id, *((after.at, after.id) if after is not None else ()), limit),
        )
        return [ExecutionRow(*r) for r in rows]
