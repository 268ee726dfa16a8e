"""`concierge db copy`: every table from one database URL to another (SQLite ⇄ PostgreSQL), in one
transaction on the target, read from one consistent snapshot of the source, checked by row counts.

Values are copied as stored: encrypted columns stay sealed under the same key, so the target serves
with the source's `encryption_key` (or its data folder's `secret.key`).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import anyio

from server.errors import Conflict, InvalidInput, StorageError
from server.store import open_database, sqlite_path
from server.store.sql.database import Database
from server.store.sql.migrations import NOT_COPIED, TABLES


def describe(url: str) -> str:
    """The URL without a password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


async def _counts(db: Database) -> dict[str, int]:
    counts = {}
    for table in TABLES:
        row = await db.fetchone(f"SELECT COUNT(*) FROM {table}")
        counts[table] = int(row[0]) if row else 0
    return counts


async def copy_database(
    source_url: str, target_url: str, *, force: bool = False, progress: Callable[[str], None] = print
) -> dict[str, int]:
    """Rows copied per table. Refuses a target that holds rows unless `force` (then they are replaced)."""
    if source_url == target_url:
        raise InvalidInput("--from and --to name the same database")
    path = sqlite_path(source_url)
    if path is not None and not await anyio.Path(path).is_file():  # opening it would create one
        raise InvalidInput(f"--from: there is no database at {path}")
    source = await open_database(source_url)
    try:
        if not any((await _counts(source)).values()):
            raise InvalidInput(f"--from: {describe(source_url)} holds no rows; nothing to copy (is it the right one?)")
        target = await open_database(target_url)
        try:
            present = {t: n for t, n in (await _counts(target)).items() if n}
            if present and not force:
                held = ", ".join(f"{t} ({n})" for t, n in present.items())
                raise Conflict(
                    f"{describe(target_url)} already holds rows in {held}; copy into an empty database, "
                    "or pass --force to replace them"
                )
            copied = await _copy(source, target, progress)
            await target.reset_counters(TABLES)
            found = await _counts(target)
            wrong = [f"{t}: copied {copied[t]}, found {found[t]}" for t in TABLES if found[t] != copied[t]]
            if wrong:
                raise StorageError(f"row counts differ after the copy: {'; '.join(wrong)}")
            progress(f"verified: {sum(copied.values())} rows in {len(TABLES)} tables match")
            return copied
        finally:
            await target.close()
    finally:
        await source.close()


async def _copy(source: Database, target: Database, progress: Callable[[str], None]) -> dict[str, int]:
    copied: dict[str, int] = {}
    async with source.snapshot() as snapshot, target.transaction() as tx:
        for table in (*NOT_COPIED, *reversed(TABLES)):  # children first, so no foreign key stands in the way
            await tx.execute(f"DELETE FROM {table}")
        for table in TABLES:
            # rows the target's own triggers wrote while the tables before were copied (config history)
            await tx.execute(f"DELETE FROM {table}")
            count = 0
            async for batch in snapshot.stream(f"SELECT * FROM {table}"):
                names = list(batch[0].keys())
                insert = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
                await tx.executemany(insert, [tuple(row) for row in batch])
                count += len(batch)
            copied[table] = count
            progress(f"{table}: {count} rows")
    return copied
