"""What the shared stores need from a SQL backend: statements with `?` placeholders, rows read by column
name or index, short all-or-nothing transactions. `sqlite.db.Database` and `postgres.db.Database` provide it,
so one set of store classes (this package) serves both and their behaviour cannot drift apart."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from server.store.interfaces import SoleUse
    from server.store.sql.group_commit import GroupCommit


class Row(Protocol):
    """A result row: `row["column"]`, `row[0]`, unpacking, `dict(row)`."""

    def __getitem__(self, key: Any, /) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...

    def keys(self) -> Iterable[str]: ...


class Transaction(Protocol):
    """The statements of one open transaction (only store code holds one)."""

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Runs one statement; returns how many rows it changed."""
        ...

    async def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> None: ...

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None: ...

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> Sequence[Row]: ...


class Shared:
    """A database other processes may change at any moment (a database server): never sole."""

    held = False
    generation = 0


class Database(Protocol):
    @property
    def sole_use(self) -> SoleUse: ...

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """All-or-nothing: a failure inside rolls back, so nothing is half-written."""
        ...

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> Sequence[Row]:
        """One statement, atomic on its own (with its triggers); returns the rows of a `RETURNING` clause."""
        ...

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None: ...

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> Sequence[Row]: ...

    def snapshot(self) -> AbstractAsyncContextManager[Snapshot]:
        """A read-only view of one consistent moment, for copying a whole database while it serves."""
        ...

    async def reset_counters(self, tables: Iterable[str]) -> None:
        """After rows were written with explicit ids, the next generated id follows the largest one."""
        ...

    async def integrity_problems(self) -> list[str]:
        """What the database's own consistency checks report; empty when sound."""
        ...

    def group_commit(self, insert_sql: str) -> GroupCommit:
        """A writer for an append-only table whose rows are committed in shared batches (the execution log)."""
        ...

    async def close(self) -> None: ...


class Snapshot(Protocol):
    def stream(self, sql: str, batch: int = 1000) -> AsyncIterator[Sequence[Row]]:
        """The rows of one query in batches, without holding them all in memory."""
        ...
