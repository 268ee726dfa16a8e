"""The workbench's knobs, in one frozen value the server's config is mapped onto."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from server.errors import ConfigError

Isolation = Literal["auto", "bwrap", "namespaces", "rlimit-only", "off"]
ISOLATION_LEVELS: tuple[Isolation, ...] = ("auto", "bwrap", "namespaces", "rlimit-only", "off")


@dataclass(frozen=True)
class WorkbenchSettings:
    """Limits apply per process (memory, CPU, file size) or per session (processes, disk, time).

    `isolation="auto"` picks the first sandbox that works on this host and turns the workbench off
    when there is none; a named sandbox is required (the manager refuses to start without it).
    """

    isolation: Isolation = "auto"
    max_processes: int = 8
    idle_timeout_seconds: float = 900
    default_timeout_seconds: float = 180
    max_timeout_seconds: float = 600
    memory_mb: int = 1024
    cpu_seconds: int = 600
    max_pids: int = 64
    max_file_mb: int = 256
    disk_quota_mb: int = 512
    max_files: int = 20_000
    tmp_mb: int = 64
    output_limit_chars: int = 20_000
    max_parallel_tool_calls: int = 8
    tool_request_max_bytes: int = 1 << 20
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.isolation not in ISOLATION_LEVELS:
            raise ConfigError(f"workbench isolation {self.isolation!r} is not one of {', '.join(ISOLATION_LEVELS)}")
        positive = (
            "max_processes", "idle_timeout_seconds", "default_timeout_seconds", "max_timeout_seconds",
            "memory_mb", "cpu_seconds", "max_pids", "max_file_mb", "disk_quota_mb", "max_files", "tmp_mb",
            "output_limit_chars", "max_parallel_tool_calls", "tool_request_max_bytes",
        )  # fmt: skip
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"workbench {name} must be greater than 0, got {getattr(self, name)!r}")
        if self.default_timeout_seconds > self.max_timeout_seconds:
            raise ConfigError(
                f"workbench default_timeout_seconds ({self.default_timeout_seconds}) is above "
                f"max_timeout_seconds ({self.max_timeout_seconds})"
            )
        if bool(self.llm_base_url) != bool(self.llm_model):
            raise ConfigError("workbench llm_base_url and llm_model must be set together (or neither)")
