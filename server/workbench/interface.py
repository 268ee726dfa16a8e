"""What the rest of the server calls a workbench: the local `WorkbenchManager`, or the replica-aware
one that runs each session's workbench on its owner replica (`server.replicas.workbench`)."""

from __future__ import annotations

from typing import Protocol

from server.workbench.files import Scan
from server.workbench.runs import BashRun, PythonRun
from server.workbench.settings import WorkbenchSettings


class Workbench(Protocol):
    @property
    def settings(self) -> WorkbenchSettings: ...

    @property
    def isolation(self) -> str: ...

    @property
    def running(self) -> int:
        """Sandboxed Python processes alive on this server process."""
        ...

    async def run_python(self, session_id: str, code: str, timeout_seconds: float | None = None) -> PythonRun: ...

    async def run_bash(self, session_id: str, command: str, timeout_seconds: float | None = None) -> BashRun: ...

    async def write_file(self, session_id: str, relpath: str, data: bytes) -> object: ...

    async def read_file(self, session_id: str, relpath: str) -> bytes: ...

    async def list_files(self, session_id: str) -> Scan: ...

    async def stop(self, session_id: str) -> None: ...

    async def discard(self, session_id: str) -> None: ...

    async def aclose(self) -> None: ...
