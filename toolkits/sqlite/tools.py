"""SQLite tools: find databases, list tables, describe a table and run SQL, inside one sandbox folder.

Every database path is resolved (symlinks included) and must stay under `<data_dir>/sqlite`, and
ATTACH / VACUUM INTO are disabled, so SQL cannot reach other files. Connections are read-only
(`mode=ro`) unless the operator sets `toolkit_settings.sqlite.allow_write`; then every user works in
a folder of their own (`sqlite/users/<hash of the user id>`), and no user can list, read or drop
another's databases (the `users` folder is never visible in the shared, read-only part).

One call is bounded in time and memory, read-only or not: a deadline (a timer interrupting the
connection), SQLite's own limits on value length, columns, SQL length and expression depth (so
`randomblob(900000000)` fails at once instead of allocating it), a row cap and a cap on the bytes of
the result, and at most `_MAX_CONCURRENT` queries at once in the whole server.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from functools import partial
from pathlib import Path, PurePath
from typing import Any, TypeVar

from server.errors import ToolError
from server.values import ToolContext

T = TypeVar("T")
DEFAULT_MAX_ROWS = 1000  # hard cap; `toolkit_settings.sqlite.max_rows` overrides
DEFAULT_TIMEOUT = 10.0  # seconds per call; `toolkit_settings.sqlite.query_timeout` overrides
DEFAULT_MAX_RESULT_BYTES = 2_000_000  # `toolkit_settings.sqlite.max_result_bytes` overrides
MAX_BLOB_BYTES = 1024
MAX_TEXT_CHARS = 20_000  # per cell; longer text is cut with a marker
SQLITE_HEADER = b"SQLite format 3\x00"
USERS_FOLDER = "users"
_LIMITS = {  # SQLite's own ceilings for one connection: bounded memory per value, row and statement
    sqlite3.SQLITE_LIMIT_LENGTH: 1_000_000,
    sqlite3.SQLITE_LIMIT_SQL_LENGTH: 100_000,
    sqlite3.SQLITE_LIMIT_COLUMN: 200,
    sqlite3.SQLITE_LIMIT_EXPR_DEPTH: 100,
    sqlite3.SQLITE_LIMIT_COMPOUND_SELECT: 50,
    sqlite3.SQLITE_LIMIT_FUNCTION_ARG: 100,
    sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH: 10_000,
    sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER: 1000,
    sqlite3.SQLITE_LIMIT_TRIGGER_DEPTH: 10,
    sqlite3.SQLITE_LIMIT_ATTACHED: 0,  # no ATTACH, no VACUUM INTO: SQL cannot reach other files
}
_MAX_CONCURRENT = max(2, (os.cpu_count() or 2) // 2)  # heavy queries leave the event loop a core


def _lower_priority() -> None:
    """Query threads run below the event loop (Linux nice is per thread): a heavy query from one
    session must not take the CPU from other sessions' calls."""
    with suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


_POOL = ThreadPoolExecutor(_MAX_CONCURRENT, thread_name_prefix="sqlite-tool", initializer=_lower_priority)
_running = threading.BoundedSemaphore(_MAX_CONCURRENT)


async def _in_pool(job: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(_POOL, job)


def _shared(ctx: ToolContext) -> Path:
    return (ctx.data_dir / "sqlite").resolve()


def _own(ctx: ToolContext) -> Path | None:
    """The user's private, writable folder when the operator allows writes (else None)."""
    if not _settings(ctx)[0]:
        return None
    return _shared(ctx) / USERS_FOLDER / hashlib.sha256(ctx.user_id.encode()).hexdigest()[:32]


def _inside(base: Path, database: str, *, shared: bool) -> Path:
    """Resolve a user-given path and refuse anything that lands outside `base` (or in others' folders)."""
    if "\x00" in database:
        raise ToolError("A database path may not contain a NUL character.", details={"database": database[:200]})
    if ".." in PurePath(database).parts:
        raise ToolError("Database paths may not contain '..'; give a path inside the SQLite data folder, "
                        "e.g. 'sales.db' (SQLITE_LIST_DATABASES shows them).", details={"database": database})
    resolved = (base / database).resolve()
    if not resolved.is_relative_to(base) or (shared and resolved.relative_to(base).parts[:1] == (USERS_FOLDER,)):
        raise ToolError("That path is outside the SQLite data folder; only databases listed by "
                        "SQLITE_LIST_DATABASES can be opened.", details={"database": database})
    return resolved


def _database_path(ctx: ToolContext, database: str, create: bool = False) -> tuple[Path, bool]:
    """(path, writable): the user's own database when it exists or is to be created, else a shared one."""
    own = _own(ctx)
    if own is not None:
        mine = _inside(own, database, shared=False)
        if create or mine.exists():
            return mine, True
    return _inside(_shared(ctx), database, shared=True), False


def _max_result_bytes(ctx: ToolContext) -> int:
    return int(ctx.settings.get("max_result_bytes", DEFAULT_MAX_RESULT_BYTES))


def _settings(ctx: ToolContext) -> tuple[bool, int, float]:
    return (bool(ctx.settings.get("allow_write", False)), int(ctx.settings.get("max_rows", DEFAULT_MAX_ROWS)),
            float(ctx.settings.get("query_timeout", DEFAULT_TIMEOUT)))


def _connect(path: Path, writable: bool, timeout: float, create: bool = False) -> sqlite3.Connection:
    """Open with a URI so read-only is enforced by SQLite itself, then close the escape hatches."""
    if path.exists() and not path.is_file():
        raise ToolError("That path is a folder, not a database file.", details={"database": path.name})
    if not path.exists() and not (writable and create):
        hint = " or pass create_if_missing to make a new one" if writable else ""
        raise ToolError(f"No database {path.name!r} in the SQLite data folder; SQLITE_LIST_DATABASES lists "
                        f"them{hint}.", details={"database": path.name})
    mode = ("rwc" if create else "rw") if writable else "ro"
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode={mode}", uri=True, timeout=min(timeout, 5.0),
                               check_same_thread=False)
    except sqlite3.Error as exc:
        raise ToolError(f"Could not open the database: {exc}.", details={"database": path.name}) from None
    for limit, value in _LIMITS.items():
        conn.setlimit(limit, value)
    return conn


@contextmanager
def _opened(path: Path, writable: bool, timeout: float, create: bool = False) -> Iterator[sqlite3.Connection]:
    """A connection for one call: SQLite errors become one clear ToolError, and it is always closed."""
    with _running:
        conn = _connect(path, writable, timeout, create)
        # The deadline is a timer calling interrupt() (thread-safe), not a progress handler: a Python
        # callback every few thousand SQLite instructions would take the GIL from the event loop.
        deadline = threading.Timer(timeout, conn.interrupt)
        deadline.daemon = True
        deadline.start()
        try:
            yield conn
        except sqlite3.Error as exc:
            raise _sql_error(exc, writable, timeout) from None
        except (OverflowError, ValueError) as exc:  # e.g. an integer parameter SQLite cannot hold, a NUL in SQL
            raise ToolError(f"SQLite refused the statement or its parameters: {exc}.",
                            details={"error": type(exc).__name__}) from None
        finally:
            deadline.cancel()
            conn.close()


def _cell(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"blob_base64": base64.b64encode(value[:MAX_BLOB_BYTES]).decode(), "size": len(value),
                "truncated": len(value) > MAX_BLOB_BYTES}
    if isinstance(value, str) and len(value) > MAX_TEXT_CHARS:
        return value[:MAX_TEXT_CHARS] + f"…[truncated: {len(value):,} chars]"
    return value


def _cell_bytes(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes) else 8


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _sql_error(exc: sqlite3.Error, writable: bool, timeout: float) -> ToolError:
    """Turn SQLite's errors into messages that say what to do next."""
    message = str(exc).rstrip(".")
    if message == "interrupted":
        return ToolError(f"The query ran longer than {timeout:g}s and was stopped; add a WHERE clause or LIMIT.",
                         details={"timeout_seconds": timeout})
    if "readonly" in message or getattr(exc, "sqlite_errorname", "") == "SQLITE_READONLY":
        return ToolError("This database is read-only, so INSERT/UPDATE/DELETE/CREATE are refused. Shared databases "
                         "always are; when the operator sets toolkit_settings.sqlite.allow_write = true, each user "
                         "can create and change databases of their own (create_if_missing).",
                         details={"writable": writable})
    if "too many attached" in message:
        return ToolError("ATTACH and VACUUM INTO are disabled: only the chosen database can be used.", details={})
    if "too big" in message or "too many" in message or "too long" in message or "too large" in message:
        length, columns = _LIMITS[sqlite3.SQLITE_LIMIT_LENGTH], _LIMITS[sqlite3.SQLITE_LIMIT_COLUMN]
        return ToolError(f"SQLite error: {message}: this server limits values to {length:,} bytes, results to "
                         f"{columns} columns and SQL to {_LIMITS[sqlite3.SQLITE_LIMIT_SQL_LENGTH]:,} characters; "
                         "aggregate or select less.", details={"error": type(exc).__name__})
    return ToolError(f"SQLite error: {message}.", details={"error": type(exc).__name__})


def _table_names(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    rows = conn.execute("SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') "
                        "AND name NOT LIKE 'sqlite_%' ORDER BY name").fetchall()
    return [(str(name), str(kind)) for name, kind in rows]


# ---------------------------------------------------------------------------------------------
# Handlers (the blocking part of each runs in a worker thread)
# ---------------------------------------------------------------------------------------------

def _list_databases(base: Path, limit: int) -> list[dict[str, Any]]:
    """SQLite files under `base`, never inside a `users` folder at its top (other users' databases)."""
    found: list[dict[str, Any]] = []
    if not base.is_dir():
        return found
    for path in sorted(base.rglob("*")):
        if len(found) >= limit:
            break
        real = path.resolve()
        if not path.is_file() or not real.is_relative_to(base) or real.relative_to(base).parts[0] == USERS_FOLDER:
            continue
        try:
            with path.open("rb") as handle:
                if handle.read(16) != SQLITE_HEADER:
                    continue
            stat = path.stat()
        except OSError:  # unreadable files are simply not offered
            continue
        found.append({"database": path.relative_to(base).as_posix(), "size_bytes": stat.st_size,
                      "modified": datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(timespec="seconds")})
    return found


async def list_databases(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """SQLite files available in the sandbox folder."""
    writable = _settings(ctx)[0]
    found = await _in_pool(partial(_list_databases, _shared(ctx), 500))
    for entry in found:
        entry["writable"] = False
    own = _own(ctx)
    if own is not None:
        mine = await _in_pool(partial(_list_databases, own, 500))
        found = [*({**entry, "writable": True} for entry in mine), *found][:500]
    return {"databases": found, "count": len(found), "writable": writable}


def _list_tables(path: Path, timeout: float) -> list[dict[str, Any]]:
    with _opened(path, False, timeout) as conn:
        tables = []
        for name, kind in _table_names(conn):
            entry: dict[str, Any] = {"name": name, "type": kind}
            if kind == "table":
                entry["row_count"] = conn.execute(f"SELECT count(*) FROM {_quote(name)}").fetchone()[0]
            tables.append(entry)
        return tables


async def list_tables(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Tables and views of one database, with row counts."""
    path, _ = _database_path(ctx, str(arguments["database"]))
    timeout = _settings(ctx)[2]
    tables = await _in_pool(partial(_list_tables, path, timeout))
    return {"database": arguments["database"], "tables": tables, "count": len(tables)}


def _describe(path: Path, table: str, sample: int, timeout: float) -> dict[str, Any]:
    with _opened(path, False, timeout) as conn:
        names = dict(_table_names(conn))
        if table not in names:
            matches = [n for n in names if n.lower() == table.lower()]
            if not matches:
                raise ToolError(f"No table or view named {table!r}.", details={"tables": sorted(names)})
            table = matches[0]
        columns = [
            {"name": r[1], "type": r[2], "not_null": bool(r[3]), "default": r[4], "primary_key": bool(r[5])}
            for r in conn.execute("SELECT * FROM pragma_table_info(?)", (table,))
        ]
        indexes = []
        for _, index_name, unique, *_rest in conn.execute("SELECT * FROM pragma_index_list(?)", (table,)):
            cols = [r[2] for r in conn.execute("SELECT * FROM pragma_index_info(?)", (index_name,))]
            indexes.append({"name": index_name, "unique": bool(unique), "columns": cols})
        foreign_keys = [{"column": r[3], "references_table": r[2], "references_column": r[4]}
                        for r in conn.execute("SELECT * FROM pragma_foreign_key_list(?)", (table,))]
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        cursor = conn.execute(f"SELECT * FROM {_quote(table)} LIMIT ?", (sample,))
        sample_rows = [[_cell(v) for v in row] for row in cursor.fetchall()]
        row_count = conn.execute(f"SELECT count(*) FROM {_quote(table)}").fetchone()[0]
        return {"table": table, "type": names[table], "row_count": row_count, "columns": columns,
                "indexes": indexes, "foreign_keys": foreign_keys, "create_sql": sql,
                "sample_columns": [c["name"] for c in columns], "sample_rows": sample_rows}


async def describe_table(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Columns, keys, indexes, CREATE statement and sample rows of one table."""
    path, _ = _database_path(ctx, str(arguments["database"]))
    timeout = _settings(ctx)[2]
    sample = int(arguments.get("sample_rows", 3))
    result = await _in_pool(partial(_describe, path, str(arguments["table"]), sample, timeout))
    return {"database": arguments["database"], **result}


def _fetch(cursor: sqlite3.Cursor, limit: int, max_bytes: int) -> tuple[list[list[Any]], str | None]:
    """Rows up to `limit` and about `max_bytes`; the second value says which cap cut the result."""
    rows: list[list[Any]] = []
    size = 0
    for row in cursor:
        if len(rows) >= limit:
            return rows, "rows"
        cells = [_cell(v) for v in row]
        size += sum(_cell_bytes(v) for v in row)
        if size > max_bytes and rows:
            return rows, "bytes"
        rows.append(cells)
    return rows, None


def _query(path: Path, sql: str, params: list[Any] | dict[str, Any], limit: int, writable: bool,
           timeout: float, create: bool, max_bytes: int) -> dict[str, Any]:
    with _opened(path, writable, timeout, create) as conn:
        started = time.perf_counter()
        cursor = conn.execute(sql, params)
        columns = [d[0] for d in cursor.description] if cursor.description else []
        rows, cut = _fetch(cursor, limit, max_bytes) if columns else ([], None)
        changed, last_row_id = cursor.rowcount, cursor.lastrowid
        cursor.close()
        if conn.in_transaction:
            conn.commit()
        result: dict[str, Any] = {
            "columns": columns,
            "rows": rows,
            "row_count": len(rows),
            "truncated": cut is not None,
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 2),
        }
        if cut == "bytes":
            result["note"] = (f"Only the first {len(rows)} rows are shown: the result is capped at about "
                              f"{max_bytes:,} bytes; select fewer columns or aggregate.")
        if not columns:
            result["rows_affected"] = changed
            result["last_row_id"] = last_row_id
        return result


async def query(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Run one SQL statement; SELECTs return rows, writes (when allowed) return the change count."""
    allowed, max_rows, timeout = _settings(ctx)
    create = allowed and bool(arguments.get("create_if_missing", False))
    path, writable = _database_path(ctx, str(arguments["database"]), create)
    limit = min(int(arguments.get("max_rows", 100)), max_rows)
    params = arguments.get("params", [])
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    result = await _in_pool(
        partial(_query, path, str(arguments["sql"]), params, limit, writable, timeout, create,
                _max_result_bytes(ctx)))
    if result["truncated"] and "note" not in result:
        result["note"] = f"Only the first {limit} rows are shown; add LIMIT/OFFSET or aggregate to see the rest."
    return {"database": arguments["database"], "read_only": not writable, **result}
