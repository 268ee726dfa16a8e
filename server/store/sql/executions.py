"""The execution log: one row per tool run; arguments kept only as a digest."""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict

from server.store.records import ExecutionRow, PageKey
from server.store.sql.database import Database
from server.store.sql.group_commit import Committed, GroupCommit
from server.store.sql.mapping import columns, insert_sql, values

_COLUMNS = ", ".join(columns(ExecutionRow))
# A call's second row (its outcome, see `begin`) fills in the first, only while that one says "running".
# A batch whose commit was lost in transit (PostgreSQL's connection died) stays queued and is sent again:
# rows it already wrote change nothing rather than failing every later batch.
_INSERT = insert_sql("executions", ExecutionRow) + (
    " ON CONFLICT (id) DO UPDATE SET account_id = excluded.account_id, status = excluded.status,"
    " error = excluded.error, duration_ms = excluded.duration_ms WHERE executions.status = 'running'"
)


class SqlExecutionStore:
    """`record()` returns only once its row is committed; rows that arrive while a commit is running share
    the next one (the database's `GroupCommit`). A failed commit keeps its rows queued for the next one,
    and their callers get the error. Reads first wait for the rows queued before them."""

    USED_CACHE = 10_000
    OUTCOME_DELAY_SECONDS = 0.25  # the longest an outcome waits for the next call's row to share a commit

    def __init__(self, db: Database) -> None:
        self.db = db
        self._log: GroupCommit = db.group_commit(_INSERT)
        self._used: OrderedDict[str, Counter[str]] = OrderedDict()
        self._later: list[tuple[ExecutionRow, Committed | None]] = []
        self._handing_over = False  # a hand-over is scheduled for the next loop iteration
        self._outcomes_due: asyncio.TimerHandle | None = None

    async def record(self, row: ExecutionRow) -> None:
        committed = Committed()
        self._count(row)
        self._later.append((row, committed))
        self._hand_over()
        await committed

    def begin(self, row: ExecutionRow) -> Committed:
        """The row reaches the writer once the calling task yields, as its request is sent: handing a row
        over wakes the writer, and a writer woken earlier would compete with that task for the interpreter."""
        committed = Committed()
        if not self._handing_over:
            self._handing_over = True
            asyncio.get_running_loop().call_soon(self._hand_over)
        self._later.append((row, committed))
        return committed

    def finish(self, row: ExecutionRow) -> None:
        """Nobody waits for an outcome: it goes with the next call's first row, so that one commit (and
        one wake-up of the writer) serves both, or on its own after `OUTCOME_DELAY_SECONDS`."""
        self._count(row)
        self._later.append((row, None))
        if self._outcomes_due is None:
            self._outcomes_due = asyncio.get_running_loop().call_later(self.OUTCOME_DELAY_SECONDS, self._hand_over)

    def _hand_over(self) -> None:
        self._handing_over = False
        if self._outcomes_due is not None:
            self._outcomes_due.cancel()
            self._outcomes_due = None
        later, self._later = self._later, []
        for row, committed in later:
            self._log.submit(values(row), committed)

    def _count(self, row: ExecutionRow) -> None:
        used = self._used.get(row.session_id)
        if used is not None and row.status == "success":
            used[row.toolkit] += 1

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
