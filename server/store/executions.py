"""The execution log: one row per tool run; arguments kept only as a digest."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter, OrderedDict
from dataclasses import asdict, dataclass
from typing import Any

from server import jsontext
from server.store.db import Database
from server.store.rows import columns, insert_sql, values

log = logging.getLogger("concierge.store")


def arguments_digest(arguments: Any) -> str:
    return "sha256:" + hashlib.sha256(jsontext.dumps_bytes(arguments, sort_keys=True)).hexdigest()


@dataclass(frozen=True, slots=True)
class ExecutionRow:
    id: str
    session_id: str
    user_id: str
    tool_slug: str
    toolkit: str
    account_id: str | None
    arguments_digest: str
    status: str
    error: str | None
    started_at: float
    duration_ms: float
    source: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_COLUMNS = ", ".join(columns(ExecutionRow))


class ExecutionStore:
    """Execution rows are buffered and written in batches (every `FLUSH_SECONDS` or `FLUSH_ROWS` rows, and
    on shutdown): one transaction per batch instead of one per call, off the hot path of tool calls.
    Reads flush first, so callers always see their own rows. A hard crash can lose at most the last
    batch's rows, never a half-written one."""

    FLUSH_SECONDS = 0.05
    FLUSH_ROWS = 200
    USED_CACHE = 10_000

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: list[ExecutionRow] = []
        self._timer: asyncio.Task[None] | None = None
        self._used: OrderedDict[str, Counter[str]] = OrderedDict()
        self._flushing = asyncio.Lock()

    async def insert(self, row: ExecutionRow) -> None:
        self._pending.append(row)
        used = self._used.get(row.session_id)
        if used is not None and row.status == "success":
            used[row.toolkit] += 1
        if len(self._pending) >= self.FLUSH_ROWS:
            await self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.FLUSH_SECONDS)
        self._timer = None
        try:
            await self.flush()
        except Exception:
            log.exception("writing %d execution log rows failed; they stay queued", len(self._pending))

    async def flush(self) -> None:
        """Serialised, so a read that flushes also waits for a batch another task is still committing."""
        async with self._flushing:
            if not self._pending:
                return
            batch, self._pending = self._pending, []
            try:
                async with self.db.transaction() as conn:
                    await conn.executemany(insert_sql("executions", ExecutionRow), [values(r) for r in batch])
            except BaseException:
                self._pending[:0] = batch  # keep them for the next flush rather than lose them
                raise

    async def aclose(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self.flush()

    async def get(self, log_id: str) -> ExecutionRow | None:
        await self.flush()
        r = await self.db.fetchone(f"SELECT {_COLUMNS} FROM executions WHERE id = ?", (log_id,))
        return ExecutionRow(*r) if r else None

    async def list_by_session(self, session_id: str, limit: int = 100) -> list[ExecutionRow]:
        await self.flush()
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM executions WHERE session_id = ? ORDER BY started_at DESC LIMIT ?",
            (session_id, limit))
        return [ExecutionRow(*r) for r in rows]

    async def used_toolkits(self, session_id: str) -> dict[str, int]:
        """Successful calls per toolkit in this session (search boosts them); read once, then kept current."""
        used = self._used.get(session_id)
        if used is None:
            await self.flush()
            rows = await self.db.fetchall(
                "SELECT toolkit, COUNT(*) FROM executions WHERE session_id = ? AND status = 'success' "
                "GROUP BY toolkit", (session_id,))
            used = self._used[session_id] = Counter({r[0]: r[1] for r in rows})
            while len(self._used) > self.USED_CACHE:
                self._used.popitem(last=False)
        self._used.move_to_end(session_id)
        return dict(used)
