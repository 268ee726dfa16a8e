"""The SQLite file: one aiosqlite connection, WAL, foreign keys, migrations applied at open.

Driver types stay in this package: callers get rows (`sqlite3.Row`, read by column name or index)
and store-neutral errors (`server.store.errors`), never a connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite
import anyio

from server.errors import StorageError
from server.store.errors import AlreadyExists, ReferenceMissing
from server.store.records import now
from server.store.sqlite.group_commit import GroupCommitWriter
from server.store.sqlite.migrations import MIGRATIONS, SCHEMA_VERSION
from server.store.sqlite.sole_use import SoleUse

Row = sqlite3.Row


async def _connect(path: Path) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = aiosqlite.Row
    await conn.execute("PRAGMA foreign_keys=ON")
    await conn.execute("PRAGMA busy_timeout=5000")
    return conn


def _neutral(exc: sqlite3.IntegrityError) -> Exception:
    """A constraint failure as the storage-neutral error it means."""
    text = str(exc)
    if "FOREIGN KEY" in text:
        return ReferenceMissing("a row this write refers to no longer exists (it was deleted meanwhile)")
    if "UNIQUE" in text or "PRIMARY KEY" in text:
        return AlreadyExists(f"already exists ({text.split(':', 1)[-1].strip()})")
    return StorageError(f"the database refused a write: {text}")


def neutral_error(exc: sqlite3.Error) -> Exception:
    """A constraint failure as its storage-neutral error; any other database error as it is."""
    return _neutral(exc) if isinstance(exc, sqlite3.IntegrityError) else exc


class Transaction:
    """The statements of one open transaction (only store code holds one)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Runs one statement; returns how many rows it changed."""
        try:
            async with self._conn.execute(sql, tuple(params)) as cur:
                return cur.rowcount
        except sqlite3.IntegrityError as exc:
            raise _neutral(exc) from None

    async def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> None:
        try:
            await self._conn.executemany(sql, [tuple(r) for r in rows])
        except sqlite3.IntegrityError as exc:
            raise _neutral(exc) from None

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        async with self._conn.execute(sql, tuple(params)) as cur:
            return await cur.fetchone()

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        async with self._conn.execute(sql, tuple(params)) as cur:
            return list(await cur.fetchall())


class Snapshot:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def stream(self, sql: str, batch: int = 1000) -> AsyncIterator[list[Row]]:
        async with self._conn.execute(sql) as cur:
            while rows := list(await cur.fetchmany(batch)):
                yield rows


class Database:
    """Writes go through one connection, serialised, in short explicit transactions; reads use a second
    connection, so a read never queues behind a write (WAL lets it see every committed row).

    aiosqlite runs every statement on its own thread, so the event loop never blocks on disk.
    """

    def __init__(self, conn: aiosqlite.Connection, path: Path, sole_use: SoleUse) -> None:
        self.conn = conn
        self.reader: aiosqlite.Connection | None = None
        self.path = path
        self.sole_use = sole_use
        self._write_lock = anyio.Lock()

    @classmethod
    async def open(cls, path: Path, migrations: Sequence[str] = MIGRATIONS) -> Database:
        path.parent.mkdir(parents=True, exist_ok=True)
        sole_use = await SoleUse.for_database(path)
        try:
            db = cls(await _connect(path), path, sole_use)
        except BaseException:
            await sole_use.release()
            raise
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
                if await self.schema_version() > version:  # another process sharing the file got there first
                    continue
                raise StorageError(f"database {self.path}: migration to version {version + 1} failed: {exc}") from exc

    async def schema_version(self) -> int:
        async with self.conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """All-or-nothing: a failure inside rolls back, so nothing is half-written."""
        async with self._write_lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield Transaction(self.conn)
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            await self.conn.execute("COMMIT")

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        """One statement, atomic on its own (with its triggers), in one trip to the database thread:
        no BEGIN/COMMIT round trips. Returns the rows of a `RETURNING` clause."""
        async with self._write_lock:
            try:
                return list(await self.conn.execute_fetchall(sql, tuple(params)))
            except sqlite3.IntegrityError as exc:
                raise _neutral(exc) from None

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        """One trip to the database thread (execute, fetch and close together): reads are on every call's path."""
        rows = await (self.reader or self.conn).execute_fetchall(sql, tuple(params))
        return next(iter(rows), None)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        return list(await (self.reader or self.conn).execute_fetchall(sql, tuple(params)))

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Snapshot]:
        """Its own connection in one read transaction: every query sees the same committed state (WAL)."""
        conn = await _connect(self.path)
        try:
            await conn.execute("BEGIN")
            yield Snapshot(conn)
            await conn.execute("COMMIT")
        finally:
            await conn.close()

    async def reset_counters(self, tables: Iterable[str]) -> None:
        """Nothing to do: an AUTOINCREMENT table's counter follows explicit ids on its own."""

    def group_commit(self, insert_sql: str) -> GroupCommitWriter:
        """On a writer thread with its own connection: one hand-off per row, no lock on the event loop."""
        return GroupCommitWriter(self.path, insert_sql, neutral_error)

    async def integrity_problems(self) -> list[str]:
        rows = await self.fetchall("PRAGMA integrity_check")
        problems = [str(r[0]) for r in rows if r[0] != "ok"]
        problems += [f"foreign key broken: {tuple(r)}" for r in await self.fetchall("PRAGMA foreign_key_check")]
        return problems

    async def close(self) -> None:
        try:
            if self.reader is not None:
                await self.reader.close()
            await self.conn.close()
        finally:
            await self.sole_use.release()


__all__ = ["Database", "Row", "SCHEMA_VERSION", "Snapshot", "Transaction", "now"]
