"""Rows of sessions and their config history."""

from __future__ import annotations

import json
from typing import Any

from server.errors import NotFound
from server.store.errors import VersionConflict
from server.store.records import PageKey, SessionFilter, SessionRow, SessionStamp, now
from server.store.sql.database import Database


def _row(r: Any) -> SessionRow:
    return SessionRow(
        r["id"], r["user_id"], json.loads(r["config"]), r["config_version"], r["created_at"], r["updated_at"]
    )


class SqlSessionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def insert(self, session_id: str, user_id: str, config: dict[str, Any]) -> SessionRow:
        ts = now()
        await self.db.execute(
            "INSERT INTO sessions (id, user_id, config, config_version, created_at, updated_at) "
            "VALUES (?, ?, ?, 1, ?, ?)",
            (session_id, user_id, json.dumps(config, sort_keys=True), ts, ts),
        )
        return SessionRow(session_id, user_id, config, 1, ts, ts)

    async def get(self, session_id: str) -> SessionRow | None:
        r = await self.db.fetchone("SELECT * FROM sessions WHERE id = ?", (session_id,))
        return _row(r) if r else None

    async def stamp(self, session_id: str, mcp_client_id: str | None = None) -> SessionStamp | None:
        r = await self.db.fetchone(
            "SELECT s.config_version, c.session_id, c.terminated_at FROM sessions s "
            "LEFT JOIN mcp_clients c ON c.mcp_session_id = ? WHERE s.id = ?",
            (mcp_client_id, session_id),
        )
        return SessionStamp(r[0], r[1], r[2] is not None) if r else None

    async def update(self, session_id: str, config: dict[str, Any], expected_version: int) -> SessionRow:
        """Compare-and-set on config_version, so two concurrent updates cannot both win."""
        updated = await self.db.execute(
            "UPDATE sessions SET config = ?, config_version = config_version + 1, updated_at = ? "
            "WHERE id = ? AND config_version = ? RETURNING *",
            (json.dumps(config, sort_keys=True), now(), session_id, expected_version),
        )
        if updated:
            return _row(updated[0])
        current = await self.db.fetchone("SELECT config_version FROM sessions WHERE id = ?", (session_id,))
        if current is None:
            raise NotFound(f"session {session_id} not found")
        raise VersionConflict.of_session(session_id, current[0], expected_version)

    async def delete(self, session_id: str) -> bool:
        return bool(await self.db.execute("DELETE FROM sessions WHERE id = ? RETURNING id", (session_id,)))

    async def list_by_user(self, user_id: str, limit: int = 100, offset: int = 0) -> list[SessionRow]:
        rows = await self.db.fetchall(
            "SELECT * FROM sessions WHERE user_id = ? ORDER BY created_at DESC LIMIT ? OFFSET ?",
            (user_id, limit, offset),
        )
        return [_row(r) for r in rows]

    async def history(self, session_id: str) -> list[dict[str, Any]]:
        rows = await self.db.fetchall(
            "SELECT config_version, config, changed_at FROM session_config_history WHERE session_id = ? "
            "ORDER BY config_version",
            (session_id,),
        )
        return [{"config_version": r[0], "config": json.loads(r[1]), "changed_at": r[2]} for r in rows]

    async def page(self, where: SessionFilter, after: PageKey | None, limit: int) -> list[SessionRow]:
        """With a toolkit, the walk is over `session_toolkits` (toolkit, created_at) and joins the sessions;
        without, over `sessions_user` or `sessions_created`: an index range either way."""
        alias = "t" if where.toolkit is not None else "s"
        clauses: list[str] = []
        params: list[Any] = []
        if where.toolkit is not None:
            clauses.append("t.toolkit = ?")
            params.append(where.toolkit)
        if where.user_id is not None:
            clauses.append("s.user_id = ?")
            params.append(where.user_id)
        if where.created_from is not None:
            clauses.append(f"{alias}.created_at >= ?")
            params.append(where.created_from)
        if where.created_to is not None:
            clauses.append(f"{alias}.created_at < ?")
            params.append(where.created_to)
        if after is not None:
            clauses.append(f"({alias}.created_at, {'t.session_id' if alias == 't' else 's.id'}) < (?, ?)")
            params += [after.at, after.id]
        source = (
            "session_toolkits t JOIN sessions s ON s.id = t.session_id" if where.toolkit is not None else "sessions s"
        )
        order = "t.created_at DESC, t.session_id DESC" if alias == "t" else "s.created_at DESC, s.id DESC"
        rows = await self.db.fetchall(
            f"SELECT s.* FROM {source} {'WHERE ' + ' AND '.join(clauses) if clauses else ''} ORDER BY {order} LIMIT ?",
            (*params, limit),
        )
        return [_row(r) for r in rows]
