"""The baseline: a bare `mcp` low-level `Server` serving the bench no-op tool, stateless + JSON responses.

This is the least an MCP server over Streamable HTTP can do per call, so Concierge's cost is
reported relative to it. It is served like Concierge (`bench.serving`), with the same DNS-rebinding
guard, and is independent of Concierge's own code.

    python -m bench.serve_bare --ready-file /tmp/bare.json [--fast]
    python -m bench.serve_bare --stdio
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import mcp.types as types
from mcp.server.lowlevel.server import Server
from mcp.server.stdio import stdio_server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from bench.serving import add_server_args, bind_loopback, serve
from bench.toolkits.bench_noop.tools import ping

TOOL_NAME = "BENCH_NOOP_PING"
# `spin_us`: CPU the call spends before answering (a busy wait), to price a millisecond of work on the path
INPUT_SCHEMA: dict[str, Any] = {"type": "object", "properties": {"n": {"type": "integer"},
                                                                 "spin_us": {"type": "integer", "minimum": 0}},
                                "additionalProperties": False}


async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
    return types.ListToolsResult(tools=[types.Tool(name=TOOL_NAME, description="no-op", input_schema=INPUT_SCHEMA)])


async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
    arguments = dict(params.arguments or {})
    until = time.perf_counter() + arguments.pop("spin_us", 0) / 1e6
    while time.perf_counter() < until:
        pass
    data = ping(arguments)
    return types.CallToolResult(content=[types.TextContent(type="text", text=json.dumps(data))],
                                structured_content=data)


class _Endpoint:
    """An ASGI object, not a function: Starlette would treat an async function as a request handler."""

    def __init__(self, manager: StreamableHTTPSessionManager) -> None:
        self.manager = manager

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.manager.handle_request(scope, receive, send)


def build_bare_app() -> Starlette:
    server = build_bare_server()
    security = TransportSecuritySettings(enable_dns_rebinding_protection=True,
                                         allowed_hosts=["127.0.0.1:*", "localhost:*"],
                                         allowed_origins=["http://127.0.0.1:*", "http://localhost:*"])
    manager = StreamableHTTPSessionManager(app=server, stateless=True, json_response=True,
                                           security_settings=security)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with manager.run():
            yield

    return Starlette(routes=[Route("/mcp", _Endpoint(manager), methods=["GET", "POST", "DELETE"])],
                     lifespan=lifespan)


def build_bare_server() -> Server[Any]:
    return Server("bare", version="0", on_list_tools=list_tools, on_call_tool=call_tool,
                  get_tool_input_schema=lambda name: INPUT_SCHEMA if name == TOOL_NAME else None)


async def serve_stdio() -> None:
    """The same server over stdio: the bench's upstream process (`bench.upstream`)."""
    server = build_bare_server()
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_server_args(parser)
    args = parser.parse_args()
    sock = bind_loopback()
    serve(build_bare_app(), sock, args, {"mcp_path": "/mcp"})


if __name__ == "__main__":
    if sys.argv[1:] == ["--stdio"]:
        anyio.run(serve_stdio)
    else:
        main()
