"""The sqlite toolkit against real database files in a temporary data folder."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from server.catalog.loader import BUILTIN_TOOLKITS, load_toolkit_folder
from server.catalog.model import Toolkit
from server.errors import ToolError
from server.values import ToolContext


@pytest.fixture(scope="module")
def toolkit() -> Toolkit:
    return load_toolkit_folder(BUILTIN_TOOLKITS / "sqlite")


def _make_shop(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.executescript("""
            CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT DEFAULT 'NL');
            CREATE TABLE orders (
                id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id),
                total REAL NOT NULL, status TEXT NOT NULL, receipt BLOB);
            CREATE INDEX orders_by_status ON orders(status);
            CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100;
            INSERT INTO customers VALUES (1, 'Ana', 'PT'), (2, 'Bob', 'US'), (3, 'Chen', 'CN');
            INSERT INTO orders VALUES (1, 1, 120.0, 'shipped', x'00ff'), (2, 1, 30.5, 'pending', NULL),
                                      (3, 2, 250.0, 'shipped', NULL), (4, 3, 99.5, 'cancelled', NULL);
        """)
    conn.close()


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.AsyncClient]:
    client = httpx.AsyncClient()  # unused by these tools, required by the context
    yield client
    anyio.run(client.aclose)


@pytest.fixture
def ctx(tmp_path: Path, client: httpx.AsyncClient) -> ToolContext:
    _make_shop(tmp_path / "data" / "sqlite" / "shop.db")
    return ToolContext("sess_test", "user_test", tmp_path / "data", client, {})


@pytest.fixture
def call(toolkit: Toolkit, ctx: ToolContext) -> Any:
    def run(slug: str, context: ToolContext | None = None, **arguments: Any) -> dict[str, Any]:
        handler = toolkit.tools[slug].handler
        assert inspect.iscoroutinefunction(handler)  # I/O is offloaded, never run on the event loop
        return anyio.run(handler, arguments, context or ctx)
    return run


def test_list_databases_finds_sqlite_files_only(call: Any, ctx: ToolContext) -> None:
    _make_shop(ctx.data_dir / "sqlite" / "reports" / "q3.sqlite")
    (ctx.data_dir / "sqlite" / "notes.db").write_text("not a database")
    out = call("SQLITE_LIST_DATABASES")
    assert [d["database"] for d in out["databases"]] == ["reports/q3.sqlite", "shop.db"]
    assert out["writable"] is False


def test_list_tables_with_row_counts(call: Any) -> None:
    out = call("SQLITE_LIST_TABLES", database="shop.db")
    assert out["tables"] == [
        {"name": "big_orders", "type": "view"},
        {"name": "customers", "type": "table", "row_count": 3},
        {"name": "orders", "type": "table", "row_count": 4},
    ]


def test_describe_table(call: Any) -> None:
    out = call("SQLITE_DESCRIBE_TABLE", database="shop.db", table="ORDERS", sample_rows=1)
    assert out["table"] == "orders" and out["row_count"] == 4
    columns = {c["name"]: c for c in out["columns"]}
    assert columns["id"]["primary_key"] is True
    assert columns["total"] == {"name": "total", "type": "REAL", "not_null": True, "default": None,
                                "primary_key": False}
    assert out["foreign_keys"] == [{"column": "customer_id", "references_table": "customers",
                                    "references_column": "id"}]
    assert {"name": "orders_by_status", "unique": False, "columns": ["status"]} in out["indexes"]
    assert out["create_sql"].startswith("CREATE TABLE orders")
    assert out["sample_rows"] == [[1, 1, 120.0, "shipped", {"blob_base64": "AP8=", "size": 2, "truncated": False}]]
    with pytest.raises(ToolError, match="No table") as err:
        call("SQLITE_DESCRIBE_TABLE", database="shop.db", table="invoices")
    assert err.value.details["tables"] == ["big_orders", "customers", "orders"]


def test_query_with_params_joins_and_groups(call: Any) -> None:
    out = call("SQLITE_QUERY", database="shop.db", sql="""
        SELECT c.name, SUM(o.total) AS revenue FROM orders o JOIN customers c ON c.id = o.customer_id
        WHERE o.status != ? GROUP BY c.name ORDER BY revenue DESC""", params=["cancelled"])
    assert out["columns"] == ["name", "revenue"]
    assert out["rows"] == [["Bob", 250.0], ["Ana", 150.5]]
    assert (out["row_count"], out["truncated"], out["read_only"]) == (2, False, True)
    named = call("SQLITE_QUERY", database="shop.db", sql="SELECT id FROM orders WHERE status = :s",
                 params={"s": "shipped"})
    assert named["rows"] == [[1], [3]]


def test_row_limit(call: Any, ctx: ToolContext) -> None:
    out = call("SQLITE_QUERY", database="shop.db", sql="SELECT id FROM orders ORDER BY id", max_rows=2)
    assert out["rows"] == [[1], [2]] and out["truncated"] is True and "first 2 rows" in out["note"]
    capped = call("SQLITE_QUERY", dataclasses.replace(ctx, settings={"max_rows": 3}), database="shop.db",
                  sql="SELECT id FROM orders", max_rows=100)
    assert capped["row_count"] == 3


def test_read_only_by_default(call: Any, ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match="read-only"):
        call("SQLITE_QUERY", database="shop.db", sql="DELETE FROM orders")
    with pytest.raises(ToolError, match="read-only"):
        call("SQLITE_QUERY", database="shop.db", sql="CREATE TABLE t (x)")
    with sqlite3.connect(ctx.data_dir / "sqlite" / "shop.db") as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 4
    conn.close()


def test_writes_when_the_operator_allows_them(call: Any, ctx: ToolContext) -> None:
    writable = dataclasses.replace(ctx, settings={"allow_write": True})
    with pytest.raises(ToolError, match="read-only"):  # shared databases stay read-only
        call("SQLITE_QUERY", writable, database="shop.db", sql="INSERT INTO customers (name) VALUES ('Dana')")
    with pytest.raises(ToolError, match="No database"):
        call("SQLITE_QUERY", writable, database="new.db", sql="CREATE TABLE t (x)")
    created = call("SQLITE_QUERY", writable, database="sub/new.db", sql="CREATE TABLE t (x)", create_if_missing=True)
    assert created["columns"] == [] and created["read_only"] is False
    out = call("SQLITE_QUERY", writable, database="sub/new.db", sql="INSERT INTO t VALUES (?)", params=["Dana"])
    assert (out["rows_affected"], out["last_row_id"], out["read_only"]) == (1, 1, False)
    assert not (ctx.data_dir / "sqlite" / "sub" / "new.db").exists()  # in the user's own folder
    listed = call("SQLITE_LIST_DATABASES", writable)["databases"]
    assert {(d["database"], d["writable"]) for d in listed} == {("sub/new.db", True), ("shop.db", False)}
    with pytest.raises(ToolError, match="No database"):  # create_if_missing does nothing without allow_write
        call("SQLITE_QUERY", database="other.db", sql="SELECT 1", create_if_missing=True)
    assert not (ctx.data_dir / "sqlite" / "other.db").exists()


@pytest.mark.parametrize("database", ["../outside.db", "sub/../../outside.db", "/etc/passwd"])
def test_paths_outside_the_sandbox_are_refused(call: Any, ctx: ToolContext, database: str) -> None:
    _make_shop(ctx.data_dir / "outside.db")
    with pytest.raises(ToolError, match=r"outside|\.\."):
        call("SQLITE_QUERY", database=database, sql="SELECT 1")


def test_absolute_and_symlinked_paths(call: Any, ctx: ToolContext, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "secret.db"
    _make_shop(outside)
    with pytest.raises(ToolError, match="outside"):
        call("SQLITE_LIST_TABLES", database=str(outside))
    (ctx.data_dir / "sqlite" / "link.db").symlink_to(outside)
    with pytest.raises(ToolError, match="outside"):
        call("SQLITE_LIST_TABLES", database="link.db")
    assert "link.db" not in [d["database"] for d in call("SQLITE_LIST_DATABASES")["databases"]]
    inside = ctx.data_dir / "sqlite" / "shop.db"
    assert call("SQLITE_LIST_TABLES", database=str(inside))["count"] == 3


def test_sql_cannot_reach_other_files(call: Any, ctx: ToolContext, tmp_path: Path) -> None:
    _make_shop(tmp_path / "other.db")
    with pytest.raises(ToolError, match="ATTACH"):
        call("SQLITE_QUERY", database="shop.db", sql=f"ATTACH DATABASE '{tmp_path / 'other.db'}' AS other")
    writable = dataclasses.replace(ctx, settings={"allow_write": True})
    call("SQLITE_QUERY", writable, database="mine.db", sql="CREATE TABLE t (x)", create_if_missing=True)
    with pytest.raises(ToolError, match="ATTACH"):
        call("SQLITE_QUERY", writable, database="mine.db", sql=f"VACUUM INTO '{tmp_path / 'copy.db'}'")
    assert not (tmp_path / "copy.db").exists()


def test_errors_are_clear(call: Any) -> None:
    with pytest.raises(ToolError, match="one statement"):
        call("SQLITE_QUERY", database="shop.db", sql="SELECT 1; DROP TABLE orders")
    with pytest.raises(ToolError, match="no such table"):
        call("SQLITE_QUERY", database="shop.db", sql="SELECT * FROM invoices")
    with pytest.raises(ToolError, match="No database"):
        call("SQLITE_LIST_TABLES", database="missing.db")


def test_slow_query_is_interrupted_without_blocking_the_event_loop(toolkit: Toolkit, ctx: ToolContext) -> None:
    slow = dataclasses.replace(ctx, settings={"query_timeout": 0.5})
    endless = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n"
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def main() -> None:
        task = asyncio.create_task(ticker())
        try:
            with pytest.raises(ToolError, match="longer than 0.5s"):
                await toolkit.tools["SQLITE_QUERY"].handler({"database": "shop.db", "sql": endless}, slow)
        finally:
            task.cancel()

    asyncio.run(main())
    assert ticks > 10  # the loop kept running while SQLite worked in a thread
