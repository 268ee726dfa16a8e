"""Rows of auth configs (`ac_…`); the credentials column holds an encrypted blob."""

from __future__ import annotations

from dataclasses import replace

from server.store.records import AuthConfigRow, now
from server.store.sql.database import Database
from server.store.sql.mapping import build, columns, insert_sql, values
from server.values import AccountStatus

COLS = ", ".join(columns(AuthConfigRow))


class SqlAuthConfigStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def insert(self, row: AuthConfigRow) -> None:
        await self.db.execute(insert_sql("auth_configs", AuthConfigRow), values(row))

    async def get(self, config_id: str) -> AuthConfigRow | None:
        r = await self.db.fetchone(f"SELECT {COLS} FROM auth_configs WHERE id = ?", (config_id,))
        return build(AuthConfigRow, r) if r else None

    async def find(self, toolkit: str | None = None) -> list[AuthConfigRow]:
        if toolkit:
            rows = await self.db.fetchall(
                f"SELECT {COLS} FROM auth_configs WHERE toolkit = ? ORDER BY created_at", (toolkit,)
            )
        else:
            rows = await self.db.fetchall(f"SELECT {COLS} FROM auth_configs ORDER BY created_at")
        return [build(AuthConfigRow, r) for r in rows]

    async def update(self, row: AuthConfigRow) -> AuthConfigRow:
        row = replace(row, updated_at=now())
        names = [c for c in columns(AuthConfigRow) if c not in ("id", "created_at")]
        await self.db.execute(
            f"UPDATE auth_configs SET {', '.join(n + ' = ?' for n in names)} WHERE id = ?",
            (*(getattr(row, n) for n in names), row.id),
        )
        return row

    async def delete(self, config_id: str) -> None:
        await self.db.execute("DELETE FROM auth_configs WHERE id = ?", (config_id,))

    async def in_use(self, config_id: str) -> int:
        r = await self.db.fetchone(
            "SELECT COUNT(*) FROM connected_accounts WHERE auth_config_id = ? AND status IN (?, ?)",
            (config_id, AccountStatus.ACTIVE, AccountStatus.INITIATED),
        )
        return int(r[0]) if r else 0
