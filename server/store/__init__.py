"""Storage behind one seam: services see only `server.store.interfaces`; `open_store` picks the
backend from the database URL, so a new backend is a new subpackage plus one branch here."""

from __future__ import annotations

from pathlib import Path

from server.errors import ConfigError
from server.store.interfaces import Store


async def open_store(url: str) -> Store:
    """`sqlite:///relative.db` or `sqlite:////absolute/path.db` (the default: the data folder's file)."""
    scheme, _, rest = url.partition("://")
    if scheme == "sqlite" and rest.startswith("/"):
        from server.store.sqlite import SqliteStore

        return await SqliteStore.open(Path(rest[1:]))
    raise ConfigError(f"unsupported database URL scheme {scheme!r}: expected sqlite:///<path>")


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.absolute()}"


__all__ = ["Store", "open_store", "sqlite_url"]
