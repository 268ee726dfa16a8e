from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from server.store.records import ExecutionRow
from server.store.sql.executions import SqlExecutionStore as ExecutionStore
from server.store.sqlite.db import Database


def _row(log_id: str) -> ExecutionRow:
    return ExecutionRow(log_id, "sess_a", "u1", "MATH_ADD", "math", None, "sha256:x", "success", None, 1.0, 0.5, "mcp")


@pytest.mark.anyio
async def test_a_read_waits_for_a_batch_that_is_still_being_committed(tmp_path: Path) -> None:
    """The timer's flush has taken the batch but not committed it yet; a read right then must still see the row."""
    db = await Database.open(tmp_path / "c.db")
    store = ExecutionStore(db)
    try:
        async with db._write_lock:  # the timer's transaction queues behind this
            await store.insert(_row("log_1"))
            await asyncio.sleep(0.15)
            assert store._pending == []  # the timer took the batch and is waiting to commit it
            read = asyncio.create_task(store.get("log_1"))
            await asyncio.sleep(0.05)
            assert not read.done()
        row = await asyncio.wait_for(read, 5)
        assert row is not None and row.tool_slug == "MATH_ADD"
        assert [r.id for r in await store.list_by_session("sess_a")] == ["log_1"]
    finally:
        await store.aclose()
        await db.close()


@pytest.mark.anyio
async def test_a_failed_batch_stays_queued_and_lands_on_the_next_flush(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "c.db")
    store = ExecutionStore(db)
    try:
        await db.execute("CREATE TRIGGER no_writes BEFORE INSERT ON executions BEGIN SELECT RAISE(ABORT, 'disk'); END")
        await store.insert(_row("log_1"))
        with pytest.raises(Exception, match="disk"):
            await store.flush()
        assert (await db.fetchone("SELECT COUNT(*) FROM executions"))[0] == 0
        await db.execute("DROP TRIGGER no_writes")
        assert (await store.get("log_1")) is not None
    finally:
        await store.aclose()
        await db.close()
