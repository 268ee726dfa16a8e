"""Per-session workbenches: a directory, a persistent sandboxed Python process, shell commands, tool calls.

One `WorkbenchManager` serves the whole server. Runs in one session are serialised (a session's
lock); different sessions run concurrently, at most `max_processes` Python processes at once
(the least recently used idle one is stopped to make room). Exceptions in user code are results,
not API errors; API errors are `server.errors` types (bad input, unknown file, broken sandbox).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from server.errors import ConciergeError, Conflict, InvalidInput, NotFound, PayloadTooLarge
from server.workbench import files
from server.workbench.channel import ToolChannel, ToolRunner
from server.workbench.llm import LlmClient
from server.workbench.process import CellOutcome, Kernel, SandboxProcess, describe_exit
from server.workbench.runs import BashRun, FreshReason, PythonRun, RunError, collect_output, without_full_text
from server.workbench.sandbox import Sandbox, SessionPaths
from server.workbench.settings import WorkbenchSettings

log = logging.getLogger(__name__)
RUNTIME_PREFIX = "concierge-wb-"

T = TypeVar("T")

OUTPUTS_DIR = "outputs"
STAGING_DIR = ".uploads"  # session folders are named by a hex hash, so this name never collides
MAX_COMMAND_CHARS = 100_000
_SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_RUN_FILE = re.compile(r"run-(\d+)\.")
_MB = 1 << 20
_QUOTA_POLL_SECONDS = 0.05
_HEADROOM = _MB  # the watchdog lets a run's own output through; the check at its end is exact
# Threads for walking and writing workbench folders, apart from the loop's default pool (which other
# work needs) and used one at a time per session, so one session's huge folder cannot hold them all.
_FILE_THREADS = 4
_SWITCH_INTERVAL = 0.0005

_KEPT = "files in the workbench are kept"
_FRESH_NOTICES: dict[FreshReason, str] = {
    "first_use": f"A new Python process was started for this session: no earlier variables exist; {_KEPT}.",
    "idle": "The previous Python process was stopped after {idle:g} s without use, so variables were "
    f"reset; {_KEPT}.",
    "crashed": f"The previous Python process {{detail}}, so variables were reset; {_KEPT}.",
    "timeout_kill": "The previous Python process was killed because it did not stop when interrupted at "
    f"its time limit, so variables were reset; {_KEPT}.",
    "evicted": "The previous Python process was stopped to make room for other sessions (at most "
    f"{{max_processes}} run at once), so variables were reset; {_KEPT}.",
    "stopped": f"The previous Python process was stopped by the server, so variables were reset; {_KEPT}.",
    "disk_quota": "The previous Python process was stopped when the workbench went over its disk quota, "
    f"so variables were reset; {_KEPT}.",
}


@dataclass(frozen=True)
class _Collected:
    """A finished run's output (cut to the limit), the files it changed, and quota messages."""

    texts: dict[str, str]
    kept: dict[str, str | None]
    files: list[str]
    quota_message: str | None
    notices: list[str]


@dataclass(eq=False)
class _Session:
    id: str
    paths: SessionPaths
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    file_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    kernel: Kernel | None = None
    channel: ToolChannel | None = None
    next_fresh: FreshReason = "first_use"
    fresh_detail: str = ""
    last_used: float = 0.0
    run_counter: int | None = None
    idle_timer: asyncio.TimerHandle | None = None


class WorkbenchManager:
    """Owns every session's workbench under `root` (one folder per session id).

    Construction decides the isolation level (a ~0.1 s trial of bubblewrap, once, at start-up) and
    raises ConfigError when the configured level cannot be had here.

    The per-session map is bounded: beyond `MAX_SESSIONS` the least recently used sessions that are
    not running anything are forgotten (their idle process stopped first); their files stay.
    """

    MAX_SESSIONS = 2_000
    MAX_DISCARDED = 100_000

    def __init__(self, root: Path, settings: WorkbenchSettings, tool_runner: ToolRunner) -> None:
        self._root = Path(root).absolute()
        self._root.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Uploads are written here first; what a killed server left half-written is removed now.
        self._staging = self._root / STAGING_DIR
        shutil.rmtree(self._staging, ignore_errors=True)
        self._staging.mkdir(mode=0o700)
        self._settings = settings
        self._tool_runner = tool_runner
        # Socket paths must stay under ~100 bytes, so they live in a short temp folder, not under root;
        # its name carries our pid, so a later start can tell a crashed server's leftovers from a live one's.
        sweep_stale_runtime_dirs(Path(tempfile.gettempdir()))
        self._runtime = Path(tempfile.mkdtemp(prefix=f"{RUNTIME_PREFIX}{os.getpid()}-"))
        try:
            self._sandbox = Sandbox.choose(settings, self._runtime)
        except BaseException:
            shutil.rmtree(self._runtime, ignore_errors=True)
            raise
        self._llm = (
            LlmClient(settings.llm_base_url, settings.llm_model, settings.llm_api_key)
            if settings.llm_base_url and settings.llm_model
            else None
        )
        self._file_threads = ThreadPoolExecutor(_FILE_THREADS, thread_name_prefix="workbench-files")
        # Walks of huge folders hold the GIL in those threads; with Python's default 5 ms switch
        # interval every request the event loop serves meanwhile waits that long at each hand-over.
        sys.setswitchinterval(min(sys.getswitchinterval(), _SWITCH_INTERVAL))
        self._stopping = threading.Event()
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._discarded: OrderedDict[str, None] = OrderedDict()
        self._numbers = itertools.count()
        self._live: set[_Session] = set()
        self._slot_freed = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def isolation(self) -> str:
        """The effective level: "bwrap", "namespaces", "rlimit-only" or "off"."""
        return self._sandbox.level

    @property
    def settings(self) -> WorkbenchSettings:
        return self._settings

    @property
    def running(self) -> int:
        """Sandboxed Python processes alive now (at most `max_processes`)."""
        return len(self._live)

    def session_dir(self, session_id: str) -> Path:
        """The host folder holding the session's workbench files (created on first use).

        It is named by a hash of the session id: sandboxed code can read its own mount table, and
        the session id is a bearer capability it must not learn.
        """
        return self._root / _folder_name(_check_session_id(session_id))

    async def write_file(self, session_id: str, relpath: str, data: bytes) -> Path:
        """Write a file into the workbench (e.g. an upload or an offloaded result); counts toward the quota."""
        session = self._session(session_id)
        return await self._in_thread(session, self._write_file, session, relpath, data)

    async def list_files(self, session_id: str) -> files.Scan:
        """The workbench's files (at most `max_files` entries are walked)."""
        session = self._session(session_id)
        if not session.paths.workdir.is_dir():
            return files.Scan({}, frozenset(), 0)
        return await self._scan(session)

    def _write_file(self, session: _Session, relpath: str, data: bytes) -> Path:
        parts = files.split_relpath(relpath)
        self._sandbox.prepare(session.paths)
        current = files.scan(session.paths.workdir, self._settings.max_files, self._stopping)
        key = "/".join(parts)
        crowded = not current.complete or current.entries + len(parts) > self._settings.max_files
        if key not in current.files and crowded:
            raise PayloadTooLarge(self._too_many_files("writing another file"), {"path": relpath})
        old_size = current.files.get(key, (0, 0))[0]
        quota = self._settings.disk_quota_mb * _MB
        if current.bytes_used - old_size + len(data) > quota:
            raise PayloadTooLarge(
                f"writing {len(data):,} bytes to {relpath!r} would put the workbench over its "
                f"{self._settings.disk_quota_mb} MB quota",
                {"path": relpath, "bytes_used": current.bytes_used, "quota_bytes": quota},
            )
        return files.write_file(session.paths.workdir, relpath, data, session.paths.owner, self._staging)

    async def read_file(self, session_id: str, relpath: str) -> bytes:
        """A file's bytes; NotFound when missing, InvalidInput for traversal or a non-file."""
        session = self._session(session_id)
        if not session.paths.workdir.is_dir():
            raise NotFound(f"no file {relpath!r} in the workbench", {"path": relpath})
        return await self._in_thread(session, files.read_file, session.paths.workdir, relpath)

    async def run_python(self, session_id: str, code: str, timeout_seconds: float | None = None) -> PythonRun:
        """Run a cell in the session's persistent process (started on demand)."""
        if not isinstance(code, str):
            raise InvalidInput("code must be a string")
        seconds = self._timeout(timeout_seconds)
        session = self._session(session_id)
        async with self._using(session):
            return await self._run_python(session, code, seconds)

    async def run_bash(self, session_id: str, command: str, timeout_seconds: float | None = None) -> BashRun:
        """Run `bash -c command` in a new sandbox on the same workbench (background jobs end with it)."""
        if not isinstance(command, str) or not command.strip():
            raise InvalidInput("command must be a non-empty string")
        if len(command) > MAX_COMMAND_CHARS:
            raise InvalidInput(
                f"the command is {len(command):,} chars long; the limit is {MAX_COMMAND_CHARS:,} "
                "(write a script file and run that instead)"
            )
        if "\x00" in command:  # no program can take one in its arguments
            raise InvalidInput("a command cannot contain a NUL character (\\u0000)")
        seconds = self._timeout(timeout_seconds)
        session = self._session(session_id)
        async with self._using(session):
            return await self._run_bash(session, command, seconds)

    async def stop(self, session_id: str) -> None:
        """Stop the session's process (variables go, files stay); the next run starts a fresh one."""
        session = self._sessions.get(_check_session_id(session_id))
        if session is not None:
            async with session.lock:
                await self._stop_session(session, "stopped")

    async def discard(self, session_id: str) -> None:
        """The session was deleted: its process is killed (a run in progress ends now), its channel
        closed, its files removed, and its id refused from now on."""
        session_id = _check_session_id(session_id)
        self._discarded[session_id] = None
        while len(self._discarded) > self.MAX_DISCARDED:
            self._discarded.popitem(last=False)
        session = self._sessions.pop(session_id, None)
        if session is not None:
            if session.kernel is not None:
                await session.kernel.proc.kill()
            async with session.lock:
                await self._stop_session(session, "stopped")
            await asyncio.to_thread(shutil.rmtree, session.paths.channel_dir, True)
        await asyncio.to_thread(_remove_tree, self._root / _folder_name(session_id))

    async def aclose(self) -> None:
        """Kill every process and close every channel (app shutdown); files stay on disk."""
        self._closed = True
        self._stopping.set()  # walks in progress give up
        for task in list(self._background):
            task.cancel()
        for session in list(self._sessions.values()):
            await self._stop_session(session, "stopped")
        if self._llm is not None:
            await self._llm.aclose()
        self._file_threads.shutdown(wait=False, cancel_futures=True)
        await asyncio.to_thread(shutil.rmtree, self._runtime, True)

    async def _in_thread(self, session: _Session, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking file work in the workbench's threads, one job at a time per session."""
        async with session.file_lock:
            return await asyncio.get_running_loop().run_in_executor(self._file_threads, lambda: fn(*args))

    async def _scan(self, session: _Session) -> files.Scan:
        return await self._in_thread(
            session, files.scan, session.paths.workdir, self._settings.max_files, self._stopping
        )

    def _too_many_files(self, what: str) -> str:
        return (
            f"{what} would put the workbench over its limit of {self._settings.max_files:,} files and folders "
            "(workbench.max_files): delete files or folders first"
        )

    # -- sessions and their lifetime --------------------------------------------------------

    def _session(self, session_id: str) -> _Session:
        if self._closed:
            raise ConciergeError("the workbench manager is closed")
        session_id = _check_session_id(session_id)
        if session_id in self._discarded:
            raise NotFound("this session was deleted; its workbench is gone. Create a new session.")
        session = self._sessions.get(session_id)
        if session is None:
            paths = SessionPaths(
                self._root / _folder_name(session_id),
                self._runtime / f"s{next(self._numbers)}",
                self._sandbox.owner(session_id),
            )
            session = self._sessions[session_id] = _Session(session_id, paths)
            self._trim()
        self._sessions.move_to_end(session_id)
        return session

    def _trim(self) -> None:
        """Forget least recently used sessions beyond MAX_SESSIONS; an idle process of theirs is stopped."""
        excess = len(self._sessions) - self.MAX_SESSIONS
        for session in list(self._sessions.values()):
            if excess <= 0:
                return
            if session.lock.locked():
                continue
            del self._sessions[session.id]
            excess -= 1
            if session.kernel is not None or session.channel is not None or session.idle_timer is not None:
                task = asyncio.ensure_future(self._stop_forgotten(session))
                self._background.add(task)
                task.add_done_callback(self._background.discard)

    async def _stop_forgotten(self, session: _Session) -> None:
        async with session.lock:
            await self._stop_session(session, "evicted")
        await asyncio.to_thread(shutil.rmtree, session.paths.channel_dir, True)

    def _timeout(self, seconds: float | None) -> float:
        if seconds is None:
            return self._settings.default_timeout_seconds
        if not seconds > 0 or seconds > self._settings.max_timeout_seconds:
            raise InvalidInput(
                f"timeout_seconds must be above 0 and at most {self._settings.max_timeout_seconds:g}, got {seconds!r}"
            )
        return float(seconds)

    @contextlib.asynccontextmanager
    async def _using(self, session: _Session) -> AsyncIterator[None]:
        """Hold the session's lock for a run and restart its idle countdown afterwards."""
        async with session.lock:
            if session.idle_timer is not None:
                session.idle_timer.cancel()
            try:
                await self._in_thread(session, self._sandbox.prepare, session.paths)
                if session.channel is None:
                    channel = ToolChannel(
                        session.id,
                        session.paths.socket,
                        self._tool_runner,
                        self._llm,
                        self._settings.max_parallel_tool_calls,
                        session.paths.owner,
                        self._settings.tool_request_max_bytes,
                    )
                    await channel.start()
                    session.channel = channel
                yield
            finally:
                loop = asyncio.get_running_loop()
                session.last_used = loop.time()
                session.idle_timer = loop.call_later(self._settings.idle_timeout_seconds, self._on_idle, session)

    def _on_idle(self, session: _Session) -> None:
        task = asyncio.ensure_future(self._stop_if_idle(session))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _stop_if_idle(self, session: _Session) -> None:
        if session.lock.locked():
            return  # a run is going on; it restarts the countdown when it ends
        async with session.lock:
            idle = asyncio.get_running_loop().time() - session.last_used
            if idle >= self._settings.idle_timeout_seconds * 0.99:
                await self._stop_session(session, "idle")

    async def _stop_session(self, session: _Session, reason: FreshReason) -> None:
        if session.idle_timer is not None:
            session.idle_timer.cancel()
        if session.kernel is not None:
            await session.kernel.proc.kill()
            session.kernel = None
            session.next_fresh = reason
        if session.channel is not None:
            await session.channel.close()
            session.channel = None
        self._release_slot(session)

    def _release_slot(self, session: _Session) -> None:
        if session in self._live:
            self._live.discard(session)
            self._slot_freed.set()
            self._slot_freed = asyncio.Event()

    async def _reserve_slot(self, session: _Session, deadline: float) -> None:
        """Take one of `max_processes` slots, stopping the least recently used idle process if needed."""
        loop = asyncio.get_running_loop()
        while len(self._live) >= self._settings.max_processes:
            idle = [s for s in self._live if not s.lock.locked()]
            if idle:
                victim = min(idle, key=lambda s: s.last_used)
                async with victim.lock:
                    if victim in self._live:
                        await self._stop_session(victim, "evicted")
                continue
            try:
                await asyncio.wait_for(self._slot_freed.wait(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise Conflict(
                    f"all {self._settings.max_processes} workbench processes are busy; try again shortly"
                ) from None
        self._live.add(session)

    async def _ensure_kernel(self, session: _Session, limit_seconds: float) -> tuple[FreshReason, str] | None:
        """Start the session's process if it has none; returns why (reason, notice) when it did."""
        if session.kernel is not None and session.kernel.proc.alive:
            return None
        if session.kernel is not None:  # died between runs (CPU limit, a background thread, ...)
            session.next_fresh = "crashed"
            session.fresh_detail = describe_exit(session.kernel.proc.process.returncode)
            session.kernel = None
        self._release_slot(session)
        reason = session.next_fresh
        notice = _FRESH_NOTICES[reason].format(
            idle=self._settings.idle_timeout_seconds,
            detail=session.fresh_detail,
            max_processes=self._settings.max_processes,
        )
        await self._reserve_slot(session, asyncio.get_running_loop().time() + limit_seconds)
        try:
            session.kernel = await Kernel.start(
                self._sandbox.launch(session.paths, {"mode": "repl"}),
                reap_on_interrupt=self._sandbox.confined,
            )
        except BaseException:
            self._release_slot(session)
            raise
        return reason, notice

    # -- runs ---------------------------------------------------------------------------------

    async def _run_python(self, session: _Session, code: str, limit_seconds: float) -> PythonRun:
        started = time.monotonic()
        fresh = await self._ensure_kernel(session, limit_seconds)
        kernel = session.kernel
        assert kernel is not None
        run_no = await self._next_run_number(session)
        capture = {kind: f"{OUTPUTS_DIR}/run-{run_no:04d}.{kind}.txt" for kind in ("stdout", "stderr", "result")}
        before = await self._scan_before_run(session)
        request = {"op": "run", "id": str(run_no), "code": code, **capture}
        outcome, over_quota = await self._guarded(kernel.run(request, limit_seconds), session, before, kernel.proc.kill)
        error = self._cell_error(session, kernel, outcome, over_quota is not None, limit_seconds)
        done = await self._collect(session, before, capture, over_quota)
        if done.quota_message:
            stopped = "" if over_quota is None else " The Python process was stopped; the next run starts a new one."
            error = RunError("DiskQuotaExceeded", done.quota_message + stopped, error.traceback if error else "")
        notices = [fresh[1]] if fresh else []
        return PythonRun(
            stdout=done.texts["stdout"],
            stderr=done.texts["stderr"],
            result=done.texts["result"] or None,
            error=error,
            files=done.files,
            execution_time=round(time.monotonic() - started, 3),
            fresh_process=fresh is not None,
            fresh_reason=fresh[0] if fresh else None,
            timed_out=outcome.timed_out,
            notice=" ".join(notices + done.notices) or None,
            results_file_path=done.kept["result"],
            stdout_file_path=done.kept["stdout"],
            stderr_file_path=done.kept["stderr"],
        )

    def _cell_error(
        self, session: _Session, kernel: Kernel, outcome: CellOutcome, killed_for_quota: bool, limit_seconds: float
    ) -> RunError | None:
        """The cell's own error; when the run cost the process its life, also what the next run will say."""
        reply_error = (outcome.reply or {}).get("error")
        error = RunError(**reply_error) if isinstance(reply_error, dict) else None
        if not killed_for_quota and outcome.reply is not None:
            if not outcome.timed_out:
                return error
            return RunError(
                "TimeoutError",
                f"The cell was interrupted at its {limit_seconds:g} s time limit; variables are kept.",
                error.traceback if error else "",
            )
        session.kernel = None
        self._release_slot(session)
        if killed_for_quota:
            session.next_fresh = "disk_quota"
            return error  # the quota message replaces it once the run's additions are undone
        if outcome.killed_after_timeout:
            session.next_fresh = "timeout_kill"
            return RunError(
                "TimeoutError",
                f"The cell did not stop when interrupted at its {limit_seconds:g} s time limit, so the Python "
                "process was killed; the next run starts a new one (variables are lost, files are kept).",
            )
        session.next_fresh = "crashed"
        session.fresh_detail = describe_exit(kernel.proc.process.returncode)
        if outcome.timed_out:  # it died while being interrupted at the limit: the limit is the cause
            return RunError(
                "TimeoutError",
                f"The cell was interrupted at its {limit_seconds:g} s time limit and the Python process "
                f"{session.fresh_detail} with it; the next run starts a new one (variables are lost, files are kept).",
            )
        return RunError(
            "ProcessDied",
            f"The Python process {session.fresh_detail} during this run; the next run starts a new one "
            "(variables are lost, files are kept).",
        )

    async def _run_bash(self, session: _Session, command: str, limit_seconds: float) -> BashRun:
        started = time.monotonic()
        run_no = await self._next_run_number(session)
        capture = {kind: f"{OUTPUTS_DIR}/run-{run_no:04d}.{kind}.txt" for kind in ("stdout", "stderr")}
        before = await self._scan_before_run(session)
        launch = self._sandbox.launch(session.paths, {"mode": "shell", "command": command, **capture})
        proc = await SandboxProcess.start(launch, interactive=False)
        (exit_code, timed_out), over_quota = await self._guarded(
            _wait_shell(proc, limit_seconds), session, before, proc.kill
        )
        done = await self._collect(session, before, capture, over_quota)
        stderr = done.texts["stderr"]
        if proc.stderr_tail():  # the sandbox itself failed (bwrap or the launcher), not the command
            stderr = f"{stderr}\n[sandbox] {proc.stderr_tail()}".lstrip("\n")
        notices = []
        if done.quota_message:
            notices.append(done.quota_message + (" The command was killed." if over_quota is not None else ""))
        if over_quota is not None:
            exit_code = None
        elif timed_out:
            notices.append(f"The command was killed at its {limit_seconds:g} s time limit.")
        return BashRun(
            stdout=done.texts["stdout"],
            stderr=stderr,
            exit_code=exit_code,
            timed_out=timed_out,
            execution_time=round(time.monotonic() - started, 3),
            files=done.files,
            notice=" ".join(notices + done.notices) or None,
            stdout_file_path=done.kept["stdout"],
            stderr_file_path=done.kept["stderr"],
        )

    async def _scan_before_run(self, session: _Session) -> files.Scan:
        """What a run's changes are measured against; the workbench must be within its entry limit."""
        before = await self._scan(session)
        if not before.complete:
            raise Conflict(self._too_many_files("the workbench holds too many entries: a run"))
        return before

    def _quota_limit(self, before: files.Scan) -> int:
        """What a run may grow the workbench to: its quota, or its size at the start if already over."""
        return max(self._settings.disk_quota_mb * _MB, before.bytes_used)

    async def _guarded(
        self, work: Awaitable[T], session: _Session, before: files.Scan, kill: Callable[[], Awaitable[None]]
    ) -> tuple[T, files.Scan | None]:
        """Await `work` while sampling the workbench's size; past the quota or the entry limit, `kill` the run.

        Returns the work's value and the scan that stopped it (else None).
        """
        task = asyncio.ensure_future(work)
        watchdog = asyncio.create_task(self._watch_usage(session, self._quota_limit(before) + _HEADROOM))
        try:
            await asyncio.wait({task, watchdog}, return_when=asyncio.FIRST_COMPLETED)
            over = watchdog.result() if watchdog.done() else None
            if over is not None:
                await kill()
            return await task, over
        finally:
            watchdog.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _collect(
        self, session: _Session, before: files.Scan, capture: dict[str, str], over_quota: files.Scan | None
    ) -> _Collected:
        """Read the run's output, list the files it changed, and enforce the quota at rest.

        A run that left the workbench over its limit (whether or not the watchdog caught it in time)
        has its additions undone: files it created are removed, files it enlarged are cut back.
        """
        workdir = session.paths.workdir
        texts: dict[str, str] = {}
        kept: dict[str, str | None] = {}
        for kind, path in capture.items():
            texts[kind], kept[kind] = await self._in_thread(
                session, collect_output, workdir, path, self._settings.output_limit_chars
            )
        after = await self._scan(session)
        quota_message = None
        if over_quota is not None or not after.complete or after.bytes_used > self._quota_limit(before):
            too_many = not after.complete or (over_quota is not None and not over_quota.complete)
            peak = max(over_quota.bytes_used if over_quota else 0, after.bytes_used)
            undone = await self._in_thread(session, files.undo_growth, workdir, before)
            for kind, kept_path in kept.items():
                if kept_path is not None and kept_path in undone:
                    texts[kind], kept[kind] = without_full_text(texts[kind], kept_path), None
            after = await self._scan(session)
            what = (
                f"created more than {self._settings.max_files:,} files and folders in the workbench (its limit, "
                "workbench.max_files)"
                if too_many
                else f"took the workbench to {peak / _MB:,.1f} MB, over its {self._settings.disk_quota_mb} MB "
                "disk quota"
            )
            quota_message = (
                f"This run {what}, so what it added was undone ({len(undone):,} file(s) or folder(s) removed or "
                "cut back to their earlier size)."
            )
        notices = []
        if after.bytes_used > self._settings.disk_quota_mb * _MB:
            notices.append(
                f"The workbench uses {after.bytes_used / _MB:,.1f} MB, over its {self._settings.disk_quota_mb} MB "
                "disk quota: delete files to make room (what a run adds is undone while it is over)."
            )
        changed = [p for p in after.changed_since(before) if p not in capture.values()]
        return _Collected(texts, kept, changed, quota_message, notices)

    async def _watch_usage(self, session: _Session, limit: int) -> files.Scan:
        """Return the first scan over `limit` bytes or the entry limit; polls less often when scans are slow."""
        interval = _QUOTA_POLL_SECONDS
        while True:
            await asyncio.sleep(interval)
            started = time.monotonic()
            usage = await self._scan(session)
            if usage.bytes_used > limit or not usage.complete:
                return usage
            interval = max(_QUOTA_POLL_SECONDS, 10 * (time.monotonic() - started))

    async def _next_run_number(self, session: _Session) -> int:
        """Run numbers name output files; they continue after restarts so no earlier output is overwritten."""
        if session.run_counter is None:
            names = await self._in_thread(session, files.list_names, session.paths.workdir, OUTPUTS_DIR)
            numbers = [int(m.group(1)) for name in names if (m := _RUN_FILE.match(name))]
            session.run_counter = max(numbers, default=0)
        session.run_counter += 1
        return session.run_counter


async def _wait_shell(proc: SandboxProcess, limit_seconds: float) -> tuple[int | None, bool]:
    """(exit code, timed out); killed at the time limit or when cancelled."""
    try:
        return await asyncio.wait_for(proc.wait(), limit_seconds), False
    except TimeoutError:
        await proc.kill()
        return None, True
    except asyncio.CancelledError:
        await proc.kill()
        raise


def sweep_stale_runtime_dirs(parent: Path) -> list[Path]:
    """Remove the runtime folders of servers that died without cleaning up; returns what was removed."""
    removed = []
    for folder in parent.glob(f"{RUNTIME_PREFIX}*-*"):
        pid = folder.name.removeprefix(RUNTIME_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    if removed:
        log.info("workbench: removed %d folder(s) left by stopped servers", len(removed))
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive, and not ours to judge
        return True
    return True


def _remove_tree(path: Path) -> None:
    """Removes a workbench folder, including read-only folders sandboxed code may have left in it."""

    def writable_then_retry(func: Callable[..., Any], failed: str, _exc: Any) -> None:
        parent = os.path.dirname(failed)
        with contextlib.suppress(OSError):
            os.chmod(parent, 0o700)
            os.chmod(failed, 0o700)
        with contextlib.suppress(FileNotFoundError):
            func(failed)

    if path.exists():
        shutil.rmtree(path, onerror=writable_then_retry)


def _folder_name(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()[:32]


def _check_session_id(session_id: Any) -> str:
    if not isinstance(session_id, str) or not _SESSION_ID.fullmatch(session_id):
        raise InvalidInput(
            "a session id is 1-128 letters, digits, '_', '-' or '.', starting with a letter or digit",
            {"session_id": str(session_id)[:200]},
        )
    return session_id
