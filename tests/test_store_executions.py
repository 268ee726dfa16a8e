from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from server.store.records import ExecutionRow
from server.store.sql.executions import SqlExecutionStore as ExecutionStore
from server.store.sqlite.db import Database


def _row(log_id: str) -> ExecutionRow:
    return ExecutionRow(log_id, "sess_a", "u1", "MATH_ADD", "math", None, "sha256:x", "success", None, 1.0, 0.5, "mcp")


@pytest.mark.anyio
async def test_a_read_waits_for_a_row_whose_commit_is_still_running(tmp_path: Path) -> None:
    """Another connection holds the write lock, so the row's commit waits; a read right then must
    wait for it too, and see the row."""
    db = await Database.open(tmp_path / "c.db")
    store = ExecutionStore(db)
    try:
        async with db.transaction():  # the writer's commit queues behind this transaction
            committed = store.insert(_row("log_1"))
            read = asyncio.create_task(store.get("log_1"))
            await asyncio.sleep(0.2)
            assert not committed.done() and not read.done()
        await asyncio.wait_for(committed, 10)
        row = await asyncio.wait_for(read, 10)
        assert row is not None and row.tool_slug == "MATH_ADD"
        assert [r.id for r in await store.list_by_session("sess_a")] == ["log_1"]
    finally:
        await store.aclose()
        await db.close()


@pytest.mark.anyio
async def test_concurrent_records_share_commits_and_each_returns_only_once_committed(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "c.db")
    store = ExecutionStore(db)
    try:
        async with db.transaction():  # hold the writer back, so the rows pile up behind one commit
            first = store.insert(_row("log_0"))
            await asyncio.sleep(0.05)
            rest = [asyncio.ensure_future(store.record(_row(f"log_{i}"))) for i in range(1, 200)]
            await asyncio.sleep(0.05)
            assert not any(r.done() for r in rest)
        await asyncio.wait_for(asyncio.gather(first, *rest), 10)
        assert (await db.fetchone("SELECT COUNT(*) FROM executions"))[0] == 200
    finally:
        await store.aclose()
        await db.close()


@pytest.mark.anyio
async def test_a_failed_batch_stays_queued_and_lands_on_the_next_flush(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "c.db")
    store = ExecutionStore(db)
    try:
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
    finally:
        await store.aclose()
        await db.close()


@pytest.mark.anyio
async def test_a_cancelled_caller_still_gets_its_row_committed_and_close_ends_the_thread(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "c.db")
    store = ExecutionStore(db)
    try:
        async with db.transaction():
            waiting = asyncio.ensure_future(store.record(_row("log_1")))
            await asyncio.sleep(0.05)
            waiting.cancel()
        await store.flush()
        assert (await store.get("log_1")) is not None
    finally:
        await store.aclose()
        await db.close()
    assert not [t for t in threading.enumerate() if t.name == "concierge-group-commit"]
