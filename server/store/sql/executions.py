"""The execution log: one row per tool run; arguments kept only as a digest."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import Counter, OrderedDict

from server.store.records import ExecutionRow, PageKey
from server.store.sql.database import Database
from server.store.sql.group_commit import GroupCommit
from server.store.sql.mapping import columns, insert_sql, values

_COLUMNS = ", ".join(columns(ExecutionRow))
# A call's second row (its outcome, see `begin`) fills in the first, only while that one says "running".
# A batch whose commit was lost in transit (PostgreSQL's connection died) stays queued and is sent again:
# rows it already wrote change nothing rather than failing every later batch.
_INSERT = insert_sql("executions", ExecutionRow) + (
    " ON CONFLICT (id) DO UPDATE SET account_id = excluded.account_id, status = excluded.status,"
    " error = excluded.error, duration_ms = excluded.duration_ms WHERE executions.status = 'running'"
)
log = logging.getLogger("concierge.store")


class SqlExecutionStore:
    """`record()` returns only once its row is committed; rows that arrive while a commit is running share
    the next one (the database's `GroupCommit`). A failed commit keeps its rows queued for the next one,
    and their callers get the error. Reads first wait for the rows queued before them."""

    USED_CACHE = 10_000

    def __init__(self, db: Database) -> None:
        self.db = db
        self._log: GroupCommit = db.group_commit(_INSERT)
        self._used: OrderedDict[str, Counter[str]] = OrderedDict()
        self._later: list[tuple[ExecutionRow, asyncio.Future[None] | None]] = []

    async def record(self, row: ExecutionRow) -> None:
        await self.insert(row)

    def begin(self, row: ExecutionRow) -> asyncio.Future[None]:
        committed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._defer(row, committed)
        return committed

    def finish(self, row: ExecutionRow) -> None:
        self._defer(row, None)

    def _defer(self, row: ExecutionRow, committed: asyncio.Future[None] | None) -> None:
        """Rows of remote calls reach the writer once the calling task yields: as its request is sent
        (a begun call) or its answer written (a finished one). Handing a row over wakes the writer, and a
        writer woken earlier would compete with that task for the interpreter."""
        if not self._later:
            asyncio.get_running_loop().call_soon(self._hand_over)
        self._later.append((row, committed))

    def _hand_over(self) -> None:
        later, self._later = self._later, []
        for row, committed in later:
            queued = self.insert(row)
            if committed is None:
                queued.add_done_callback(_log_failure)
            else:
                queued.add_done_callback(functools.partial(_pass_on, committed))

    def insert(self, row: ExecutionRow) -> asyncio.Future[None]:
        """Queues the row for the next commit; the future resolves once it is committed."""
        committed = self._log.submit(values(row))
        used = self._used.get(row.session_id)
        if used is not None and row.status == "success":
            used[row.toolkit] += 1
        return committed

    async def flush(self) -> None:
        """Waits for every row queued so far; raises if their commit failed (they stay queued)."""
        self._hand_over()
        await self._log.barrier()

    async def aclose(self) -> None:
        self._hand_over()
        await self._log.close()

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


def _pass_on(outer: asyncio.Future[None], inner: asyncio.Future[None]) -> None:
    if outer.done():  # its caller was cancelled
        return
    if inner.cancelled():
        outer.cancel()
    elif inner.exception() is not None:
        outer.set_exception(inner.exception())  # type: ignore[arg-type]
    else:
        outer.set_result(None)


def _log_failure(committed: asyncio.Future[None]) -> None:
    """Nobody waits for a finished call's outcome row: its failure is logged here (the row stays queued)."""
    if not committed.cancelled() and committed.exception() is not None:
        log.warning("an execution outcome is not stored yet: %s", committed.exception())
