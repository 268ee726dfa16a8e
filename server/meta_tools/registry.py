"""What a session exposes as tools, and the one place a tool call by name is dispatched.

Meta tools are assembled explicitly by the app builder (no import-time registry). Preloaded tools
(`preload`) and the `direct_tools` preset expose catalog tools next to, or instead of, the meta tools.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from server.errors import ConciergeError, NotFound
from server.meta_tools import (
    get_tool_schemas,
    manage_connections,
    multi_execute,
    search_tools,
    wait_for_connections,
    workbench,
)
from server.meta_tools.base import MetaContext, MetaServices, MetaTool, failed, ok
from server.values import Session

CORE_META_TOOLS: tuple[MetaTool, ...] = (
    search_tools.TOOL,
    get_tool_schemas.TOOL,
    multi_execute.TOOL,
    manage_connections.TOOL,
    wait_for_connections.TOOL,
    workbench.PYTHON_TOOL,
    workbench.BASH_TOOL,
)


@dataclass(frozen=True, slots=True)
class Listing:
    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    annotations: dict[str, Any]
    output_schema: dict[str, Any] | None = None


class ToolSurface:
    def __init__(self, meta_tools: Sequence[MetaTool], services: MetaServices) -> None:
        self.meta_tools = list(meta_tools)
        self.services = services
        self._by_name = {name: t for t in self.meta_tools for name in (t.name, *t.aliases)}

    def _direct_slugs(self, session: Session) -> list[str]:
        if session.options.session_preset == "direct_tools":
            return sorted(session.allowed)
        preload = session.options.preload
        if preload is None:
            return []
        if preload.tools == "all":
            return sorted(session.allowed)
        return [s.upper() for s in preload.tools if s.upper() in session.allowed]

    def listings(self, session: Session) -> list[Listing]:
        out: list[Listing] = []
        if session.options.session_preset != "direct_tools":
            out += [
                Listing(t.name, t.title, t.description, t.input_schema, t.annotations, t.output_schema)
                for t in self.meta_tools
                if t.available(self.services, session)
            ]
        for slug in self._direct_slugs(session):
            tool = self.services.catalog.tools[slug]
            tags = set(tool.tags)
            out.append(
                Listing(
                    tool.slug,
                    tool.name,
                    tool.description,
                    dict(tool.input_schema),
                    {
                        "title": tool.name,
                        "readOnlyHint": "readOnlyHint" in tags,
                        "destructiveHint": "destructiveHint" in tags,
                        "openWorldHint": "openWorldHint" in tags,
                        "idempotentHint": "idempotentHint" in tags,
                    },
                )
            )
        return out

    async def call(
        self, session: Session, name: str, arguments: dict[str, Any] | None, source: str = "mcp"
    ) -> dict[str, Any]:
        """Always an envelope `{data, error, successful}`; only unknown tool names raise."""
        meta = self._by_name.get(name)
        if (
            meta is not None
            and session.options.session_preset != "direct_tools"
            and meta.available(self.services, session)
        ):
            try:
                params = meta.parse(arguments)
                return await meta.handler(MetaContext(self.services, session, source), params)
            except ConciergeError as exc:
                return failed(exc)
        if name.upper() in self._direct_slugs(session):
            outcome = await self.services.executor.execute(session, name.upper(), arguments or {}, source=source)
            if outcome.error:
                return failed(outcome.error) | {"data": outcome.to_dict()}
            return ok(outcome.to_dict())
        names = [listing.name for listing in self.listings(session)]
        raise NotFound(f"unknown tool {name!r}; this session offers: {', '.join(names)}", {"tools": names})
