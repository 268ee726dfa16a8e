"""The shell tool (issue 4, must-show 6): same workbench and limits, exit codes, time limit."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from server.errors import InvalidInput
from server.meta_tools.base import MetaContext
from server.meta_tools.workbench import BashInput, run_bash
from server.workbench.runs import BashRun
from tests.workbench_fixtures import workbench


def test_ls_sees_the_files_python_and_uploads_wrote(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with workbench(tmp_path / "workbench") as wb:
            await wb.write_file("sess_a", "upload.txt", b"from the host")
            await wb.run_python("sess_a", "open('made-by-python.txt', 'w').write('py')")
            run = await wb.run_bash("sess_a", "pwd; ls")
            assert run.exit_code == 0 and not run.timed_out
            assert run.stdout.split() == ["/workbench", "made-by-python.txt", "outputs", "upload.txt"]
            made = await wb.run_bash("sess_a", "echo shell > from-shell.txt")
            assert made.files == ["from-shell.txt"]

    asyncio.run(scenario())


def test_python3_runs_with_the_data_libraries(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with workbench(tmp_path / "workbench") as wb:
            run = await wb.run_bash(
                "sess_a", "python3 -c 'import numpy, pandas, sys; print(sys.version_info[:2], numpy.ones(3).sum())'"
            )
            assert (run.stdout, run.stderr, run.exit_code) == ("(3, 11) 3.0\n", "", 0)

    asyncio.run(scenario())


def test_a_failing_command_reports_its_exit_code_and_stderr(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with workbench(tmp_path / "workbench") as wb:
            run = await wb.run_bash("sess_a", "ls no-such-file")
            assert run.exit_code == 2 and "No such file" in run.stderr
            assert (await wb.run_bash("sess_a", "echo partial; exit 7")).exit_code == 7
            assert (await wb.run_bash("sess_a", "kill -9 $$")).exit_code == 137

    asyncio.run(scenario())


def test_a_command_past_its_time_limit_is_killed_with_its_background_jobs(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with workbench(tmp_path / "workbench") as wb:
            started = time.monotonic()
            run = await wb.run_bash("sess_a", "echo begun; sleep 30", timeout_seconds=1)
            assert time.monotonic() - started < 5
            assert run.timed_out and run.exit_code is None
            assert run.stdout == "begun\n" and "time limit" in (run.notice or "")

            # A background job ends with its command: the next command's sandbox has no trace of it.
            await wb.run_bash("sess_a", "(sleep 1; echo late > late.txt) &")
            await asyncio.sleep(1.5)
            later = await wb.run_bash("sess_a", "ls late.txt; ps -e -o comm= | grep -c sleep")
            assert later.stdout == "0\n" and "No such file" in later.stderr

    asyncio.run(scenario())


def test_long_shell_output_is_cut_and_kept(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with workbench(tmp_path / "workbench", output_limit_chars=500) as wb:
            run = await wb.run_bash("sess_a", "yes | head -c 100000")
            assert run.stdout_file_path == "outputs/run-0001.stdout.txt"
            assert run.stdout.endswith("…[truncated: 100,000 chars; full text in outputs/run-0001.stdout.txt]")
            assert len(await wb.read_file("sess_a", run.stdout_file_path)) == 100_000

    asyncio.run(scenario())


def test_bad_commands_and_time_limits_are_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with workbench(tmp_path / "workbench", max_timeout_seconds=60) as wb:
            for command in ("", "   ", "x" * 100_001):
                with pytest.raises(InvalidInput):
                    await wb.run_bash("sess_a", command)
            with pytest.raises(InvalidInput, match="NUL"):  # bash could not be started with it
                await wb.run_bash("sess_a", "echo a\x00b")
            for timeout in (0, -1, 61):
                with pytest.raises(InvalidInput, match="timeout_seconds"):
                    await wb.run_bash("sess_a", "true", timeout_seconds=timeout)

    asyncio.run(scenario())


def test_a_command_stopped_for_another_limit_says_which(tmp_path: Path) -> None:
    """A command killed for the disk quota has no exit code: its error says why instead of "code None"."""
    notice = "The workbench went over its 20 MB disk quota; the files written were removed. The command was killed."
    runs = [BashRun("", "", None, False, 0.5, notice=notice), BashRun("", "", None, True, 1.0),
            BashRun("", "", 3, False, 0.1)]

    class Bench:
        async def run_bash(self, session_id: str, command: str, timeout_seconds: float | None) -> BashRun:
            return runs.pop(0)

    ctx = MetaContext(SimpleNamespace(workbench=Bench()), SimpleNamespace(id="sess_a"))  # type: ignore[arg-type]
    errors = [asyncio.run(run_bash(ctx, BashInput(command="x")))["error"] for _ in range(3)]
    assert errors == [f"command was stopped: {notice}", "command timed out", "command exited with code 3"]
