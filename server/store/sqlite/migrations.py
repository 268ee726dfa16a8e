"""The SQLite text of the shared schema (`server/store/sql/migrations.py`).

The version lives in `PRAGMA user_version`."""

from __future__ import annotations

from server.store.sql.migrations import MIGRATIONS as SHARED

MIGRATIONS: list[str] = [m.sqlite for m in SHARED]

SCHEMA_VERSION = len(MIGRATIONS)
