"""The execution log: one row per tool run; arguments kept only as a digest."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from server.store.db import Database
from server.store.rows import columns, insert_sql, values


def arguments_digest(arguments: Any) -> str:
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


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
    def __init__(self, db: Database) -> None:
        self.db = db

    async def insert(self, row: ExecutionRow) -> None:
        await self.db.execute(insert_sql("executions", ExecutionRow), values(row))

    async def get(self, log_id: str) -> ExecutionRow | None:
        r = await self.db.fetchone(f"SELECT {_COLUMNS} FROM executions WHERE id = ?", (log_id,))
        return ExecutionRow(*r) if r else None

    async def list_by_session(self, session_id: str, limit: int = 100) -> list[ExecutionRow]:
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM executions WHERE session_id = ? ORDER BY started_at DESC LIMIT ?",
            (session_id, limit))
        return [ExecutionRow(*r) for r in rows]

    async def used_toolkits(self, session_id: str) -> dict[str, int]:
        rows = await self.db.fetchall(
            "SELECT toolkit, COUNT(*) FROM executions WHERE session_id = ? AND status = 'success' GROUP BY toolkit",
            (session_id,))
        return {r[0]: r[1] for r in rows}
