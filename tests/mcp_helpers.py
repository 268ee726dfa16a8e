"""Small helpers for talking to a live server over MCP in tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from mcp import Client

JSONRPC_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


async def call(client: Client, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The envelope of a tool call; also checks the text content mirrors structured_content."""
    result = await client.call_tool(name, arguments)
    envelope = result.structured_content
    assert envelope is not None
    assert json.loads(result.content[0].text) == envelope
    assert result.is_error == (not envelope["successful"])
    return envelope


def raw_post(url: str, body: bytes | str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(url, content=body, headers={**JSONRPC_HEADERS, **(headers or {})}, timeout=30)


def initialize_body(name: str = "raw-test") -> str:
    return json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": name, "version": "9.9"}}})


def mcp_config(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`concierge mcp-config ARGS` as a user runs it (none of the test run's CONCIERGE_* variables)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONCIERGE_")}
    return subprocess.run([sys.executable, "-m", "server.cli", "mcp-config", *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd, env=env)
