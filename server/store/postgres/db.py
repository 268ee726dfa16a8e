"""PostgreSQL through an asyncpg connection pool: the `server.store.sql.database.Database` shape, so the
shared store classes run on it unchanged.

Statements are written once with `?` placeholders (`server/store/sql/`); they are numbered `$1, $2, …`
here, once per statement text. Driver types and exceptions stay in this package.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from server.errors import StorageError
from server.store.errors import AlreadyExists, ReferenceMissing
from server.store.options import PoolSettings
from server.store.sql.database import Row, Shared
from server.store.sql.group_commit import AsyncGroupCommit
from server.store.sql.migrations import MIGRATIONS as SHARED
from server.store.sql.migrations import TABLES

MIGRATIONS: list[str] = [m.postgres for m in SHARED]
SCHEMA_VERSION = len(MIGRATIONS)
# pg_advisory_xact_lock key that serialises migrations when several replicas start at once
MIGRATION_LOCK = 0x636F6E63  # "conc"


@functools.lru_cache(maxsize=1024)
def numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1, $2, …` (none of the store's statements quote a `?`)."""
    parts = sql.split("?")
    out = [parts[0]]
    for n, part in enumerate(parts[1:], 1):
        out.append(f"${n}{part}")
    return "".join(out)


def display(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


# The connection died under a statement (server restarted, backend terminated, network gone); the pool
# replaces it, so a read is tried once more on a fresh connection.
LOST = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
)


class ConnectionLost(StorageError):
    """A statement's connection died; whether a write took effect is unknown."""


def _neutral(exc: asyncpg.IntegrityConstraintViolationError) -> Exception:
    """A constraint failure as the storage-neutral error it means."""
    if isinstance(exc, asyncpg.ForeignKeyViolationError):
        return ReferenceMissing("a row this write refers to no longer exists (it was deleted meanwhile)")
    if isinstance(exc, asyncpg.UniqueViolationError):
        return AlreadyExists(f"already exists ({exc.constraint_name or exc.detail or exc})")
    return StorageError(f"the database refused a write: {exc}")


def _changed(status: str) -> int:
    """Rows a command changed, from its status tag (`UPDATE 3`, `INSERT 0 1`, `DELETE 0`)."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class Transaction:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        try:
            return _changed(await self._conn.execute(numbered(sql), *params))
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise _neutral(exc) from None

    async def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> None:
        try:
            await self._conn.executemany(numbered(sql), [tuple(r) for r in rows])
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise _neutral(exc) from None

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        row: Row | None = await self._conn.fetchrow(numbered(sql), *params)
        return row

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        return list(await self._conn.fetch(numbered(sql), *params))


class Snapshot:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def stream(self, sql: str, batch: int = 1000) -> AsyncIterator[list[Row]]:
        cursor = await self._conn.cursor(numbered(sql))
        while rows := await cursor.fetch(batch):
            yield list(rows)


class Database:
    """A bounded pool; every statement outside `transaction()` commits on its own. Concurrent writers are
    PostgreSQL's business (row locks, READ COMMITTED): the stores' compare-and-set statements stay correct."""

    def __init__(self, pool: asyncpg.Pool, url: str, settings: PoolSettings) -> None:
        self.pool = pool
        self.url = url
        self.settings = settings
        self.sole_use = Shared()

    @classmethod
    async def open(
        cls, url: str, settings: PoolSettings | None = None, migrations: Sequence[str] = MIGRATIONS
    ) -> Database:
        settings = settings or PoolSettings()
        try:
            pool = await asyncpg.create_pool(
                url,
                min_size=settings.min_size,
                max_size=settings.max_size,
                timeout=settings.connect_timeout_seconds,
                server_settings={"application_name": "concierge"},
            )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StorageError(
                f"cannot connect to {display(url)}: {exc}; check database_url and that PostgreSQL is running"
            ) from None
        db = cls(pool, url, settings)
        try:
            await db.migrate(migrations)
        except BaseException:
            await db.close()
            raise
        return db

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        try:
            conn = await self.pool.acquire(timeout=self.settings.acquire_timeout_seconds)
        except (OSError, TimeoutError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError) as exc:
            raise StorageError(
                f"no connection to {display(self.url)} within {self.settings.acquire_timeout_seconds:g} s ({exc!r}); "
                "PostgreSQL is down or the pool (database_pool.max_size) is exhausted"
            ) from None
        try:
            yield conn
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise _neutral(exc) from None
        except LOST as exc:
            raise ConnectionLost(
                f"lost the connection to {display(self.url)} ({type(exc).__name__}: {exc}); "
                "PostgreSQL restarted or went away"
            ) from None
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StorageError(f"PostgreSQL at {display(self.url)} refused: {exc}") from None
        finally:
            await self.pool.release(conn)

    async def migrate(self, migrations: Sequence[str]) -> None:
        """One version per transaction, under an advisory lock so replicas starting together take turns."""
        target = len(migrations)
        async with self._connection() as conn:
            while True:
                async with conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
                    await conn.execute(
                        "CREATE TABLE IF NOT EXISTS schema_migrations "
                        "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
                    )
                    current = await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
                    if current > target:
                        raise StorageError(
                            f"database {display(self.url)} has schema version {current}, newer than this "
                            f"Concierge understands ({target}); upgrade Concierge or point database_url elsewhere"
                        )
                    if current == target:
                        return
                    try:
                        await conn.execute(migrations[current])
                    except asyncpg.PostgresError as exc:
                        raise StorageError(
                            f"database {display(self.url)}: migration to version {current + 1} failed: {exc}"
                        ) from None
                    await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", current + 1)

    async def schema_version(self) -> int:
        async with self._connection() as conn:
            return int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self._connection() as conn, conn.transaction():
            yield Transaction(conn)

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        """Not retried when the connection dies: the write may have committed."""
        async with self._connection() as conn:
            return list(await conn.fetch(numbered(sql), *params))

    async def _read(self, method: str, sql: str, params: Iterable[Any]) -> Any:
        args = (numbered(sql), *params)
        try:
            async with self._connection() as conn:
                return await getattr(conn, method)(*args)
        except ConnectionLost:
            async with self._connection() as conn:
                return await getattr(conn, method)(*args)

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        row: Row | None = await self._read("fetchrow", sql, params)
        return row

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        return list(await self._read("fetch", sql, params))

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Snapshot]:
        async with self._connection() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            yield Snapshot(conn)

    async def reset_counters(self, tables: Iterable[str]) -> None:
        async with self._connection() as conn:
            identities = await conn.fetch(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND is_identity = 'YES' AND table_name = ANY($1::text[])",
                list(tables),
            )
            for table, column in identities:
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                    f"COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
                )

    async def integrity_problems(self) -> list[str]:
        """PostgreSQL checks constraints on every write; what can still be wrong is a missing table, a
        constraint left unvalidated or an index left invalid (an interrupted concurrent build)."""
        async with self._connection() as conn:
            present = {
                r[0]
                for r in await conn.fetch(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
                )
            }
            problems = [f"table missing: {t}" for t in TABLES if t not in present]
            problems += [
                f"constraint not validated: {r[0]} on {r[1]}"
                for r in await conn.fetch(
                    "SELECT conname, conrelid::regclass::text FROM pg_constraint "
                    "WHERE NOT convalidated AND connamespace = current_schema()::regnamespace"
                )
            ]
            problems += [
                f"index invalid: {r[0]}"
                for r in await conn.fetch(
                    "SELECT i.indexrelid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
                    "WHERE NOT (i.indisvalid AND i.indisready) AND c.relnamespace = current_schema()::regnamespace"
                )
            ]
        return problems

    def group_commit(self, insert_sql: str) -> AsyncGroupCommit:
        return AsyncGroupCommit(self, insert_sql)

    async def close(self) -> None:
        await self.pool.close()


__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Database", "Snapshot", "Transaction"]
