"""The SQLite backend (the default): one file in the data folder, WAL, aiosqlite."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from server.store.sqlite.accounts import SqliteAccountStore
from server.store.sqlite.auth_configs import SqliteAuthConfigStore
from server.store.sqlite.db import Database
from server.store.sqlite.executions import SqliteExecutionStore
from server.store.sqlite.mcp_clients import SqliteMcpClientStore
from server.store.sqlite.memory import SqliteMemoryStore
from server.store.sqlite.replicas import SqliteLockStore, SqliteReplicaStore
from server.store.sqlite.server_meta import SqliteServerMetaStore
from server.store.sqlite.sessions import SqliteSessionStore
from server.store.sqlite.upstreams import SqliteUpstreamStore

ENCRYPTED_COLUMNS = (
    ("auth_configs", "id", "credentials"),
    ("connected_accounts", "id", "credential"),
    ("connect_links", "token_hash", "token"),
    ("connect_links", "token_hash", "pkce_verifier"),
    ("upstreams", "name", "oauth_client"),
)


@dataclass(frozen=True)
class SqliteStore:
    db: Database
    sessions: SqliteSessionStore
    accounts: SqliteAccountStore
    auth_configs: SqliteAuthConfigStore
    executions: SqliteExecutionStore
    memory: SqliteMemoryStore
    mcp_clients: SqliteMcpClientStore
    meta: SqliteServerMetaStore
    upstreams: SqliteUpstreamStore
    replicas: SqliteReplicaStore
    locks: SqliteLockStore

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        db = await Database.open(path)
        return cls(
            db,
            SqliteSessionStore(db),
            SqliteAccountStore(db),
            SqliteAuthConfigStore(db),
            SqliteExecutionStore(db),
            SqliteMemoryStore(db),
            SqliteMcpClientStore(db),
            SqliteServerMetaStore(db),
            SqliteUpstreamStore(db),
            SqliteReplicaStore(db),
            SqliteLockStore(db),
        )

    async def reencrypt(self, rotate: Callable[[bytes], bytes], meta_keys: Iterable[str] = ()) -> int:
        count = 0
        async with self.db.transaction() as tx:
            for table, key, column in ENCRYPTED_COLUMNS:
                for row_id, blob in await tx.fetchall(
                    f"SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL"
                ):
                    await tx.execute(f"UPDATE {table} SET {column} = ? WHERE {key} = ?", (rotate(blob), row_id))
                    count += 1
            for name in meta_keys:
                row = await tx.fetchone("SELECT value FROM server_meta WHERE key = ?", (name,))
                if row is not None:
                    await tx.execute(
                        "UPDATE server_meta SET value = ? WHERE key = ?", (rotate(row[0].encode()).decode(), name)
                    )
        return count

    async def integrity_problems(self) -> list[str]:
        return await self.db.integrity_problems()

    async def aclose(self) -> None:
        try:
            await self.executions.aclose()
        finally:
            await self.db.close()


__all__ = ["SqliteStore"]
