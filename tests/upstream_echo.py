"""A small upstream MCP server for the upstream tests: it echoes the credential it sees (the HTTP
Authorization header, or $ECHO_TOKEN on stdio), can sleep (for timeouts and kills mid-call), and can
grow its tool list at run time, announcing it with `notifications/tools/list_changed`, can answer
with as much text as asked for, and lists one tool as runnable only as an MCP task. A sleep that is
cancelled says so (on standard error, and in `CANCELLED` for the HTTP app served in a test's thread).

    python -m tests.upstream_echo stdio
    python -m tests.upstream_echo http PORT     # Streamable HTTP on 127.0.0.1:PORT/mcp
    python -m tests.upstream_echo http PORT handshake   # refusing 2026-07-28 requests, as a 2025 server does

The stdio mode imports only the `mcp` SDK, so a process starts quickly; tests/test_upstreams.py also
serves the HTTP app in a thread of its own (`build_http_app`).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import anyio
import mcp.types as types
from mcp.server.lowlevel.server import Server
from mcp.server.stdio import stdio_server

CANCELLED: list[float] = []  # the seconds asked of each sleep that was cancelled
OBJECT: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}
BASE_TOOLS = [
    types.Tool(name="whoAmI", description="Echo the credential this server received, its process id and (over "
               "HTTP) the protocol version of the request.",
               input_schema=OBJECT, annotations=types.ToolAnnotations(read_only_hint=True, idempotent_hint=True)),
    types.Tool(name="sleep", description="Sleep for `seconds`, then answer.",
               input_schema={"type": "object", "properties": {"seconds": {"type": "number"}},
                             "required": ["seconds"]}),
    types.Tool(name="grow", description="Add a tool named `name` and announce the new tool list.",
               input_schema={"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
               annotations=types.ToolAnnotations(destructive_hint=True)),
    types.Tool(name="fail", description="Answer with an error result.", input_schema=OBJECT),
    types.Tool(name="big", description="Answer with a text of `chars` characters.",
               input_schema={"type": "object", "properties": {"chars": {"type": "integer"}}, "required": ["chars"]}),
    types.Tool(name="progress", description="Report each of `steps` as progress (of `total`), then answer.",
               input_schema={"type": "object", "properties": {"steps": {"type": "array", "items": {"type": "number"}},
                                                              "total": {"type": "number"}}, "required": ["steps"]}),
    # listed as an MCP task only (2025-11-25); this server runs it as a plain call all the same, and says in
    # which protocol version it was asked (over HTTP)
    types.Tool(name="chore", description="A tool listed as runnable only as an MCP task.", input_schema=OBJECT,
               execution=types.ToolExecution(task_support="required")),
]


def build_server() -> Server[Any]:
    extra: list[str] = []

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        grown = [types.Tool(name=n, description=f"A tool added at run time: {n}.", input_schema=OBJECT) for n in extra]
        return types.ListToolsResult(tools=[*BASE_TOOLS, *grown])

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        args = params.arguments or {}
        if params.name == "whoAmI":
            request = getattr(ctx, "request", None)
            seen = request.headers.get("authorization") if request is not None else os.environ.get("ECHO_TOKEN")
            data = {"credential": seen, "pid": os.getpid(), "protocol": _protocol(ctx)}
            return types.CallToolResult(content=[types.TextContent(type="text", text=str(data))],
                                        structured_content=data)
        if params.name == "sleep":
            try:
                await anyio.sleep(float(args["seconds"]))
            except anyio.get_cancelled_exc_class():
                CANCELLED.append(float(args["seconds"]))
                print(f"sleep of {args['seconds']} s cancelled", file=sys.stderr, flush=True)
                raise
            return types.CallToolResult(content=[types.TextContent(type="text", text="awake")])
        if params.name == "grow":
            extra.append(str(args["name"]))
            await ctx.session.send_tool_list_changed()
            return types.CallToolResult(content=[types.TextContent(type="text", text="grown")])
        if params.name == "progress":
            for step in args["steps"]:
                await ctx.session.report_progress(step, args.get("total"), f"step {step:g}")
            return types.CallToolResult(content=[types.TextContent(type="text", text="reported")])
        if params.name == "big":
            return types.CallToolResult(content=[types.TextContent(type="text", text="x" * int(args["chars"]))])
        if params.name == "chore":
            return types.CallToolResult(content=[types.TextContent(type="text", text=f"ran chore ({_protocol(ctx)})")])
        if params.name == "fail":
            return types.CallToolResult(content=[types.TextContent(type="text", text="the echo server says no")],
                                        is_error=True)
        return types.CallToolResult(content=[types.TextContent(type="text", text=f"ran {params.name}")])

    return Server("echo", version="1", on_list_tools=list_tools, on_call_tool=call_tool)


def _protocol(ctx: Any) -> str | None:
    """The protocol version of the HTTP request being served (None over stdio)."""
    request = getattr(ctx, "request", None)
    return request.headers.get("mcp-protocol-version") if request is not None else None


def build_http_app(handshake_only: bool = False) -> Any:
    """Stateful Streamable HTTP, so notifications and both protocol eras work (or only the handshake era)."""
    import contextlib

    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
    from mcp_types.version import MODERN_PROTOCOL_VERSIONS
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    manager = StreamableHTTPSessionManager(app=build_server())

    class Endpoint:
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            version = dict(scope["headers"]).get(b"mcp-protocol-version", b"").decode()
            if handshake_only and version in MODERN_PROTOCOL_VERSIONS:
                refusal = {"jsonrpc": "2.0", "id": None,
                           "error": {"code": -32600, "message": f"Unsupported protocol version: {version}"}}
                await JSONResponse(refusal, status_code=400)(scope, receive, send)
                return
            await manager.handle_request(scope, receive, send)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        async with manager.run():
            yield

    return Starlette(routes=[Route("/mcp", Endpoint(), methods=["GET", "POST", "DELETE"])], lifespan=lifespan)


async def _stdio() -> None:
    server = build_server()
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


if __name__ == "__main__" and sys.argv[1:] == ["stdio"]:
    anyio.run(_stdio)
elif __name__ == "__main__" and sys.argv[1:2] == ["http"]:
    import uvicorn

    uvicorn.run(build_http_app(sys.argv[3:] == ["handshake"]), host="127.0.0.1", port=int(sys.argv[2]),
                log_level="warning")
