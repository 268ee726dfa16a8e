"""`SqlStore`: every concept's store over one SQL `Database`, whichever backend opened it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from server.store.interfaces import SoleUse
from server.store.sql.accounts import SqlAccountStore
from server.store.sql.audit import SqlAuditStore
from server.store.sql.auth_configs import SqlAuthConfigStore
from server.store.sql.console_logins import SqlConsoleLoginStore
from server.store.sql.database import Database
from server.store.sql.executions import SqlExecutionStore
from server.store.sql.mcp_clients import SqlMcpClientStore
from server.store.sql.memory import SqlMemoryStore
from server.store.sql.replicas import SqlLockStore, SqlReplicaStore
from server.store.sql.server_meta import SqlServerMetaStore
from server.store.sql.sessions import SqlSessionStore
from server.store.sql.upstreams import SqlUpstreamStore
from server.store.sql.vectors import SqlVectorStore

# (table, key, column) of every value sealed by the server's key, so rotation misses none.
ENCRYPTED_COLUMNS = (
    ("auth_configs", "id", "credentials"),
    ("connected_accounts", "id", "credential"),
    ("connect_links", "token_hash", "token"),
    ("connect_links", "token_hash", "pkce_verifier"),
    ("upstreams", "name", "oauth_client"),
    ("upstreams", "name", "secrets"),
)


@dataclass(frozen=True)
class SqlStore:
    db: Database
    sessions: SqlSessionStore
    accounts: SqlAccountStore
    auth_configs: SqlAuthConfigStore
    executions: SqlExecutionStore
    memory: SqlMemoryStore
    mcp_clients: SqlMcpClientStore
    meta: SqlServerMetaStore
    upstreams: SqlUpstreamStore
    replicas: SqlReplicaStore
    locks: SqlLockStore
    audit: SqlAuditStore
    console_logins: SqlConsoleLoginStore
    vectors: SqlVectorStore

    @property
    def sole_use(self) -> SoleUse:
        return self.db.sole_use

    @classmethod
    def over(cls, db: Database) -> SqlStore:
        return cls(
            db,
            SqlSessionStore(db),
            SqlAccountStore(db),
            SqlAuthConfigStore(db),
            SqlExecutionStore(db),
            SqlMemoryStore(db),
            SqlMcpClientStore(db),
            SqlServerMetaStore(db),
            SqlUpstreamStore(db),
            SqlReplicaStore(db),
            SqlLockStore(db),
            SqlAuditStore(db),
            SqlConsoleLoginStore(db),
            SqlVectorStore(db),
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
