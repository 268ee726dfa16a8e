"""A WorkbenchManager under bubblewrap for workbench tests, closed on exit."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from server.workbench import ToolRunner, WorkbenchManager, WorkbenchSettings


async def no_tools(session_id: str, slug: str, arguments: dict[str, Any]) -> dict[str, Any]:
    raise AssertionError(f"unexpected tool call {slug}")


@contextlib.asynccontextmanager
async def workbench(root: Path, runner: ToolRunner = no_tools, **overrides: Any) -> AsyncIterator[WorkbenchManager]:
    """`root` is where the workbench folders go; bwrap is required, never silently weaker."""
    settings = WorkbenchSettings(**{"isolation": "bwrap", "default_timeout_seconds": 30, **overrides})
    manager = WorkbenchManager(root, settings, runner)
    assert manager.isolation == "bwrap"
    try:
        yield manager
    finally:
        await manager.aclose()
