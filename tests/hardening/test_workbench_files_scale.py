"""Many files in a workbench: scans are linear and bounded, never block other sessions, stop at shutdown."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from server.errors import Conflict, PayloadTooLarge
from server.workbench import files
from tests.workbench_fixtures import workbench

pytestmark = pytest.mark.anyio


def plant(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        os.close(os.open(folder / f"f{i:06d}", os.O_CREAT | os.O_WRONLY, 0o644))


def test_a_scan_is_linear_in_the_number_of_files(tmp_path: Path) -> None:
    plant(tmp_path / "flat", 30_000)  # one folder: the old scan compared every name with every other
    started = time.monotonic()
    result = files.scan(tmp_path, 100_000)
    took = time.monotonic() - started
    assert result.complete and len(result.files) == 30_000 and result.dirs == {"flat"}
    assert took < 3.0, f"scan of 30,000 files took {took:.1f} s"


def test_a_scan_stops_at_its_limit(tmp_path: Path) -> None:
    plant(tmp_path / "a", 500)
    result = files.scan(tmp_path, 100)
    assert not result.complete and result.entries == 100


async def test_a_run_that_creates_too_many_files_is_undone_with_a_clear_error(tmp_path: Path) -> None:
    async with workbench(tmp_path / "wb", max_files=2_000, default_timeout_seconds=60) as manager:
        await manager.write_file("s1", "keep/me.txt", b"kept")
        run = await manager.run_python("s1", (
            "import os\n"
            "os.makedirs('many/deeper', exist_ok=True)\n"
            "for i in range(6000):\n"
            "    open(f'many/deeper/{i}', 'w').close()\n"
            "'done'"), 30)
        assert run.error is not None and run.error.type == "DiskQuotaExceeded", run
        assert "more than 2,000 files and folders" in run.error.message and "workbench.max_files" in run.error.message
        listing = await manager.list_files("s1")
        assert listing.complete and "keep/me.txt" in listing.files
        assert not any(path.startswith("many") for path in (*listing.files, *listing.dirs))
        started = time.monotonic()
        quick = await manager.run_python("s1", "1 + 1", 5)
        assert quick.result == "2" and time.monotonic() - started < 5


async def test_a_workbench_already_over_the_limit_refuses_runs_and_uploads_clearly(tmp_path: Path) -> None:
    async with workbench(tmp_path / "wb", max_files=1_000) as manager:
        await manager.write_file("s1", "a.txt", b"a")
        plant(manager.session_dir("s1") / "planted", 1_500)  # e.g. the operator lowered the limit
        with pytest.raises(Conflict, match="limit of 1,000 files and folders"):
            await manager.run_python("s1", "1")
        with pytest.raises(PayloadTooLarge, match="workbench.max_files"):
            await manager.write_file("s1", "b.txt", b"b")
        await manager.write_file("s1", "a.txt", b"replaced")  # replacing a file adds nothing


async def test_one_sessions_huge_folder_does_not_hold_up_another_sessions_file_work(tmp_path: Path) -> None:
    async with workbench(tmp_path / "wb", max_files=40_000) as manager:
        await manager.write_file("crowded", "x", b"x")
        plant(manager.session_dir("crowded") / "bulk", 38_000)
        # a burst of offloads into the crowded session (each scans its 38,000 files) ...
        burst = [asyncio.ensure_future(manager.write_file("crowded", f"results/{i}.json", b"{}")) for i in range(12)]
        await asyncio.sleep(0.05)
        # ... while a quiet session writes and reads a file, and the event loop stays responsive
        started = time.monotonic()
        await manager.write_file("quiet", "q.txt", b"q")
        assert await manager.read_file("quiet", "q.txt") == b"q"
        quiet_took = time.monotonic() - started
        loop_started = time.monotonic()
        await asyncio.sleep(0.01)
        assert time.monotonic() - loop_started < 0.5
        await asyncio.gather(*burst)
        burst_took = time.monotonic() - started
        assert quiet_took < max(2.0, burst_took / 3), (quiet_took, burst_took)


async def test_a_scan_in_progress_gives_up_at_shutdown(tmp_path: Path) -> None:
    async with workbench(tmp_path / "wb", max_files=200_000) as manager:
        await manager.write_file("s1", "x", b"x")
        for part in range(20):
            plant(manager.session_dir("s1") / f"p{part}", 2_000)
        listing = asyncio.ensure_future(manager.list_files("s1"))
        await asyncio.sleep(0.02)
    started = time.monotonic()  # the context manager closed the manager
    with pytest.raises((files.Stopped, asyncio.CancelledError)):
        await listing
    assert time.monotonic() - started < 2.0
