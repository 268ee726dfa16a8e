"""Storage behind one seam: services see only `server.store.interfaces`; `open_store` picks the
backend from the database URL, so a new backend is a new subpackage plus one branch here."""

from __future__ import annotations

from pathlib import Path

from server.errors import ConfigError
from server.store.interfaces import Store
from server.store.options import PoolSettings
from server.store.sql.database import Database
from server.store.sql.store import SqlStore


async def open_database(url: str, pool: PoolSettings | None = None) -> Database:
    """`sqlite:///relative.db` or `sqlite:////absolute/path.db` (the default: the data folder's file), or
    `postgresql://user:password@host:port/database` (`pool` bounds its connection pool). Migrated to the
    code's schema version on open."""
    path = sqlite_path(url)
    if path is not None:
        from server.store.sqlite.db import Database as SqliteDatabase

        return await SqliteDatabase.open(path)
    scheme = url.partition("://")[0]
    if scheme in ("postgresql", "postgres"):
        from server.store.postgres.db import Database as PostgresDatabase

        return await PostgresDatabase.open(url, pool)
    raise ConfigError(
        f"unsupported database URL scheme {scheme!r}: expected sqlite:///<path> or postgresql://<user>@<host>/<db>"
    )


async def open_store(url: str, pool: PoolSettings | None = None) -> Store:
    return SqlStore.over(await open_database(url, pool))


def sqlite_path(url: str) -> Path | None:
    """The file a `sqlite:///` URL names; None for any other URL."""
    scheme, _, rest = url.partition("://")
    return Path(rest[1:]) if scheme == "sqlite" and rest.startswith("/") else None


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.absolute()}"


__all__ = ["PoolSettings", "Store", "open_store", "sqlite_path", "sqlite_url"]
