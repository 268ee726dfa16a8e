"""Server-side file access to a workbench (for uploads, downloads and offloaded results), and settings."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from server.errors import ConfigError, InvalidInput, NotFound, PayloadTooLarge
from server.workbench import WorkbenchManager, WorkbenchSettings
from server.workbench.manager import RUNTIME_PREFIX, sweep_stale_runtime_dirs
from tests.workbench_fixtures import no_tools, workbench


def test_write_then_read_and_the_sandbox_sees_the_file(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with workbench(tmp_path / "workbench") as wb:
            path = await wb.write_file("sess_a", "in/deep/data.bin", b"\x00\x01payload")
            assert path.read_bytes() == b"\x00\x01payload"
            assert await wb.read_file("sess_a", "./in//deep/data.bin") == b"\x00\x01payload"
            run = await wb.run_python("sess_a", "open('in/deep/data.bin', 'rb').read()")
            assert run.result == "b'\\x00\\x01payload'"
            await wb.run_python("sess_a", "open('in/deep/data.bin', 'ab').write(b'+more')")  # the sandbox may change it
            assert await wb.read_file("sess_a", "in/deep/data.bin") == b"\x00\x01payload+more"

    asyncio.run(scenario())


def test_traversal_and_missing_files_are_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with workbench(tmp_path / "workbench") as wb:
            for bad in ("../escape.txt", "a/../../escape.txt", "/etc/passwd", "", ".", "a\x00b"):
                with pytest.raises(InvalidInput):
                    await wb.write_file("sess_a", bad, b"x")
                with pytest.raises((InvalidInput, NotFound)):
                    await wb.read_file("sess_a", bad)
            with pytest.raises(NotFound):
                await wb.read_file("sess_a", "never-written.txt")
            with pytest.raises(NotFound):
                await wb.read_file("sess_unused", "anything.txt")
            await wb.write_file("sess_a", "folder/file.txt", b"x")
            with pytest.raises(InvalidInput, match="not a regular file"):
                await wb.read_file("sess_a", "folder")
            with pytest.raises(InvalidInput, match="is a directory"):
                await wb.write_file("sess_a", "folder", b"x")
            for bad_id in ("../sess", "", "a/b", ".hidden", "x" * 129):
                with pytest.raises(InvalidInput):
                    wb.session_dir(bad_id)
        assert not (tmp_path / "escape.txt").exists()

    asyncio.run(scenario())


def test_symlinks_planted_by_the_sandbox_are_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("host secret")

    async def scenario() -> None:
        async with workbench(tmp_path / "workbench") as wb:
            made = await wb.run_bash("sess_a", f"ln -s {outside} link.txt && ln -s / root && ls -l")
            assert made.exit_code == 0, made.stderr
            listed = await wb.list_files("sess_a")
            assert "link.txt" not in listed.files and listed.others >= 1  # listed only what can be downloaded
            for path in ("link.txt", "root/etc/passwd", f"root/{outside}"):
                with pytest.raises(InvalidInput):
                    await wb.read_file("sess_a", path)
            with pytest.raises(InvalidInput):
                await wb.write_file("sess_a", f"root/{tmp_path}/planted.txt", b"x")
            await wb.write_file("sess_a", "link.txt", b"replaced the link, not its target")
            assert await wb.read_file("sess_a", "link.txt") == b"replaced the link, not its target"

    asyncio.run(scenario())
    assert outside.read_text() == "host secret"
    assert not (tmp_path / "planted.txt").exists()


def test_uploads_count_toward_the_disk_quota(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with workbench(tmp_path / "workbench", disk_quota_mb=1) as wb:
            await wb.write_file("sess_a", "small.bin", b"x" * 400_000)
            await wb.write_file("sess_a", "small.bin", b"x" * 600_000)  # replacing counts the new size only
            with pytest.raises(PayloadTooLarge, match="1 MB quota"):
                await wb.write_file("sess_a", "big.bin", b"x" * 600_000)

    asyncio.run(scenario())


def test_workbench_folders_are_not_named_after_the_session_id(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with workbench(tmp_path / "workbench") as wb:
            folder = wb.session_dir("sess_capability")
            assert folder.parent == tmp_path / "workbench" and "sess_capability" not in folder.name
            run = await wb.run_bash("sess_capability", "cat /proc/self/mountinfo /proc/1/cmdline; env")
            assert "sess_capability" not in run.stdout + run.stderr

    asyncio.run(scenario())


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="isolation"):
        WorkbenchSettings(isolation="strong")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="memory_mb"):
        WorkbenchSettings(memory_mb=0)
    with pytest.raises(ConfigError, match="default_timeout_seconds"):
        WorkbenchSettings(default_timeout_seconds=700, max_timeout_seconds=600)
    with pytest.raises(ConfigError, match="together"):
        WorkbenchSettings(llm_base_url="http://127.0.0.1:1/v1")


def test_never_silently_weaker_than_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on this PATH
    with pytest.raises(ConfigError, match="bubblewrap"):
        WorkbenchManager(tmp_path / "wb", WorkbenchSettings(isolation="bwrap"), no_tools)

    # never weaker than a sandbox: without bwrap, "auto" takes the server's own namespace sandbox
    manager = WorkbenchManager(tmp_path / "wb", WorkbenchSettings(isolation="auto"), no_tools)
    assert manager.isolation == "namespaces"
    asyncio.run(manager.aclose())


def test_folders_left_by_a_crashed_server_are_swept_and_live_ones_kept(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    leftover = tmp_path / f"{RUNTIME_PREFIX}{dead.pid}-abc123"
    (leftover / "sessions").mkdir(parents=True)
    (leftover / "sessions" / "sock").write_text("x")
    ours = tmp_path / f"{RUNTIME_PREFIX}{os.getpid()}-def456"
    ours.mkdir()
    unrelated = tmp_path / f"{RUNTIME_PREFIX}nopid"
    unrelated.mkdir()
    assert sweep_stale_runtime_dirs(tmp_path) == [leftover]
    assert not leftover.exists() and ours.exists() and unrelated.exists()
