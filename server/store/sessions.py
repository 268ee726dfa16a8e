"""SQL for sessions and their config history."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from server.errors import Conflict, NotFound
from server.store.db import Database, now


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: str
    user_id: str
    config: dict[str, Any]
    config_version: int
    created_at: float
    updated_at: float


def _row(r: Any) -> SessionRow:
    return SessionRow(r["id"], r["user_id"], json.loads(r["config"]), r["config_version"], r["created_at"],
                      r["updated_at"])


class SessionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def insert(self, session_id: str, user_id: str, config: dict[str, Any]) -> SessionRow:
        ts = now()
        blob = json.dumps(config, sort_keys=True)
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO sessions (id, user_id, config, config_version, created_at, updated_at) "
                "VALUES (?, ?, ?, 1, ?, ?)", (session_id, user_id, blob, ts, ts))
            await conn.execute(
                "INSERT INTO session_config_history (session_id, config_version, config, changed_at) "
                "VALUES (?, 1, ?, ?)", (session_id, blob, ts))
        return SessionRow(session_id, user_id, config, 1, ts, ts)

    async def get(self, session_id: str) -> SessionRow | None:
        r = await self.db.fetchone("SELECT * FROM sessions WHERE id = ?", (session_id,))
        return _row(r) if r else None

    async def update(self, session_id: str, config: dict[str, Any], expected_version: int) -> SessionRow:
        """Compare-and-set on config_version, so two concurrent updates cannot both win."""
        ts = now()
        blob = json.dumps(config, sort_keys=True)
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE sessions SET config = ?, config_version = config_version + 1, updated_at = ? "
                "WHERE id = ? AND config_version = ?", (blob, ts, session_id, expected_version))
            if cur.rowcount == 0:
                async with conn.execute("SELECT config_version FROM sessions WHERE id = ?", (session_id,)) as c2:
                    row = await c2.fetchone()
                if row is None:
                    raise NotFound(f"session {session_id} not found")
                raise Conflict(
                    f"session {session_id} changed concurrently: config_version is {row[0]}, "
                    f"expected {expected_version}; reload it and retry",
                    {"config_version": row[0], "expected_config_version": expected_version})
            await conn.execute(
                "INSERT INTO session_config_history (session_id, config_version, config, changed_at) "
                "VALUES (?, ?, ?, ?)", (session_id, expected_version + 1, blob, ts))
            async with conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)) as c3:
                return _row(await c3.fetchone())

    async def delete(self, session_id: str) -> bool:
        async with self.db.transaction() as conn:
            cur = await conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            return cur.rowcount > 0

    async def list_by_user(self, user_id: str, limit: int = 100, offset: int = 0) -> list[SessionRow]:
        rows = await self.db.fetchall(
            "SELECT * FROM sessions WHERE user_id = ? ORDER BY created_at DESC LIMIT ? OFFSET ?",
            (user_id, limit, offset))
        return [_row(r) for r in rows]

    async def history(self, session_id: str) -> list[dict[str, Any]]:
        rows = await self.db.fetchall(
            "SELECT config_version, config, changed_at FROM session_config_history WHERE session_id = ? "
            "ORDER BY config_version", (session_id,))
        return [{"config_version": r[0], "config": json.loads(r[1]), "changed_at": r[2]} for r in rows]
