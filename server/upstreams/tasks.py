"""Tools an upstream runs only as MCP tasks (protocol 2025-11-25, `execution.taskSupport: "required"`).

Such a tool refuses a plain `tools/call`. Asked with a `task`, the upstream answers at once with the
task's id, and `tasks/result` then waits until the task has ended and answers with the tool's result:
two requests, no polling. A call given up on (its time ran out, its caller went away) cancels its task,
so the upstream does not go on working for nobody. Such tools are known from a 2025-11-25 listing
(2026-07-28 moved tasks out of the core protocol) and are called in that era.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from server.errors import UpstreamError

log = logging.getLogger("concierge.upstreams")

# a request's `result` in wire form; a JSON-RPC error raises
Send = Callable[[str, dict[str, Any]], Awaitable[Any]]
KEEP_AFTER_DEADLINE_MS = 60_000  # how long past the call's deadline the upstream keeps the task's result
CANCEL_SECONDS = 10
_background: set[asyncio.Task[None]] = set()


async def call_as_task(
    send: Send, upstream: str, tool_name: str, arguments: dict[str, Any], limit_seconds: float
) -> Any:
    """The tool's result in wire form, as `tasks/result` gives it."""
    ttl = int(limit_seconds * 1000) + KEEP_AFTER_DEADLINE_MS
    created = await send("tools/call", {"name": tool_name, "arguments": arguments, "task": {"ttl": ttl}})
    task = created.get("task") if isinstance(created, dict) else None
    task_id = task.get("taskId") if isinstance(task, dict) else None
    if not isinstance(task_id, str):
        if isinstance(created, dict) and "content" in created:
            return created  # it ran as a plain call after all
        raise UpstreamError(
            f"upstream MCP server {upstream!r} did not start {tool_name!r} as a task (no task id in its answer)",
            {"upstream": upstream},
        )
    try:
        return await send("tasks/result", {"taskId": task_id})
    except BaseException:
        in_background(_cancel(send, upstream, task_id))
        raise


def in_background(telling: Coroutine[Any, Any, object]) -> None:
    """Tells an upstream something on a call's way out (the call does not wait): kept referenced until
    done, at most CANCEL_SECONDS, and quiet if it fails (the upstream may be what went wrong)."""

    async def told() -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CANCEL_SECONDS):
                await telling

    task = asyncio.get_running_loop().create_task(told())
    _background.add(task)
    task.add_done_callback(_background.discard)


async def _cancel(send: Send, upstream: str, task_id: str) -> None:
    answer = await send("tasks/cancel", {"taskId": task_id})
    status = answer.get("status") if isinstance(answer, dict) else None
    log.info("upstream %s: task %s given up on; the upstream says it is %s", upstream, task_id, status)
