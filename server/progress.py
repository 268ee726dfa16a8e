"""Progress reports of a tool that runs elsewhere (an upstream MCP server), on their way back to the MCP
client whose request started it.

The MCP edge sets a sink for the request when its client asked for progress (a `progressToken`);
whatever runs the tool reports to `current()` without knowing who listens. A context variable rather
than a parameter: the report crosses every layer between the two (meta tool, executor, upstream
pool), none of which has anything to do with it, and the tasks a batch of calls runs in inherit it.

Bottom layer: imports nothing from the rest of the server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol


class Report(Protocol):
    """What MCP's `notifications/progress` carries (and the `mcp` SDK's progress callbacks take)."""

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None: ...


_sink: ContextVar[Report | None] = ContextVar("concierge_progress", default=None)


def current() -> Report | None:
    """Where this request's progress goes; None when its client did not ask for any."""
    return _sink.get()


@contextmanager
def reporting_to(sink: Report) -> Iterator[None]:
    token = _sink.set(sink)
    try:
        yield
    finally:
        _sink.reset(token)
