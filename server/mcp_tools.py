"""The tools a session serves over MCP: listing and calling, as every MCP path answers them."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import mcp.types as types

from server import jsontext
from server.errors import ConciergeError
from server.meta_tools.base import failed
from server.meta_tools.registry import ToolSurface
from server.observability.metrics import Metrics
from server.runtime import Runtime

RESULT_KEYS = frozenset({"content", "structuredContent", "isError", "resultType"})  # of every `call()` result


class ToolCalls:
    """A session's tools as MCP serves them, shared by the SDK's handlers and the `tools/call` fast
    path (`server/mcp_fastpath.py`), so both answer alike.

    `checked_per_request`: the HTTP endpoint has just checked the session against the database for
    this request (`SessionService.open`), so calls take the cached copy without another read."""

    def __init__(
        self, runtime: Runtime, surface: ToolSurface, metrics: Metrics | None = None, checked_per_request: bool = False
    ) -> None:
        self.surface = surface
        self.metrics = metrics
        self.meta_names = {name: t.name for t in surface.meta_tools for name in (t.name, *t.aliases)}
        self.lookup = runtime.sessions.current if checked_per_request else runtime.sessions.get

    async def call(self, session_id: str, name: str, arguments: dict[str, Any] | None) -> dict[str, Any]:
        """The result in wire form: the SDK's runner takes a dict as it is and validates it against the
        negotiated version's result schema itself, so a `CallToolResult` model built here would be
        validated and dumped again for nothing."""
        started = time.perf_counter()
        try:
            session = await self.lookup(session_id)
            envelope = await self.surface.call(session, name, arguments)
        except ConciergeError as exc:
            envelope = failed(exc)
        if self.metrics is not None:  # counted once the answer is on its way
            series = self.metrics.child(self.metrics.tool_seconds, self.meta_names.get(name, "direct"), "mcp")
            asyncio.get_running_loop().call_soon(series.observe, time.perf_counter() - started)
        return {
            "content": [{"type": "text", "text": jsontext.dumps(envelope)}],
            "structuredContent": envelope,
            "isError": not envelope.get("successful", False),
            "resultType": "complete",
        }

    async def listing(self, session_id: str) -> types.ListToolsResult:
        session = await self.lookup(session_id)
        return types.ListToolsResult(
            tools=[
                types.Tool(
                    name=item.name,
                    title=item.title,
                    description=item.description,
                    input_schema=item.input_schema,
                    output_schema=item.output_schema,
                    annotations=types.ToolAnnotations(
                        title=item.annotations["title"],
                        read_only_hint=item.annotations["readOnlyHint"],
                        destructive_hint=item.annotations["destructiveHint"],
                        idempotent_hint=item.annotations["idempotentHint"],
                        open_world_hint=item.annotations["openWorldHint"],
                    ),
                )
                for item in self.surface.listings(session)
            ]
        )
