"""Small server-wide facts (e.g. the admin key's hash) in a key/value table."""

from __future__ import annotations

from server.store.sql.database import Database


class SqlServerMetaStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, key: str) -> str | None:
        r = await self.db.fetchone("SELECT value FROM server_meta WHERE key = ?", (key,))
        return r[0] if r else None

    async def set_if_absent(self, key: str, value: str) -> str:
        await self.db.execute(
            "INSERT INTO server_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING", (key, value)
        )
        r = await self.db.fetchone("SELECT value FROM server_meta WHERE key = ?", (key,))
        return str(r[0]) if r else value

    async def set(self, key: str, value: str) -> None:
        await self.db.execute(
            "INSERT INTO server_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
