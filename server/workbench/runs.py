"""What a workbench run returns, and how long output is cut while the full text stays in the workbench."""

from __future__ import annotations

import codecs
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from server.errors import InvalidInput, NotFound
from server.workbench import files

FreshReason = Literal["first_use", "idle", "crashed", "timeout_kill", "evicted", "stopped", "disk_quota"]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class RunError:
    """An exception in the user's code (or the sandbox stopping it); never an API error."""

    type: str
    message: str
    traceback: str = ""


@dataclass(frozen=True)
class PythonRun:
    """One cell: like a notebook cell's output plus what happened to the process and the files.

    `fresh_process` is True when this run started a new process, so earlier variables are gone;
    `fresh_reason` says why and `notice` says it in a sentence for the agent. File paths are relative
    to the workbench (the sandbox's working directory, and the REST files API's root).
    """

    stdout: str
    stderr: str
    result: str | None
    error: RunError | None
    files: list[str]
    execution_time: float
    fresh_process: bool
    fresh_reason: FreshReason | None
    timed_out: bool
    notice: str | None = None
    results_file_path: str | None = None
    stdout_file_path: str | None = None
    stderr_file_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The reference output shape (`results`, `stdout`, `stderr`, `error`, `*_file_path`) plus ours."""
        data = asdict(self)
        data["results"] = data.pop("result")
        return data


@dataclass(frozen=True)
class BashRun:
    """One shell command; `exit_code` is None when it was killed at its timeout."""

    stdout: str
    stderr: str
    exit_code: int | None
    timed_out: bool
    execution_time: float
    files: list[str] = field(default_factory=list)
    notice: str | None = None
    stdout_file_path: str | None = None
    stderr_file_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def collect_output(base: Path, relpath: str, limit: int) -> tuple[str, str | None]:
    """Read a run's capture file: (text, None) when it fits in `limit` chars (the file is then
    removed), else (head + marker, relpath) and the file stays as the full text."""
    try:
        fd = files.open_file(base, relpath)
    except NotFound:
        return "", None
    except InvalidInput:
        return f"[output unavailable: {relpath} was replaced by something that is not a file]", None
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    head: list[str] = []
    head_len = total = 0
    with os.fdopen(fd, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            text = decoder.decode(chunk)
            total += len(text)
            if head_len < limit:
                head.append(text[: limit - head_len])
                head_len += len(head[-1])
        text = decoder.decode(b"", final=True)
        total += len(text)
        if head_len < limit:
            head.append(text[: limit - head_len])
    if total <= limit:
        files.remove_file(base, relpath)
        return "".join(head), None
    return "".join(head) + f"\n…[truncated: {total:,} chars; full text in {relpath}]", relpath


def without_full_text(text: str, relpath: str) -> str:
    """The cut text once its full-text file is gone (deleted to bring the workbench under its quota)."""
    return text.replace(f"; full text in {relpath}]", "; the full text was not kept: over the disk quota]")
