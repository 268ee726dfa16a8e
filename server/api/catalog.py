"""REST handlers for toolkits and tools (the whole catalog, not a session's view)."""

from __future__ import annotations

from starlette.requests import Request

from server.api.endpoint import ApiState
from server.api.paging import page_params
from server.api.schemas import ToolkitListOut, ToolkitOut, ToolListOut, ToolOut
from server.catalog.catalog import near_matches
from server.catalog.model import Tool, Toolkit
from server.errors import NotFound


def toolkit_out(toolkit: Toolkit, with_tools: bool = False) -> ToolkitOut:
    return ToolkitOut(
        slug=toolkit.slug,
        name=toolkit.name,
        description=toolkit.description,
        categories=list(toolkit.categories),
        aliases=list(toolkit.aliases),
        auth_schemes=[s.type for s in toolkit.auth_schemes],
        is_no_auth=not toolkit.needs_auth,
        tool_count=len(toolkit.tools),
        tools=sorted(toolkit.tools) if with_tools else None,
    )


def tool_out(tool: Tool) -> ToolOut:
    return ToolOut(
        slug=tool.slug,
        name=tool.name,
        toolkit=tool.toolkit,
        description=tool.description,
        tags=list(tool.tags),
        input_schema=dict(tool.input_schema),
        output_schema=dict(tool.output_schema) if tool.output_schema else None,
        kind="local" if tool.is_local else "http",
    )


async def list_toolkits(request: Request, state: ApiState) -> ToolkitListOut:
    return ToolkitListOut(items=[toolkit_out(tk) for tk in state.runtime.catalog.toolkits.values()])


async def get_toolkit(request: Request, state: ApiState) -> ToolkitOut:
    return toolkit_out(state.runtime.catalog.known_toolkit(request.path_params["slug"]), with_tools=True)


async def list_tools(request: Request, state: ApiState) -> ToolListOut:
    catalog = state.runtime.catalog
    toolkit = request.query_params.get("toolkit")
    search = request.query_params.get("search")
    limit, offset = page_params(request, default_limit=50)
    if toolkit is not None and toolkit not in catalog.toolkits:
        raise NotFound(f"toolkit {toolkit!r} not found", {"suggestions": near_matches(toolkit, catalog.toolkits)})
    pool = set(catalog.toolkits[toolkit].tools) if toolkit else None
    if search:
        best = catalog.index.search(search, allowed=pool, limit=min(offset + limit, len(catalog.tools)))
        tools = [catalog.tools[h.slug] for h in best[offset:]]
        total = len(best)
    else:
        everything = [t for t in catalog.tools.values() if pool is None or t.slug in pool]
        tools, total = everything[offset : offset + limit], len(everything)
    return ToolListOut(items=[tool_out(t) for t in tools], total=total)


async def get_tool(request: Request, state: ApiState) -> ToolOut:
    slug = request.path_params["slug"]
    tool = state.runtime.catalog.tool(slug)
    if tool is None:
        near = near_matches(slug, state.runtime.catalog.tools)
        raise NotFound(
            f"tool {slug!r} not found" + (f"; did you mean {', '.join(near)}?" if near else ""), {"suggestions": near}
        )
    return tool_out(tool)
