"""The SQLite file: one aiosqlite connection, WAL, foreign keys, migrations applied at open."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite
import anyio

from server.errors import StorageError
from server.store.migrations import MIGRATIONS, SCHEMA_VERSION


def now() -> float:
    return time.time()


async def _connect(path: Path) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = aiosqlite.Row
    await conn.execute("PRAGMA foreign_keys=ON")
    await conn.execute("PRAGMA busy_timeout=5000")
    return conn


class Database:
    """Writes go through one connection, serialised, in short explicit transactions; reads use a second
    connection, so a read never queues behind a write (WAL lets it see every committed row).

    aiosqlite runs every statement on its own thread, so the event loop never blocks on disk.
    """

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self.conn = conn
        self.reader: aiosqlite.Connection | None = None
        self.path = path
        self._write_lock = anyio.Lock()

    @classmethod
    async def open(cls, path: Path, migrations: Sequence[str] = MIGRATIONS) -> Database:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = cls(await _connect(path), path)
        try:
            await db.conn.execute("PRAGMA journal_mode=WAL")
            await db.conn.execute("PRAGMA synchronous=NORMAL")
            await db.migrate(migrations)
            db.reader = await _connect(path)
        except BaseException:
            await db.close()
            raise
        return db

    async def migrate(self, migrations: Sequence[str]) -> None:
        target = len(migrations)
        current = await self.schema_version()
        if current > target:
            raise StorageError(
                f"database {self.path} has schema version {current}, newer than this Concierge "
                f"understands ({target}); upgrade Concierge or point --data-dir elsewhere"
            )
        for version in range(current, target):
            script = f"BEGIN IMMEDIATE;\n{migrations[version]};\nPRAGMA user_version={version + 1};\nCOMMIT;"
            try:
                await self.conn.executescript(script)
            except Exception as exc:
                if self.conn.in_transaction:
                    await self.conn.execute("ROLLBACK")
                raise StorageError(f"database {self.path}: migration to version {version + 1} failed: {exc}") from exc

    async def schema_version(self) -> int:
        async with self.conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """All-or-nothing: a failure inside rolls back, so nothing is half-written."""
        async with self._write_lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            await self.conn.execute("COMMIT")

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        """One statement, atomic on its own (with its triggers), in one trip to the database thread:
        no BEGIN/COMMIT round trips. Returns the rows of a `RETURNING` clause."""
        async with self._write_lock:
            return list(await self.conn.execute_fetchall(sql, tuple(params)))

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        async with (self.reader or self.conn).execute(sql, tuple(params)) as cur:
            return await cur.fetchone()

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        async with (self.reader or self.conn).execute(sql, tuple(params)) as cur:
            return list(await cur.fetchall())

    async def close(self) -> None:
        if self.reader is not None:
            await self.reader.close()
        await self.conn.close()


__all__ = ["Database", "SCHEMA_VERSION", "now"]
