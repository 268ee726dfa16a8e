"""SQLite tools: find databases, list tables, describe a table and run SQL, inside one sandbox folder.

Every database path is resolved (symlinks included) and must stay under `<data_dir>/sqlite`, and
ATTACH / VACUUM INTO are disabled, so SQL cannot reach other files. Connections are read-only
(`mode=ro`) unless the operator sets `toolkit_settings.sqlite.allow_write`. Queries run in a worker
thread with a row cap and a deadline enforced by SQLite's progress handler.
"""

from __future__ import annotations

import base64
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path, PurePath
from typing import Any

import anyio.to_thread

from server.errors import ToolError
from server.values import ToolContext

DEFAULT_MAX_ROWS = 1000  # hard cap; `toolkit_settings.sqlite.max_rows` overrides
DEFAULT_TIMEOUT = 10.0  # seconds per call; `toolkit_settings.sqlite.query_timeout` overrides
MAX_BLOB_BYTES = 1024
SQLITE_HEADER = b"SQLite format 3\x00"


def _sandbox(ctx: ToolContext) -> Path:
    return (ctx.data_dir / "sqlite").resolve()


def _database_path(ctx: ToolContext, database: str) -> Path:
    """Resolve a user-given path and refuse anything that lands outside the sandbox folder."""
    base = _sandbox(ctx)
    if ".." in PurePath(database).parts:
        raise ToolError("Database paths may not contain '..'; give a path inside the SQLite data folder, "
                        "e.g. 'sales.db' (SQLITE_LIST_DATABASES shows them).", details={"database": database})
    resolved = (base / database).resolve()
    if not resolved.is_relative_to(base):
        raise ToolError("That path is outside the SQLite data folder; only databases listed by "
                        "SQLITE_LIST_DATABASES can be opened.", details={"database": database})
    return resolved


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
    conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)  # no ATTACH, no VACUUM INTO: SQL cannot reach other files
    deadline = time.monotonic() + timeout
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    return conn


@contextmanager
def _opened(path: Path, writable: bool, timeout: float, create: bool = False) -> Iterator[sqlite3.Connection]:
    """A connection for one call: SQLite errors become one clear ToolError, and it is always closed."""
    conn = _connect(path, writable, timeout, create)
    try:
        yield conn
    except sqlite3.Error as exc:
        raise _sql_error(exc, writable, timeout) from None
    finally:
        conn.close()


def _cell(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"blob_base64": base64.b64encode(value[:MAX_BLOB_BYTES]).decode(), "size": len(value),
                "truncated": len(value) > MAX_BLOB_BYTES}
    return value


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _sql_error(exc: sqlite3.Error, writable: bool, timeout: float) -> ToolError:
    """Turn SQLite's errors into messages that say what to do next."""
    message = str(exc).rstrip(".")
    if message == "interrupted":
        return ToolError(f"The query ran longer than {timeout:g}s and was stopped; add a WHERE clause or LIMIT.",
                         details={"timeout_seconds": timeout})
    if "readonly" in message or getattr(exc, "sqlite_errorname", "") == "SQLITE_READONLY":
        return ToolError("This database is opened read-only, so INSERT/UPDATE/DELETE/CREATE are refused. The "
                         "operator can enable writes with toolkit_settings.sqlite.allow_write = true.",
                         details={"writable": writable})
    if "too many attached" in message:
        return ToolError("ATTACH and VACUUM INTO are disabled: only the chosen database can be used.", details={})
    return ToolError(f"SQLite error: {message}.", details={"error": type(exc).__name__})


def _table_names(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    rows = conn.execute("SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') "
                        "AND name NOT LIKE 'sqlite_%' ORDER BY name").fetchall()
    return [(str(name), str(kind)) for name, kind in rows]


# ---------------------------------------------------------------------------------------------
# Handlers (the blocking part of each runs in a worker thread)
# ---------------------------------------------------------------------------------------------

def _list_databases(base: Path, limit: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if not base.is_dir():
        return found
    for path in sorted(base.rglob("*")):
        if len(found) >= limit:
            break
        real = path.resolve()
        if not path.is_file() or not real.is_relative_to(base):
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
    found = await anyio.to_thread.run_sync(partial(_list_databases, _sandbox(ctx), 500))
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
    path = _database_path(ctx, str(arguments["database"]))
    timeout = _settings(ctx)[2]
    tables = await anyio.to_thread.run_sync(partial(_list_tables, path, timeout))
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
    path = _database_path(ctx, str(arguments["database"]))
    timeout = _settings(ctx)[2]
    sample = int(arguments.get("sample_rows", 3))
    result = await anyio.to_thread.run_sync(partial(_describe, path, str(arguments["table"]), sample, timeout))
    return {"database": arguments["database"], **result}


def _query(path: Path, sql: str, params: list[Any] | dict[str, Any], limit: int, writable: bool,
           timeout: float, create: bool) -> dict[str, Any]:
    with _opened(path, writable, timeout, create) as conn:
        started = time.perf_counter()
        cursor = conn.execute(sql, params)
        columns = [d[0] for d in cursor.description] if cursor.description else []
        rows = cursor.fetchmany(limit + 1) if columns else []
        changed, last_row_id = cursor.rowcount, cursor.lastrowid
        cursor.close()
        if conn.in_transaction:
            conn.commit()
        result: dict[str, Any] = {
            "columns": columns,
            "rows": [[_cell(v) for v in row] for row in rows[:limit]],
            "row_count": min(len(rows), limit),
            "truncated": len(rows) > limit,
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 2),
        }
        if not columns:
            result["rows_affected"] = changed
            result["last_row_id"] = last_row_id
        return result


async def query(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Run one SQL statement; SELECTs return rows, writes (when allowed) return the change count."""
    writable, max_rows, timeout = _settings(ctx)
    path = _database_path(ctx, str(arguments["database"]))
    limit = min(int(arguments.get("max_rows", 100)), max_rows)
    params = arguments.get("params", [])
    create = writable and bool(arguments.get("create_if_missing", False))
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    result = await anyio.to_thread.run_sync(
        partial(_query, path, str(arguments["sql"]), params, limit, writable, timeout, create))
    if result["truncated"]:
        result["note"] = f"Only the first {limit} rows are shown; add LIMIT/OFFSET or aggregate to see the rest."
    return {"database": arguments["database"], "read_only": not writable, **result}
