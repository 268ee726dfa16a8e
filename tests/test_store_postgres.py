"""The PostgreSQL backend's own promises, beyond the shared contract (tests/test_store_contract.py): the
schema matches SQLite's version by version, migrations are versioned and refused when newer, replicas
starting together migrate once, and driver failures arrive as storage-neutral errors."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import asyncpg
import pytest

import tests.postgres
from server.errors import StorageError
from server.store import PoolSettings, open_store
from server.store.postgres.db import SCHEMA_VERSION, Database, numbered
from server.store.records import ExecutionRow, now
from server.store.sql.migrations import MIGRATIONS, NOT_COPIED, TABLES
from server.store.sqlite.db import Database as SqliteDatabase
from tests.postgres import new_database

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


async def _pg_columns(url: str) -> dict[str, list[str]]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name <> 'schema_migrations' ORDER BY table_name, ordinal_position")
    finally:
        await conn.close()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


def _sqlite_columns(path: Path) -> dict[str, list[str]]:
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")] for t in tables}
    finally:
        conn.close()


async def test_both_dialects_build_the_same_tables_and_columns_at_every_version(tmp_path: Path) -> None:
    """Upgraded in place one version at a time, as an old installation is."""
    assert all(m.sqlite.strip() and m.postgres.strip() for m in MIGRATIONS)
    path, url = tmp_path / "c.db", new_database()
    for version in range(1, len(MIGRATIONS) + 1):
        await (await SqliteDatabase.open(path, [m.sqlite for m in MIGRATIONS[:version]])).close()
        pg = await Database.open(url, migrations=[m.postgres for m in MIGRATIONS[:version]])
        assert await pg.schema_version() == version
        await pg.close()
        assert await _pg_columns(url) == _sqlite_columns(path), f"the dialects differ at version {version}"
    assert set(_sqlite_columns(path)) == {*TABLES, *NOT_COPIED}, "a new table is copied (TABLES) or said not to be"
    assert not set(TABLES) & set(NOT_COPIED)


async def test_upgrade_in_place_failed_migration_and_newer_database() -> None:
    url = new_database()
    first = [MIGRATIONS[0].postgres]
    db = await Database.open(url, migrations=first)
    await db.execute("INSERT INTO sessions VALUES ('sess_x', 'u1', '{}', 1, 1.0, 1.0)")
    await db.close()
    with pytest.raises(StorageError, match="migration to version 2 failed"):
        await Database.open(url, migrations=[*first, "CREATE TABLE half (x INTEGER); THIS IS NOT SQL"])
    db = await Database.open(url, migrations=[*first, "ALTER TABLE sessions ADD COLUMN note TEXT DEFAULT 'upgraded'"])
    try:
        assert await db.schema_version() == 2
        assert await db.fetchone("SELECT to_regclass('half')") == (None,), "the failed version left nothing behind"
        row = await db.fetchone("SELECT user_id, note FROM sessions WHERE id = ?", ("sess_x",))
        assert row is not None and tuple(row) == ("u1", "upgraded")
        await db.execute("INSERT INTO schema_migrations (version) VALUES (?)", (SCHEMA_VERSION + 5,))
    finally:
        await db.close()
    with pytest.raises(StorageError, match="newer than this Concierge understands"):
        await open_store(url)


async def test_replicas_starting_together_migrate_once_and_share_commits() -> None:
    url = new_database()
    stores = await asyncio.gather(*(open_store(url) for _ in range(4)))
    try:
        row = ExecutionRow("log_1", "sess_a", "u1", "MATH_EVALUATE", "math", None, "sha256:x", "success", None, now(),
                           0.5, "mcp")
        await stores[0].executions.record(row)
        assert await stores[1].executions.get("log_1") == row, "record() returned, so another process sees it"
        await stores[0].sessions.insert("sess_a", "u1", {})
        racing = await asyncio.gather(*(s.sessions.update("sess_a", {"n": i}, expected_version=1)
                                        for i, s in enumerate(stores)), return_exceptions=True)
        assert sum(not isinstance(r, BaseException) for r in racing) == 1, racing
    finally:
        for store in stores:
            await store.aclose()


async def test_unreachable_server_and_exhausted_pool_are_storage_errors() -> None:
    with pytest.raises(StorageError, match="cannot connect to postgresql://nobody@127.0.0.1:1/x") as raised:
        await open_store("postgresql://nobody:hunter2@127.0.0.1:1/x", PoolSettings(connect_timeout_seconds=2))
    assert "hunter2" not in str(raised.value), "the password never reaches a message"
    db = await Database.open(new_database(), PoolSettings(min_size=1, max_size=1, acquire_timeout_seconds=0.2))
    try:
        async with db.transaction() as tx:
            await tx.execute("SELECT 1")
            with pytest.raises(StorageError, match="pool .* is exhausted"):
                await db.fetchone("SELECT 1")
    finally:
        await db.close()


async def test_terminated_connections_cost_a_read_nothing_and_a_write_one_clear_error() -> None:
    url = new_database()
    db = await Database.open(url, PoolSettings(min_size=1, max_size=1))
    admin = await asyncpg.connect(url)

    async def terminate(running: bool) -> None:
        """Ends the pool's one connection; `running`: once it is busy with a statement."""
        for _ in range(1000 if running else 0):
            if await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                    "AND pid <> pg_backend_pid() AND state = 'active'"):
                break
            await asyncio.sleep(0.02)
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        assert killed == 1

    try:
        await db.execute("CREATE TABLE t (x INTEGER)")
        await terminate(running=False)
        await asyncio.sleep(0.3)  # idle: the driver sees the socket close, the pool connects again
        await db.execute("INSERT INTO t VALUES (1)")
        read = asyncio.create_task(db.fetchone("SELECT pg_sleep(0.5), COUNT(*) FROM t"))
        await terminate(running=True)  # under a read: it runs again on a fresh connection
        row = await read
        assert row is not None and row[1] == 1
        write = asyncio.create_task(db.execute("INSERT INTO t SELECT 2 FROM pg_sleep(5)"))
        await terminate(running=True)  # under a write: one clear error, never a driver exception
        with pytest.raises(StorageError, match="lost the connection to postgresql://postgres@"):
            await write
        assert await db.fetchone("SELECT COUNT(*) FROM t") == (1,)
    finally:
        await admin.close()
        await db.close()


async def test_integrity_problems_name_what_is_wrong() -> None:
    url = new_database()
    store = await open_store(url)
    try:
        assert await store.integrity_problems() == []
        admin = await asyncpg.connect(url)
        try:
            await admin.execute("ALTER TABLE sessions ADD CONSTRAINT positive CHECK (config_version > 0) NOT VALID")
            await admin.execute("DROP TABLE upstreams")
        finally:
            await admin.close()
        assert sorted(await store.integrity_problems()) == ["constraint not validated: positive on sessions",
                                                            "table missing: upstreams"]
    finally:
        await store.aclose()


def test_without_postgresql_its_tests_fail_naming_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tests.postgres, "_bindir", lambda: None)
    with pytest.raises(pytest.fail.Exception, match="run `apt-get install postgresql`"):
        tests.postgres.Cluster()


def test_placeholders_are_numbered_in_order() -> None:
    assert numbered("UPDATE t SET a = ?, b = ? WHERE id = ? AND s IN (?, ?)") == \
        "UPDATE t SET a = $1, b = $2 WHERE id = $3 AND s IN ($4, $5)"
    assert numbered("SELECT 1") == "SELECT 1"
