"""How the load reaches a server: the `mcp` SDK client, a raw httpx JSON-RPC client, and the REST API.

The SDK client is what agents use; the raw client sends the same 2026-07-28 request with a fraction
of the client-side CPU, so the server's cost shows more clearly. Both raise `CallFailed` for anything
but a successful tool result, which the load runner counts as an error.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any, Literal, Protocol

import httpx
from mcp import Client

from bench.load import Worker

ClientKind = Literal["sdk", "raw"]
PROTOCOL_VERSION = "2026-07-28"
CLIENT_META = {"io.modelcontextprotocol/protocolVersion": PROTOCOL_VERSION,
               "io.modelcontextprotocol/clientInfo": {"name": "concierge-bench", "version": "0"},
               "io.modelcontextprotocol/clientCapabilities": {}}
BASE_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json",
                "mcp-protocol-version": PROTOCOL_VERSION}
TIMEOUT = httpx.Timeout(60.0)


class CallFailed(Exception):
    """A tool call that did not succeed: transport error, JSON-RPC error or `isError` result."""


class ToolCaller(Protocol):
    async def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """The structured result of a successful call."""
        ...


class RawCaller:
    """One keep-alive connection posting self-contained 2026-07-28 `tools/call` requests."""

    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self.http = http
        self.url = url
        self._ids = itertools.count(1)

    def at(self, url: str) -> RawCaller:
        """The same connection, addressing another MCP URL (another session)."""
        return RawCaller(self.http, url)

    async def request(self, method: str, params: dict[str, Any], name: str | None = None) -> dict[str, Any]:
        """One JSON-RPC request; its `result`, or `CallFailed`."""
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": {**params, "_meta": CLIENT_META}}
        headers = {**BASE_HEADERS, "mcp-method": method, **({"mcp-name": name} if name else {})}
        response = await self.http.post(self.url, content=json.dumps(body), headers=headers)
        if response.status_code != 200:
            raise CallFailed(f"HTTP {response.status_code}: {response.text[:300]}")
        message = response.json()
        if "result" not in message:
            raise CallFailed(f"JSON-RPC error: {message.get('error')}")
        return dict(message["result"])

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await self.request("tools/call", {"name": name, "arguments": arguments}, name)
        if result.get("isError"):
            raise CallFailed(f"tool error: {json.dumps(result)[:300]}")
        return result.get("structuredContent") or {}

    async def list_tools(self) -> list[dict[str, Any]]:
        return list((await self.request("tools/list", {}))["tools"])


class SdkCaller:
    """The `mcp` SDK `Client` (protocol negotiated as agents do: 2026-07-28, no handshake per call)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        try:
            result = await self.client.call_tool(name, arguments)
        except Exception as exc:  # the SDK raises several types; all are a failed call here
            raise CallFailed(f"{type(exc).__name__}: {exc}") from exc
        if result.is_error:
            raise CallFailed(f"tool error: {result.content}")
        return result.structured_content or {}


def calling(caller: ToolCaller, name: str, arguments: dict[str, Any], label: str = "call") -> Worker:
    """A worker that makes the same tool call every time."""
    return lambda n: (label, lambda: caller.call_tool(name, arguments))


@contextlib.asynccontextmanager
async def open_raw(urls: list[str]) -> AsyncIterator[list[RawCaller]]:
    """One raw client (own connection) per URL."""
    async with contextlib.AsyncExitStack() as stack:
        yield [RawCaller(await stack.enter_async_context(httpx.AsyncClient(timeout=TIMEOUT)), url) for url in urls]


@contextlib.asynccontextmanager
async def open_callers(kind: ClientKind, urls: list[str]) -> AsyncIterator[list[ToolCaller]]:
    """One connected client per URL (one per simulated agent), closed together."""
    if kind == "raw":
        async with open_raw(urls) as raw:
            yield list(raw)
        return
    async with contextlib.AsyncExitStack() as stack:
        yield [SdkCaller(await stack.enter_async_context(Client(url))) for url in urls]


async def create_session(http: httpx.AsyncClient, base_url: str, api_key: str, body: dict[str, Any]) -> str:
    """A new Concierge session through the REST API; returns its MCP URL."""
    response = await http.post(f"{base_url}/api/v1/sessions", json=body,
                               headers={"Authorization": f"Bearer {api_key}"})
    if response.status_code != 201:
        raise CallFailed(f"session create: HTTP {response.status_code}: {response.text[:300]}")
    return str(response.json()["mcp"]["url"])
