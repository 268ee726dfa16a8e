from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable
from dataclasses import replace
from pathlib import Path

import pytest

from server.store.records import ExecutionRow
from server.store.sql.executions import SqlExecutionStore as ExecutionStore
from server.store.sqlite.db import Database


@contextlib.asynccontextmanager
async def _opened(tmp_path: Path) -> AsyncIterator[tuple[Database, ExecutionStore]]:
    db = await Database.open(tmp_path / "c.db")
    store = ExecutionStore(db)
    try:
        yield db, store
    finally:
        await store.aclose()
        await db.close()


async def _awaited(committed: Awaitable[None]) -> None:
    await committed


def _row(log_id: str) -> ExecutionRow:
    return ExecutionRow(log_id, "sess_a", "u1", "MATH_ADD", "math", None, "sha256:x", "success", None, 1.0, 0.5, "mcp")


@pytest.mark.anyio
async def test_a_read_waits_for_a_row_whose_commit_is_still_running(tmp_path: Path) -> None:
    """Another connection holds the write lock, so the row's commit waits; a read right then must
    wait for it too, and see the row."""
    async with _opened(tmp_path) as (db, store):
        async with db.transaction():  # the writer's commit queues behind this transaction
            committed = store.begin(_row("log_1"))
            read = asyncio.create_task(store.get("log_1"))
            await asyncio.sleep(0.2)
            assert not committed.done() and not read.done()
        await asyncio.wait_for(_awaited(committed), 10)
        row = await asyncio.wait_for(read, 10)
        assert row is not None and row.tool_slug == "MATH_ADD"
        assert [r.id for r in await store.list_by_session("sess_a")] == ["log_1"]


@pytest.mark.anyio
async def test_concurrent_records_share_commits_and_each_returns_only_once_committed(tmp_path: Path) -> None:
    async with _opened(tmp_path) as (db, store):
        async with db.transaction():  # hold the writer back, so the rows pile up behind one commit
            first = asyncio.ensure_future(_awaited(store.begin(_row("log_0"))))
            await asyncio.sleep(0.05)
            rest = [asyncio.ensure_future(store.record(_row(f"log_{i}"))) for i in range(1, 200)]
            await asyncio.sleep(0.05)
            assert not first.done() and not any(r.done() for r in rest)
        await asyncio.wait_for(asyncio.gather(first, *rest), 10)
        assert (await db.fetchone("SELECT COUNT(*) FROM executions"))[0] == 200


@pytest.mark.anyio
async def test_a_failed_batch_stays_queued_and_lands_on_the_next_flush(tmp_path: Path) -> None:
    async with _opened(tmp_path) as (db, store):
        await db.execute("CREATE TRIGGER no_writes BEFORE INSERT ON executions BEGIN SELECT RAISE(ABORT, 'disk'); END")
        with pytest.raises(Exception, match="disk"):
            await store.record(_row("log_1"))
        with pytest.raises(Exception, match="disk"):
            await store.flush()
        assert (await db.fetchone("SELECT COUNT(*) FROM executions"))[0] == 0
        await db.execute("DROP TRIGGER no_writes")
        assert (await store.get("log_1")) is not None
        await store.record(_row("log_2"))
        assert (await db.fetchone("SELECT COUNT(*) FROM executions"))[0] == 2


@pytest.mark.anyio
async def test_a_cancelled_caller_still_gets_its_row_committed_and_close_ends_the_thread(tmp_path: Path) -> None:
    async with _opened(tmp_path) as (db, store):
        async with db.transaction():
            waiting = asyncio.ensure_future(store.record(_row("log_1")))
            await asyncio.sleep(0.05)
            waiting.cancel()
        await store.flush()
        assert (await store.get("log_1")) is not None
    assert not [t for t in threading.enumerate() if t.name == "concierge-group-commit"]


async def _count(db: Database) -> int:
    return (await db.fetchone("SELECT COUNT(*) FROM executions"))[0]


@pytest.mark.anyio
async def test_an_outcome_goes_with_the_next_calls_row_or_alone_after_a_short_delay(tmp_path: Path) -> None:
    async with _opened(tmp_path) as (db, store):
        async def status(log_id: str) -> str:
            return (await db.fetchone("SELECT status FROM executions WHERE id = ?", (log_id,)))[0]

        await store.begin(replace(_row("log_1"), status="running"))
        store.finish(_row("log_1"))
        await asyncio.sleep(0.05)
        assert await status("log_1") == "running"  # the outcome waits for company ...
        await store.begin(replace(_row("log_2"), status="running"))  # ... the next call's row takes it along
        assert (await status("log_1"), await status("log_2")) == ("success", "running")
        store.finish(_row("log_2"))  # no call follows: it is written on its own, soon
        await asyncio.sleep(0.05)
        assert await status("log_2") == "running"
        for _ in range(100):
            if await status("log_2") == "success":
                break
            await asyncio.sleep(0.02)
        assert await status("log_2") == "success"


@pytest.mark.anyio
async def test_a_row_committed_before_it_is_awaited_returns_at_once(tmp_path: Path) -> None:
    async with _opened(tmp_path) as (db, store):
        for i in range(50):  # the writer settles the row at any point relative to the await
            committed = store.begin(_row(f"log_{i}"))
            await asyncio.sleep(0.001 * (i % 5))
            await asyncio.wait_for(_awaited(committed), 5)
        assert await _count(db) == 50


@pytest.mark.anyio
async def test_an_outcome_that_cannot_be_written_is_logged_and_stays_queued(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with _opened(tmp_path) as (db, store):
        await db.execute("CREATE TRIGGER no_writes BEFORE INSERT ON executions BEGIN SELECT RAISE(ABORT, 'disk'); END")
        with caplog.at_level("WARNING", logger="concierge.store"):
            store.finish(_row("log_1"))
            for _ in range(100):
                if "not stored yet" in caplog.text:
                    break
                await asyncio.sleep(0.02)
        assert "not stored yet" in caplog.text and "disk" in caplog.text
        await db.execute("DROP TRIGGER no_writes")
        await store.flush()
        assert await _count(db) == 1
