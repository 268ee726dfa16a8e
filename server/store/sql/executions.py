"""The execution log: one row per tool run; arguments kept only as a digest."""

from __future__ import annotations

import asyncio
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

    async def record(self, row: ExecutionRow) -> None:
        await self.insert(row)

    def begin(self, row: ExecutionRow) -> asyncio.Future[None]:
        return self.insert(row)

    def finish(self, row: ExecutionRow) -> None:
        self.insert(row).add_done_callback(_log_failure)

    def insert(self, row: ExecutionRow) -> asyncio.Future[None]:
        """Queues the row for the next commit; the future resolves once it is committed."""
        committed = self._log.submit(values(row))
        used = self._used.get(row.session_id)
        if used is not None and row.status == "success":
            used[row.toolkit] += 1
        return committed

    async def flush(self) -> None:
        """Waits for every row queued so far; raises if their commit failed (they stay queued)."""
        await self._log.barrier()

    async def aclose(self) -> None:
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


def _log_failure(committed: asyncio.Future[None]) -> None:
    """Nobody waits for a finished call's outcome row: its failure is logged here (the row stays queued)."""
    if not committed.cancelled() and committed.exception() is not None:
        log.warning("an execution outcome is not stored yet: %s", committed.exception())
