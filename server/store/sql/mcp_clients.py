"""MCP clients of each session: their `Mcp-Session-Id`, bound to one session, kept across restarts."""

from __future__ import annotations

from server.store.errors import ReferenceMissing
from server.store.records import McpClientRow, now
from server.store.sql.database import Database


class SqlMcpClientStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def register(
        self,
        mcp_session_id: str,
        session_id: str,
        client_name: str | None,
        client_version: str | None,
        protocol_version: str | None,
    ) -> None:
        ts = now()
        try:
            await self.db.execute(
                "INSERT INTO mcp_clients (mcp_session_id, session_id, client_name, client_version, protocol_version, "
                "first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (mcp_session_id, session_id, client_name, client_version, protocol_version, ts, ts),
            )
        except ReferenceMissing:
            raise ReferenceMissing(f"session {session_id} not found; it was deleted. Create a new one.") from None

    async def get(self, mcp_session_id: str) -> McpClientRow | None:
        r = await self.db.fetchone("SELECT * FROM mcp_clients WHERE mcp_session_id = ?", (mcp_session_id,))
        return McpClientRow(*r) if r else None

    async def touch(self, mcp_session_id: str, ts: float) -> None:
        await self.db.execute("UPDATE mcp_clients SET last_seen = ? WHERE mcp_session_id = ?", (ts, mcp_session_id))

    async def terminate(self, mcp_session_id: str) -> None:
        await self.db.execute(
            "UPDATE mcp_clients SET terminated_at = ? WHERE mcp_session_id = ?", (now(), mcp_session_id)
        )

    async def list_by_session(self, session_id: str) -> list[McpClientRow]:
        rows = await self.db.fetchall(
            "SELECT * FROM mcp_clients WHERE session_id = ? ORDER BY last_seen DESC", (session_id,)
        )
        return [McpClientRow(*r) for r in rows]
