"""Admin-console logins by the hash of their cookie token (the token itself is never stored)."""

from __future__ import annotations

from server.store.records import now
from server.store.sql.database import Database


class SqlConsoleLoginStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def open(self, token_hash: str, expires_at: float) -> None:
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM console_logins WHERE expires_at <= ?", (now(),))
            await tx.execute(
                "INSERT INTO console_logins (token_hash, created_at, expires_at) VALUES (?, ?, ?)",
                (token_hash, now(), expires_at),
            )

    async def alive(self, token_hash: str, at: float) -> bool:
        row = await self.db.fetchone(
            "SELECT 1 FROM console_logins WHERE token_hash = ? AND expires_at > ?", (token_hash, at)
        )
        return row is not None

    async def close(self, token_hash: str) -> None:
        await self.db.execute("DELETE FROM console_logins WHERE token_hash = ?", (token_hash,))
