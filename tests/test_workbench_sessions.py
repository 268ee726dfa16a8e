"""The workbench manager's memory of sessions is bounded, and a discarded session is gone for good."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.errors import NotFound
from server.workbench import WorkbenchManager
from tests.workbench_fixtures import workbench

pytestmark = pytest.mark.anyio


async def test_sessions_beyond_the_bound_are_forgotten_and_their_idle_process_stopped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(WorkbenchManager, "MAX_SESSIONS", 2)
    async with workbench(tmp_path / "wb") as manager:
        first = await manager.run_python("s1", "x = 1\nx")
        assert first.result == "1"
        kernel = manager._sessions["s1"].kernel
        assert kernel is not None and kernel.proc.alive
        await manager.write_file("s2", "a.txt", b"a")
        await manager.write_file("s3", "b.txt", b"b")  # a third session: s1, the least recently used, goes
        assert list(manager._sessions) == ["s2", "s3"]
        for task in list(manager._background):
            await task
        assert not kernel.proc.alive
        again = await manager.run_python("s1", "open('a_file.txt', 'w').write('y') and 2")
        assert again.result == "2" and again.fresh_process  # its files stayed; only the process went


async def test_a_discarded_session_loses_process_and_files_and_is_refused(tmp_path: Path) -> None:
    async with workbench(tmp_path / "wb") as manager:
        await manager.run_python("s1", "open('kept.txt', 'w').write('x')")
        folder = manager.session_dir("s1")
        kernel = manager._sessions["s1"].kernel
        assert (folder / "kept.txt").is_file() and kernel is not None
        await manager.discard("s1")
        assert not kernel.proc.alive and not folder.exists() and "s1" not in manager._sessions
        with pytest.raises(NotFound, match="deleted"):
            await manager.run_python("s1", "1")
        with pytest.raises(NotFound):
            await manager.write_file("s1", "again.txt", b"x")
        assert not folder.exists()
