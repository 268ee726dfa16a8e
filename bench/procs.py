"""The parent side of a benchmark server: start it as a subprocess, wait until it listens, read its CPU
and memory from /proc, stop it.

A separate process per server keeps the load generator's CPU out of the server's numbers.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from bench import profiling

ROOT = Path(__file__).resolve().parents[1]  # the children run `python -m bench.serve_*` from here
READY_TIMEOUT_SECONDS = 300
STOP_TIMEOUT_SECONDS = 20
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def processes_marked(mark: str) -> set[int]:
    """Processes with `mark` in their environment: how the bench and the tests find the programs a server
    started (upstream processes, say)."""
    found = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if mark.encode() in (proc / "environ").read_bytes():
                    found.add(int(proc.name))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads), from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()  # the command name may contain spaces
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE


class ServerProcess:
    """`python -m <module> --ready-file ... <args>`; `info` is what the server wrote into its ready file."""

    def __init__(self, name: str, module: str, args: Sequence[str], workdir: Path, profile: Path | None = None) -> None:
        """`profile`: a directory for py-spy samples of this server (`bench.profiling`)."""
        self.name = name
        self.module = module
        self.args = list(args)
        self.ready_file = workdir / f"{name}.ready.json"
        self.log_file = workdir / f"{name}.log"
        self.profile = profile
        self.info: dict[str, Any] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._spy: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._proc is not None, "server not started"
        return self._proc.pid

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.info['port']}"

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def rss_bytes(self) -> int:
        return rss_bytes(self.pid)

    def launch(self) -> None:
        """Start the process; `wait_ready()` then blocks until it listens (`running()` does both)."""
        self.ready_file.unlink(missing_ok=True)
        with self.log_file.open("wb") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", self.module, "--ready-file", str(self.ready_file), *self.args],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT)

    def wait_ready(self) -> None:
        assert self._proc is not None, "launch() first"
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not self.ready_file.exists():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not start; its log:\n{self.log_file.read_text()[-3000:]}")
            time.sleep(0.02)
        self.info = json.loads(self.ready_file.read_text())
        if self.profile is not None:
            self._spy = profiling.attach(self._proc.pid, self.profile / f"{self.name}.folded")

    def stop(self) -> None:
        """SIGINT lets uvicorn shut down cleanly; kill only if that hangs. py-spy then writes its samples."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(STOP_TIMEOUT_SECONDS)
        if self._spy is not None and self.profile is not None:
            profiling.detach(self._spy)
            self._spy = None
            folded = self.profile / f"{self.name}.folded"
            if folded.exists():
                (self.profile / f"{self.name}.summary.txt").write_text(profiling.summarize(folded))


@contextlib.contextmanager
def running(*servers: ServerProcess) -> Iterator[tuple[ServerProcess, ...]]:
    """Start servers side by side (their start-up overlaps), stop them all on the way out."""
    try:
        for server in servers:
            server.launch()
        for server in servers:
            server.wait_ready()
        yield servers
    finally:
        for server in servers:
            server.stop()
