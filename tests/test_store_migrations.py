from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from server.errors import StorageError
from server.store.sqlite.db import Database
from server.store.sqlite.migrations import MIGRATIONS, SCHEMA_VERSION


@pytest.mark.anyio
async def test_fresh_database_gets_every_migration_wal_and_foreign_keys(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "c.db")
    try:
        assert await db.schema_version() == SCHEMA_VERSION
        assert (await db.fetchone("PRAGMA journal_mode"))[0] == "wal"
        assert (await db.fetchone("PRAGMA foreign_keys"))[0] == 1
    finally:
        await db.close()


@pytest.mark.anyio
async def test_v1_database_upgrades_in_place_keeping_rows(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    db = await Database.open(path, MIGRATIONS[:1])
    await db.execute("INSERT INTO sessions VALUES ('sess_x', 'u1', '{}', 1, 1.0, 1.0)")
    await db.close()
    upgrade = [*MIGRATIONS[:1], "ALTER TABLE sessions ADD COLUMN note TEXT DEFAULT 'upgraded'"]
    db = await Database.open(path, upgrade)
    try:
        assert await db.schema_version() == 2
        row = await db.fetchone("SELECT user_id, note FROM sessions WHERE id = 'sess_x'")
        assert tuple(row) == ("u1", "upgraded")
    finally:
        await db.close()


@pytest.mark.anyio
async def test_failed_migration_leaves_the_database_at_its_old_version(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    await (await Database.open(path, MIGRATIONS[:1])).close()
    broken = [*MIGRATIONS[:1], "CREATE TABLE half (x INTEGER); THIS IS NOT SQL"]
    with pytest.raises(StorageError, match="migration to version 2 failed"):
        await Database.open(path, broken)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'half'").fetchone() is None


@pytest.mark.anyio
async def test_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(StorageError, match="newer than this Concierge"):
        await Database.open(path)
