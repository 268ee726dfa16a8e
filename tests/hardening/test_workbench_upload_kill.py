"""A server killed in the middle of writing an upload leaves nothing that counts toward the quota."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.live import LiveServer
from tests.workbench_fixtures import workbench

pytestmark = pytest.mark.anyio
REPO = Path(__file__).resolve().parent.parent.parent

# The upload path of PUT /files (WorkbenchManager.write_file), killed with SIGKILL at the worst moment:
# the whole file has been written to its temp file, and the rename that publishes it is next.
KILLED_UPLOAD = textwrap.dedent("""
    import asyncio, os, signal, sys
    from pathlib import Path
    from server.workbench import WorkbenchManager, WorkbenchSettings

    async def no_tools(*args):
        raise AssertionError

    def killed(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    async def main():
        manager = WorkbenchManager(Path(sys.argv[1]), WorkbenchSettings(isolation="bwrap", disk_quota_mb=2), no_tools)
        await manager.write_file("s1", "small.txt", b"kept")
        os.rename = killed
        await manager.write_file("s1", "big.bin", b"x" * 1_500_000)

    asyncio.run(main())
""")


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def test_a_kill_mid_upload_leaves_no_temp_file_in_the_quota(tmp_path: Path) -> None:
    root = tmp_path / "data" / "workbench"
    done = subprocess.run([sys.executable, "-c", KILLED_UPLOAD, str(root)], env={**os.environ,
                          "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL, done.stderr
    leftovers = [p for p in tree(root) if p.endswith(".tmp")]
    assert leftovers and all(p.startswith(".uploads/") for p in leftovers), tree(root)  # outside every workbench

    async with workbench(root, disk_quota_mb=2) as manager:  # a fresh start on the same data folder
        assert [p for p in tree(root) if p.endswith(".tmp")] == []
        listing = await manager.list_files("s1")
        assert sorted(listing.files) == ["small.txt"]
        # the quota has the full 2 MB minus the small file: a 1.9 MB upload fits
        await manager.write_file("s1", "fits.bin", b"y" * 1_900_000)


async def test_uploads_through_rest_leave_no_temp_files(tmp_path: Path) -> None:
    live = LiveServer(tmp_path / "data").start()
    try:
        session = live.create_session()
        for i in range(3):
            put = live.api("PUT", f"/sessions/{session['id']}/files/dir/f{i}.txt", content=b"z" * 1000)
            assert put.status_code == 200, put.text
        listed = live.api("GET", f"/sessions/{session['id']}/files").json()["items"]
        assert [item["path"] for item in listed] == ["dir/f0.txt", "dir/f1.txt", "dir/f2.txt"]
        assert not [p for p in tree(tmp_path / "data" / "workbench") if p.endswith(".tmp")]
    finally:
        live.stop()
