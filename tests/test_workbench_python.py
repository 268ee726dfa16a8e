"""The persistent Python process (issue 4, must-show 1 and 5): state, values, errors, lifecycle."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.workbench_fixtures import workbench


def test_variables_and_functions_persist_across_calls(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with workbench(tmp_path / "workbench") as wb:
            first = await wb.run_python("sess_a", "x = 41")
            assert first.fresh_process and first.fresh_reason == "first_use"
            assert first.result is None and first.error is None
            assert "variables" in (first.notice or "")

            second = await wb.run_python("sess_a", "x + 1")
            assert second.result == "42"
            assert not second.fresh_process and second.notice is None

            await wb.run_python("sess_a", "def double(n):\n    return 2 * n")
            third = await wb.run_python("sess_a", "print('double:', double(x))\ndouble(4)")
            assert (third.stdout, third.result) == ("double: 82\n", "8")
            assert third.to_dict()["results"] == "8"

    asyncio.run(scenario())


def test_idle_stop_keeps_files_and_says_variables_were_reset(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with workbench(tmp_path / "workbench", idle_timeout_seconds=0.3) as wb:
            run = await wb.run_python("sess_a", "x = 1\nopen('notes.txt', 'w').write('kept')")
            assert run.files == ["notes.txt"]
            await asyncio.sleep(1.0)
            after = await wb.run_python("sess_a", "print(open('notes.txt').read())\n'x' in globals()")
            assert after.fresh_process and after.fresh_reason == "idle"
            assert "variables were reset" in (after.notice or "") and "files" in (after.notice or "")
            assert (after.stdout, after.result) == ("kept\n", "False")

    asyncio.run(scenario())


def test_exception_in_user_code_is_a_result_and_the_process_lives_on(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with workbench(tmp_path / "workbench") as wb:
            await wb.run_python("sess_a", "kept = 'yes'")
            run = await wb.run_python("sess_a", "def f():\n    raise ValueError('bad input')\nprint('before')\nf()")
            assert run.error is not None and run.error.type == "ValueError"
            assert run.error.message == "bad input"
            assert 'File "<cell 2>", line 2, in f' in run.error.traceback
            assert run.stdout == "before\n"

            syntax = await wb.run_python("sess_a", "def broken(:")
            assert syntax.error is not None and syntax.error.type == "SyntaxError"

            exited = await wb.run_python("sess_a", "raise SystemExit(3)")
            assert exited.error is not None and exited.error.type == "SystemExit"

            assert (await wb.run_python("sess_a", "kept")).result == "'yes'"

    asyncio.run(scenario())


def test_a_dead_process_is_restarted_with_a_notice(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with workbench(tmp_path / "workbench") as wb:
            await wb.run_python("sess_a", "x = 1")
            died = await wb.run_python("sess_a", "import os\nos._exit(3)")
            assert died.error is not None and died.error.type == "ProcessDied"
            assert "exited with status 3" in died.error.message

            again = await wb.run_python("sess_a", "'x' in globals()")
            assert again.fresh_process and again.fresh_reason == "crashed"
            assert "exited with status 3" in (again.notice or "")
            assert again.result == "False"

    asyncio.run(scenario())


def test_stop_and_eviction_reset_variables_with_the_reason(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with workbench(tmp_path / "workbench", max_processes=1) as wb:
            await wb.run_python("sess_a", "a = 1")
            other = await wb.run_python("sess_b", "b = 2")  # only one process may live: a's goes
            assert other.fresh_reason == "first_use"
            back = await wb.run_python("sess_a", "'a' in globals()")
            assert (back.fresh_reason, back.result) == ("evicted", "False")

            await wb.stop("sess_a")
            stopped = await wb.run_python("sess_a", "1")
            assert stopped.fresh_reason == "stopped"

    asyncio.run(scenario())


def test_long_output_is_cut_with_a_marker_and_kept_in_full(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with workbench(tmp_path / "workbench", output_limit_chars=1000) as wb:
            run = await wb.run_python("sess_a", "print('x' * 5000)\nimport sys\nsys.stderr.write('warn')\n'y' * 3000")
            assert run.stdout_file_path == "outputs/run-0001.stdout.txt"
            assert run.stdout == "x" * 1000 + "\n…[truncated: 5,001 chars; full text in outputs/run-0001.stdout.txt]"
            full = await wb.read_file("sess_a", run.stdout_file_path)
            assert full == b"x" * 5000 + b"\n"
            assert run.results_file_path == "outputs/run-0001.result.txt"
            assert run.result is not None and run.result.startswith("'yyy") and "3,002 chars" in run.result
            assert (run.stderr, run.stderr_file_path) == ("warn", None)
            assert run.files == []  # capture files are reported as *_file_path, not as the run's files

            short = await wb.run_python("sess_a", "print('small')")
            assert short.stdout == "small\n" and short.stdout_file_path is None

    asyncio.run(scenario())


def test_output_of_subprocesses_and_top_level_await_are_captured(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with workbench(tmp_path / "workbench") as wb:
            run = await wb.run_python(
                "sess_a", "import asyncio, os\nos.system('echo from-a-shell')\nawait asyncio.sleep(0)\n6 * 7"
            )
            assert run.stdout == "from-a-shell\n" and run.result == "42"

    asyncio.run(scenario())


def test_runs_in_one_session_are_serialised(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with workbench(tmp_path / "workbench") as wb:
            first, second = await asyncio.gather(
                wb.run_python("sess_a", "import time\ntime.sleep(0.5)\nx = 'set by the first'"),
                wb.run_python("sess_a", "x"),
            )
            assert first.error is None and second.result == "'set by the first'"

    asyncio.run(scenario())


def test_two_sessions_run_concurrently_without_sharing_anything(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with workbench(tmp_path / "workbench") as wb:
            await asyncio.gather(
                wb.run_python("sess_a", "secret = 'alpha'\nopen('a.txt', 'w').write('alpha')"),
                wb.run_python("sess_b", "secret = 'beta'\nopen('b.txt', 'w').write('beta')"),
            )
            started = time.monotonic()
            a, b = await asyncio.gather(
                wb.run_python("sess_a", "import time, os\ntime.sleep(1)\n(secret, sorted(os.listdir('.')))"),
                wb.run_python("sess_b", "import time, os\ntime.sleep(1)\n(secret, sorted(os.listdir('.')))"),
            )
            assert time.monotonic() - started < 1.9  # in parallel, not one after the other
            assert a.result == "('alpha', ['a.txt', 'outputs'])"
            assert b.result == "('beta', ['b.txt', 'outputs'])"

    asyncio.run(scenario())
