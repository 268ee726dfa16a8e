"""Sandboxed processes as the manager sees them: the persistent REPL (`Kernel`) and one-shot shells.

Each is started in its own session and process group and killed as a group with SIGKILL; under
bubblewrap that takes down the sandbox's PID namespace, so no child outlives a kill.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from dataclasses import dataclass
from typing import Any

from server.errors import ConciergeError
from server.workbench.sandbox import Launch

INTERRUPT_GRACE_SECONDS = 2.0
START_TIMEOUT_SECONDS = 30.0
_PROTOCOL_LIMIT = 1 << 20  # the REPL's replies are small; a longer line means it is broken or hostile
_STDERR_TAIL = 4000


class ProcessGone(Exception):
    """The process exited or stopped speaking the protocol."""


class SandboxProcess:
    """A started launcher; its stderr only carries start-up failures (bwrap, Python), kept for messages."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self._stderr = b""
        self._stderr_task = asyncio.create_task(self._drain_stderr())

    @classmethod
    async def start(cls, launch: Launch, *, interactive: bool) -> SandboxProcess:
        """`interactive`: keep stdin/stdout as pipes to talk to it (the REPL); else /dev/null."""
        pipe = asyncio.subprocess.PIPE if interactive else asyncio.subprocess.DEVNULL
        try:
            process = await asyncio.create_subprocess_exec(
                *launch.argv,
                stdin=pipe,
                stdout=pipe,
                stderr=asyncio.subprocess.PIPE,
                env=launch.env,
                cwd=launch.cwd,
                pass_fds=launch.pass_fds,
                limit=_PROTOCOL_LIMIT,
                start_new_session=True,
            )
        finally:
            launch.close()
        return cls(process)

    async def _drain_stderr(self) -> None:
        assert self.process.stderr is not None
        while chunk := await self.process.stderr.read(65536):
            self._stderr = (self._stderr + chunk)[-_STDERR_TAIL:]

    def stderr_tail(self) -> str:
        return self._stderr.decode(errors="replace").strip()

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def wait(self) -> int:
        code = await self.process.wait()
        # A grandchild could hold the pipe open (only without a PID namespace): do not wait for it.
        await asyncio.wait({self._stderr_task}, timeout=1.0)
        return code

    async def kill(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        await self.wait()


def describe_exit(code: int | None) -> str:
    """Words for an exit status (bwrap reports a signal death as 128 + signal, like a shell)."""
    if code is None:
        return "is still running"
    signum = -code if code < 0 else code - 128 if code > 128 else 0
    if signum:
        name = signal.Signals(signum).name if signum in signal.valid_signals() else f"signal {signum}"
        hint = {
            "SIGXCPU": " (its CPU-time limit)",
            "SIGKILL": " (killed: e.g. a limit or the server)",
            "SIGSEGV": " (a crash in native code)",
        }.get(name, "")
        return f"was ended by {name}{hint}"
    return f"exited with status {code}"


@dataclass(frozen=True)
class CellOutcome:
    """How a cell ended: `reply` is the REPL's `done` message, None when the process died or was killed."""

    reply: dict[str, Any] | None
    timed_out: bool
    killed_after_timeout: bool


class Kernel:
    """The persistent REPL of one session, driven with JSON lines over its stdin/stdout."""

    def __init__(self, proc: SandboxProcess, reap_on_interrupt: bool) -> None:
        self.proc = proc
        self._reap = reap_on_interrupt

    @classmethod
    async def start(cls, launch: Launch, *, reap_on_interrupt: bool) -> Kernel:
        """`reap_on_interrupt`: at a timeout, also end the cell's other processes (needs a PID namespace)."""
        kernel = cls(await SandboxProcess.start(launch, interactive=True), reap_on_interrupt)
        try:
            message = await asyncio.wait_for(kernel._read(), START_TIMEOUT_SECONDS)
            if message.get("op") != "ready":
                raise ProcessGone
        except (ProcessGone, TimeoutError):
            await kernel.proc.kill()
            detail = kernel.proc.stderr_tail() or describe_exit(kernel.proc.process.returncode)
            raise ConciergeError(f"the workbench's Python process did not start: {detail}") from None
        return kernel

    async def _send(self, message: dict[str, Any]) -> None:
        stdin = self.proc.process.stdin
        assert stdin is not None
        try:
            stdin.write(json.dumps(message).encode() + b"\n")
            await stdin.drain()
        except (ConnectionError, RuntimeError):
            raise ProcessGone from None

    async def _read(self) -> dict[str, Any]:
        stdout = self.proc.process.stdout
        assert stdout is not None
        try:
            line = await stdout.readline()
        except ValueError:  # longer than the limit
            raise ProcessGone from None
        if not line:
            raise ProcessGone
        try:
            message = json.loads(line)
        except ValueError:
            raise ProcessGone from None
        if not isinstance(message, dict):
            raise ProcessGone
        return message

    async def _read_done(self, run_id: str) -> dict[str, Any]:
        while True:
            message = await self._read()
            if message.get("op") == "done" and message.get("id") == run_id:
                return message

    async def run(self, request: dict[str, Any], limit_seconds: float) -> CellOutcome:
        """Run a cell; at `limit_seconds` interrupt it, and kill the process if it ignores the interrupt.

        Cancelling this (the call's client cancelled it) stops the cell as its time limit would, so the
        workbench keeps what it holds; cancelled again meanwhile, or unable to stop the cell, the
        process is killed: a cell left running would hold state nobody can reason about.
        """
        run_id = request["id"]
        try:
            await self._send(request)
            return CellOutcome(await asyncio.wait_for(self._read_done(run_id), limit_seconds), False, False)
        except TimeoutError:
            pass
        except ProcessGone:
            await self.proc.kill()
            return CellOutcome(None, False, False)
        except asyncio.CancelledError:
            try:
                await self._stop(run_id)
            except BaseException:
                await self.proc.kill()
            raise
        try:
            return await self._stop(run_id)
        except ProcessGone:
            await self.proc.kill()
            return CellOutcome(None, True, False)
        except asyncio.CancelledError:
            await self.proc.kill()
            raise

    async def _stop(self, run_id: str) -> CellOutcome:
        """Interrupts a running cell; kills the process if the cell has not stopped within the grace."""
        await self._send({"op": "interrupt", "id": run_id, "reap": self._reap})
        try:
            reply = await asyncio.wait_for(self._read_done(run_id), INTERRUPT_GRACE_SECONDS)
            return CellOutcome(reply, True, False)
        except TimeoutError:
            await self.proc.kill()
            return CellOutcome(None, True, True)
