"""Tools an upstream runs only as MCP tasks (protocol 2025-11-25, `execution.taskSupport: "required"`).

Such a tool refuses a plain `tools/call`. Asked with a `task`, the upstream answers at once with the
task's id, and `tasks/result` then waits until the task has ended and answers with the tool's result:
two requests, no polling. A call given up on (its time ran out, its caller went away) cancels its task,
so the upstream does not go on working for nobody. Such tools are known from a 2025-11-25 listing
(2026-07-28 moved tasks out of the core protocol) and are called in that era.

A task tells how it is doing only when asked (`tasks/get`, at the interval it suggests): while a client
that asked for progress waits, the task's status messages are passed on to it as progress; nobody
listening, nothing is polled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from server import progress
from server.errors import UpstreamError

log = logging.getLogger("concierge.upstreams")

# a request's `result` in wire form; a JSON-RPC error raises
Send = Callable[[str, dict[str, Any]], Awaitable[Any]]
KEEP_AFTER_DEADLINE_MS = 60_000  # how long past the call's deadline the upstream keeps the task's result
CANCEL_SECONDS = 10
POLL_SECONDS = (0.25, 1.0, 10.0)  # the least, the default and the most time between two `tasks/get`
ENDED = ("completed", "failed", "cancelled")  # a task's statuses that do not change again
_background: set[asyncio.Task[None]] = set()


async def call_as_task(
    send: Send, upstream: str, tool_name: str, arguments: dict[str, Any], limit_seconds: float
) -> Any:
    """The tool's result in wire form, as `tasks/result` gives it."""
    ttl = int(limit_seconds * 1000) + KEEP_AFTER_DEADLINE_MS
    created = await send("tools/call", {"name": tool_name, "arguments": arguments, "task": {"ttl": ttl}})
    task = created.get("task") if isinstance(created, dict) else None
    if not isinstance(task, dict) or not isinstance(task.get("taskId"), str):
        if isinstance(created, dict) and "content" in created:
            return created  # it ran as a plain call after all
        raise UpstreamError(
            f"upstream MCP server {upstream!r} did not start {tool_name!r} as a task (no task id in its answer)",
            {"upstream": upstream},
        )
    task_id = task["taskId"]
    report = progress.current()
    watching = None if report is None else asyncio.get_running_loop().create_task(_relay_status(send, task, report))
    try:
        return await send("tasks/result", {"taskId": task_id})
    except BaseException:
        in_background(_cancel(send, upstream, task_id))
        raise
    finally:
        if watching is not None:
            watching.cancel()


async def _relay_status(send: Send, task: dict[str, Any], report: progress.Report) -> None:
    """Each new status message of the task, as the next step of progress (no total: a task has none),
    until the caller stops waiting; an upstream that does not answer `tasks/get` ends the watch."""
    least, default, most = POLL_SECONDS
    interval = task.get("pollInterval")
    every = min(max(interval / 1000, least), most) if isinstance(interval, int | float) else default
    told, last = 0, None
    while True:
        status = task.get("status")
        message = task.get("statusMessage") or (status if isinstance(status, str) else None)
        if isinstance(message, str) and message != last:
            told, last = told + 1, message
            await report(told, None, message)
        if status in ENDED:
            return
        await asyncio.sleep(every)
        try:
            task = await send("tasks/get", {"taskId": task["taskId"]})
        except Exception as exc:
            log.debug("upstream task %s: no status (%s)", task["taskId"], exc)
            return
        if not isinstance(task, dict) or not isinstance(task.get("taskId"), str):
            return


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
