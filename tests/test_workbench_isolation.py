"""Escape attempts (issue 4, must-show 4), each on its own: every one fails, and afterwards another
session's workbench still answers normally. These need bubblewrap: without it they fail, loudly."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import server
from server.workbench import PythonRun, WorkbenchManager
from tests.workbench_fixtures import workbench as shared_workbench

LIMITS = {"memory_mb": 1024, "max_pids": 32, "disk_quota_mb": 20, "max_file_mb": 8, "tmp_mb": 16}



def workbench(tmp_path: Path, **overrides: Any) -> Any:
    return shared_workbench(tmp_path / "data" / "workbench", **{**LIMITS, **overrides})


def fake_server_data(tmp_path: Path) -> dict[str, Path]:
    """A data dir laid out like the server's: database, config and key next to the workbench root."""
    data = tmp_path / "data"
    data.mkdir()
    files = {
        "db": data / "concierge.sqlite3",
        "config": data / "config.toml",
        "key": data / "encryption.key",
    }
    for name, path in files.items():
        path.write_text(f"top secret {name}")
    return files




async def bystander_still_works(wb: WorkbenchManager) -> None:
    started = time.monotonic()
    run = await wb.run_python("sess_bystander", "total = sum(range(10))\ntotal")
    assert (run.result, run.error) == ("45", None)
    shell = await wb.run_bash("sess_bystander", "echo fine")
    assert (shell.stdout, shell.exit_code) == ("fine\n", 0)
    assert time.monotonic() - started < 10


def processes_of(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        with contextlib.suppress(OSError):
            if entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == uid:
                count += 1
    return count


async def until_back_to(uid: int, baseline: int) -> None:
    """Killed processes take a moment to be torn down, longer on a busy machine."""
    for _ in range(100):
        if await asyncio.to_thread(processes_of, uid) <= baseline:
            return
        await asyncio.sleep(0.05)
    assert await asyncio.to_thread(processes_of, uid) <= baseline


def test_runs_in_its_own_namespaces_and_cannot_make_new_ones(tmp_path: Path) -> None:
    fake_server_data(tmp_path)

    async def scenario() -> None:
        async with workbench(tmp_path) as wb:
            run = await wb.run_bash(
                "sess_attacker",
                "hostname; ps -e -o comm= | sort | tr '\\n' ' '; echo; grep Seccomp: /proc/self/status;"
                " unshare -U -r true || echo no-new-namespace",
            )
            lines = run.stdout.splitlines()
            assert lines[0] == "workbench"
            # no host process in sight (a pipeline member may still be a forked `bash` when ps reads the table)
            assert "ps" in lines[1].split() and set(lines[1].split()) <= {"bash", "bwrap", "ps", "sort", "tr"}
            assert lines[2] == "Seccomp:\t2" and lines[3] == "no-new-namespace"
            await bystander_still_works(wb)

    asyncio.run(scenario())


def test_cannot_read_the_servers_database_config_key_or_code(tmp_path: Path, monkeypatch: Any) -> None:
    secrets = fake_server_data(tmp_path)
    monkeypatch.setenv("CONCIERGE_ENCRYPTION_KEY", "env-secret-value")
    targets = [*map(str, secrets.values()), str(Path(server.__file__).parent / "config.py"), str(tmp_path)]
    code = f"""
import os
found = []
for path in {targets!r} + ["/proc/1/root/etc/hostname", "../" * 8 + {str(secrets["db"])!r}]:
    try:
        found.append((path, open(path).read()[:20]))
    except OSError as exc:
        pass
(found, "env-secret-value" in repr(dict(os.environ)), os.listdir("/"))
"""

    async def scenario() -> None:
        async with workbench(tmp_path) as wb:
            run = await wb.run_python("sess_attacker", code)
            assert run.error is None, run.error
            found, env_leak, root = eval(run.result or "")
            assert found == [] and env_leak is False
            assert "work" not in root and "data" not in root
            await bystander_still_works(wb)

    asyncio.run(scenario())


def test_cannot_read_another_sessions_workbench(tmp_path: Path) -> None:
    fake_server_data(tmp_path)

    async def scenario() -> None:
        async with workbench(tmp_path) as wb:
            await wb.run_python("sess_victim", "victim_secret = 's3'\nopen('victim-secret.txt', 'w').write('s3')")
            victim_dir = wb.session_dir("sess_victim")
            run = await wb.run_bash(
                "sess_attacker",
                f"ls {victim_dir} 2>&1; ls .. ; find / -path /proc -prune -o -path /usr -prune "
                f"-o -path {sys.base_prefix} -prune -o -name 'victim-secret*' -print 2>/dev/null; echo end",
            )
            assert "No such file or directory" in run.stdout
            assert "victim-secret" not in run.stdout and run.stdout.endswith("end\n")
            python = await wb.run_python("sess_attacker", "'victim_secret' in globals()")
            assert python.result == "False"
            await bystander_still_works(wb)

    asyncio.run(scenario())


@contextlib.contextmanager
def listening_port() -> Iterator[tuple[int, list[str]]]:
    """A TCP server on the host's loopback (like the Concierge server's own port) that records visitors."""
    accepted: list[str] = []
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                conn, address = listener.accept()
                accepted.append(str(address))
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join()
        listener.close()


def test_has_no_network_neither_to_the_server_nor_anywhere(tmp_path: Path) -> None:
    fake_server_data(tmp_path)
    with listening_port() as (port, accepted):
        code = f"""
import socket
outcomes = []
for host, port in [("127.0.0.1", {port}), ("10.0.0.1", 80), ("1.1.1.1", 443), ("::1", {port})]:
    try:
        socket.create_connection((host, port), timeout=2).close()
        outcomes.append("connected")
    except OSError as exc:
        outcomes.append(type(exc).__name__)
try:
    socket.getaddrinfo("example.com", 443)
    outcomes.append("resolved")
except OSError as exc:
    outcomes.append(type(exc).__name__)
outcomes
"""

        async def scenario() -> None:
            async with workbench(tmp_path) as wb:
                run = await wb.run_python("sess_attacker", code)
                assert run.error is None, run.error
                assert "connected" not in (run.result or "") and "resolved" not in (run.result or "")
                assert (run.result or "").startswith("['ConnectionRefusedError', 'OSError', 'OSError'")
                await bystander_still_works(wb)

        asyncio.run(scenario())
    assert accepted == []


def test_cannot_write_outside_the_workbench(tmp_path: Path) -> None:
    fake_server_data(tmp_path)
    marker = f"concierge-escape-{os.getpid()}"
    targets = ["/etc/passwd", "/usr/bin/planted", f"{sys.prefix}/planted", "/opt/concierge/launch.py",
               "/run/concierge/planted", "/planted", "/dev/planted", str(tmp_path / "planted")]  # fmt: skip
    code = f"""
written = []
for path in {targets!r}:
    try:
        with open(path, "a") as handle:
            handle.write("pwned")
        written.append(path)
    except OSError:
        pass
open("/tmp/{marker}", "w").write("only in the sandbox's own /tmp")
written
"""

    async def scenario() -> None:
        async with workbench(tmp_path) as wb:
            run = await wb.run_python("sess_attacker", code)
            assert (run.result, run.error) == ("[]", None)
            await bystander_still_works(wb)

    asyncio.run(scenario())
    assert not Path("/tmp", marker).exists() and not (tmp_path / "planted").exists()
    assert "pwned" not in Path(server.__file__).parent.joinpath("workbench/runtime/launch.py").read_text()


def test_a_fork_bomb_is_capped_and_ended(tmp_path: Path) -> None:
    fake_server_data(tmp_path)
    bomb = "import os, time\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        time.sleep(0.01)"

    async def scenario() -> None:
        async with workbench(tmp_path) as wb:
            await wb.run_python("sess_attacker", "kept = 'state'")
            uid = wb.session_dir("sess_attacker").stat().st_uid
            baseline, peak = processes_of(uid), 0
            running = asyncio.create_task(wb.run_python("sess_attacker", bomb, timeout_seconds=3))
            await asyncio.sleep(1)
            await bystander_still_works(wb)  # while the bomb is going off
            while not running.done():
                peak = max(peak, await asyncio.to_thread(processes_of, uid))
                await asyncio.sleep(0.05)
            run = running.result()
            assert run.timed_out and run.error is not None and run.error.type == "TimeoutError"
            assert peak - baseline <= LIMITS["max_pids"] + 2  # the sandbox's init and bwrap itself
            await until_back_to(uid, baseline)  # every child of the bomb ended and reaped
            after = await wb.run_python("sess_attacker", "kept")
            assert (after.result, after.fresh_process) == ("'state'", False)

            shell = await wb.run_bash("sess_attacker", "bomb() { bomb | bomb & }; bomb; sleep 1", timeout_seconds=2)
            assert "fork: retry: Resource temporarily unavailable" in shell.stderr
            await bystander_still_works(wb)
            await until_back_to(uid, baseline)  # the shell's sandbox is gone, and the bomb with it

    asyncio.run(scenario())


def test_allocating_10gb_fails_and_the_process_survives(tmp_path: Path) -> None:
    fake_server_data(tmp_path)

    async def scenario() -> None:
        async with workbench(tmp_path) as wb:
            await wb.run_python("sess_attacker", "kept = 'state'")
            plain = await wb.run_python("sess_attacker", "hog = bytearray(10 * 1024**3)")
            assert plain.error is not None and plain.error.type == "MemoryError"
            numpy = await wb.run_python("sess_attacker", "import numpy\nhog = numpy.ones(10 * 1024**3 // 8)")
            assert numpy.error is not None and "MemoryError" in numpy.error.type
            tmpfs = await wb.run_bash(
                "sess_attacker", "for i in $(seq 10); do head -c 4M /dev/zero > /tmp/f$i || exit 9; done"
            )
            assert tmpfs.exit_code == 9 and "No space left" in tmpfs.stderr  # /tmp is RAM: capped too
            after = await wb.run_python("sess_attacker", "kept")
            assert (after.result, after.fresh_process) == ("'state'", False)
            await bystander_still_works(wb)

    asyncio.run(scenario())


def test_an_infinite_loop_is_interrupted_at_its_time_limit_and_state_is_kept(tmp_path: Path) -> None:
    fake_server_data(tmp_path)

    async def scenario() -> None:
        async with workbench(tmp_path) as wb:
            await wb.run_python("sess_attacker", "kept = 'state'")
            started = time.monotonic()
            run = await wb.run_python("sess_attacker", "while True:\n    pass", timeout_seconds=1)
            assert time.monotonic() - started < 3
            assert run.timed_out and run.error is not None and run.error.type == "TimeoutError"
            assert "variables are kept" in run.error.message and "KeyboardInterrupt" in run.error.traceback
            after = await wb.run_python("sess_attacker", "kept")
            assert (after.result, after.fresh_process) == ("'state'", False)
            await bystander_still_works(wb)

    asyncio.run(scenario())


async def past_the_limit_then_again(wb: WorkbenchManager, code: str) -> tuple[PythonRun, PythonRun]:
    """Runs `code` under a 1 s limit, then a cell after it, which must run in a new process."""
    run = await wb.run_python("sess_attacker", code, timeout_seconds=1)
    after = await wb.run_python("sess_attacker", "'still usable'")
    assert after.result == "'still usable'" and after.fresh_process, after
    return run, after


def test_a_loop_that_ignores_the_interrupt_is_killed_and_restarted_cleanly(tmp_path: Path) -> None:
    fake_server_data(tmp_path)
    stubborn = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"

    async def scenario() -> None:
        async with workbench(tmp_path) as wb:
            run, after = await past_the_limit_then_again(wb, stubborn)
            assert run.timed_out and run.error is not None and "was killed" in run.error.message
            assert after.fresh_reason == "timeout_kill"
            await bystander_still_works(wb)

    asyncio.run(scenario())


def test_a_process_that_dies_when_interrupted_at_the_limit_reports_the_limit(tmp_path: Path) -> None:
    fake_server_data(tmp_path)
    dies = "import os, time\ntry:\n    time.sleep(60)\nexcept KeyboardInterrupt:\n    os._exit(3)"

    async def scenario() -> None:
        async with workbench(tmp_path) as wb:
            run, after = await past_the_limit_then_again(wb, dies)
            assert run.timed_out and run.error is not None and run.error.type == "TimeoutError", run.error
            assert "1 s time limit" in run.error.message and "status 3" in run.error.message, run.error.message
            assert after.fresh_reason == "crashed"

    asyncio.run(scenario())


def test_filling_the_disk_past_the_quota_is_stopped_and_undone(tmp_path: Path) -> None:
    fake_server_data(tmp_path)
    filler = (
        "i = 0\nwhile True:\n    with open(f'fill{i}.bin', 'wb') as f:\n        f.write(b'x' * 1_000_000)\n    i += 1"
    )

    async def scenario() -> None:
        async with workbench(tmp_path) as wb:
            await wb.write_file("sess_attacker", "keep.txt", b"earlier work")
            run = await wb.run_python("sess_attacker", filler)
            assert run.error is not None and run.error.type == "DiskQuotaExceeded"
            assert "20 MB disk quota" in run.error.message and run.files == []
            usage = await wb.run_bash("sess_attacker", "du -sk . | cut -f1; ls")
            kilobytes, *names = usage.stdout.split()
            assert int(kilobytes) < 1024 and names == ["keep.txt", "outputs"]

            one_file = await wb.run_python("sess_attacker", "open('big.bin', 'wb').write(b'x' * (9 << 20))")
            assert one_file.fresh_reason == "disk_quota"  # the filler's process was stopped
            assert one_file.error is not None and "File too large" in one_file.error.message
            quick = await wb.run_bash("sess_attacker", "for i in $(seq 5); do head -c 7M /dev/zero > q$i; done")
            assert "disk quota" in (quick.notice or "") and quick.files == []
            assert (await wb.read_file("sess_attacker", "keep.txt")) == b"earlier work"
            await bystander_still_works(wb)

    asyncio.run(scenario())
