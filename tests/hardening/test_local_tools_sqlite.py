"""SQLite tools against memory-hungry SQL and other users: bounded per call, private per user."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.live import LiveServer
from tests.mcp_helpers import call

pytestmark = pytest.mark.anyio


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


class PeakRss:
    """Samples this process's RSS (the server runs in it) every 5 ms in a thread."""

    def __init__(self) -> None:
        self.baseline = self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb())
            time.sleep(0.005)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> float:
        return self.peak - self.baseline


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    shared = tmp_path / "data" / "sqlite"
    shared.mkdir(parents=True)
    with sqlite3.connect(shared / "shop.db") as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.executemany("INSERT INTO notes (body) VALUES (?)", [("n" * 50_000,) for _ in range(200)])
    conn.close()
    live = LiveServer(tmp_path / "data", toolkit_settings={"sqlite": {"allow_write": True}}).start()
    yield live
    live.stop()


def query(database: str, sql: str, **extra: Any) -> dict[str, Any]:
    return {"tool_slug": "SQLITE_QUERY", "arguments": {"database": database, "sql": sql, **extra}}


async def test_huge_values_fail_at_once_without_allocating_them(server: LiveServer) -> None:
    session = server.create_session(user_id="alice", toolkits=["sqlite"])
    async with Client(session["mcp"]["url"]) as client:
        with PeakRss() as rss:
            started = time.monotonic()
            out = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [
                query("shop.db", "SELECT length(randomblob(900000000))"),
                query("shop.db", "SELECT randomblob(900000000)"),
                query("shop.db", "SELECT length(group_concat(body)) FROM notes"),  # 10 MB of text in one value
            ]})
            took = time.monotonic() - started
        print(f"sqlite: 3 huge-value queries, RSS +{rss.growth:.0f} MB, {took:.2f} s")
        errors = [r["error"] for r in out["data"]["results"]]
        assert all(e and "string or blob too big" in e and "limits values to 1,000,000 bytes" in e
                   for e in errors), errors
        assert rss.growth < 100, f"server memory grew by {rss.growth:.0f} MB"
    session = server.create_session(user_id="alice", toolkits=["sqlite"], workbench={"enable": False})
    async with Client(session["mcp"]["url"]) as client:  # no offload to a file: the cut result comes back inline
        big = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL",
                         {"tools": [query("shop.db", "SELECT id, body FROM notes", max_rows=1000)]})
        data = big["data"]["results"][0]["response"]["data"]
        assert data["truncated"] and "capped at about 2,000,000 bytes" in data["note"], data.get("note")
        assert 0 < data["row_count"] < 200


async def test_many_memory_hungry_queries_at_once_stay_bounded(server: LiveServer) -> None:
    session = server.create_session(user_id="alice", toolkits=["sqlite"])
    sql = ("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 50000) "
           "SELECT count(*), max(length(b)) FROM (SELECT i, randomblob(900) AS b FROM r ORDER BY b)")
    async with Client(session["mcp"]["url"]) as client:
        with PeakRss() as rss:
            out = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [query("shop.db", sql)] * 20})
        print(f"sqlite: 20 parallel sorts of 45 MB each, RSS +{rss.growth:.0f} MB")
        results = out["data"]["results"]
        assert all(r["response"]["successful"] and r["response"]["data"]["rows"] == [[50000, 900]]
                   for r in results), \
            [r.get("error") for r in results]
        assert rss.growth < 200, f"server memory grew by {rss.growth:.0f} MB"


async def test_with_writes_on_each_user_has_private_databases(server: LiveServer) -> None:
    alice = server.create_session(user_id="alice", toolkits=["sqlite"])
    bob = server.create_session(user_id="bob", toolkits=["sqlite"])
    folder = hashlib.sha256(b"alice").hexdigest()[:32]
    async with Client(alice["mcp"]["url"]) as client:
        made = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [
            query("secret.db", "CREATE TABLE t (x)", create_if_missing=True)]})
        assert made["successful"], made
        await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [
            query("secret.db", "INSERT INTO t VALUES ('alice-only')")]})
    async with Client(bob["mcp"]["url"]) as client:
        listed = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL",
                            {"tools": [{"tool_slug": "SQLITE_LIST_DATABASES", "arguments": {}}]})
        names = [d["database"] for d in listed["data"]["results"][0]["response"]["data"]["databases"]]
        assert names == ["shop.db"], names
        attempts = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [
            query("secret.db", "SELECT * FROM t"),
            query(f"users/{folder}/secret.db", "SELECT * FROM t"),
            query(f"users/{folder}/secret.db", "DROP TABLE t"),
            query("secret.db", "DROP TABLE t"),
            {"tool_slug": "SQLITE_LIST_TABLES", "arguments": {"database": f"users/{folder}/secret.db"}},
        ]})
        for result in attempts["data"]["results"]:
            assert not result["response"]["successful"], result
            assert "No database" in result["error"] or "outside the SQLite data folder" in result["error"]
    async with Client(alice["mcp"]["url"]) as client:
        still = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [query("secret.db", "SELECT * FROM t")]})
        assert still["data"]["results"][0]["response"]["data"]["rows"] == [["alice-only"]]


async def test_a_nul_in_a_database_name_is_a_clear_error(server: LiveServer) -> None:
    session = server.create_session(user_id="alice", toolkits=["sqlite"])
    async with Client(session["mcp"]["url"]) as client:
        out = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [query("a\x00b.db", "SELECT 1")]})
        assert "NUL" in out["data"]["results"][0]["error"]
    await asyncio.sleep(0)
