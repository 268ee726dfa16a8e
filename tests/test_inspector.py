"""A third-party MCP client: the official MCP Inspector (TypeScript SDK, initialize-era Streamable HTTP)
in its headless CLI mode, against a real server. Installed from the npm registry on first use."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.live import LiveServer

INSPECTOR = "@modelcontextprotocol/inspector@0.15.0"
CACHE = Path(__file__).resolve().parents[1] / ".ci" / "cache" / "inspector"
BINARY = CACHE / "node_modules" / ".bin" / "mcp-inspector"


@pytest.fixture(scope="module")
def inspector() -> Path:
    if not BINARY.exists():
        npm = shutil.which("npm")
        assert npm, "the MCP Inspector test needs Node.js and npm (apt-get install nodejs npm)"
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(CACHE), INSPECTOR],
                       check=True, timeout=300)
    return BINARY


def inspect(binary: Path, url: str, *args: str) -> dict:
    done = subprocess.run([str(binary), "--cli", url, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_inspector_lists_searches_and_executes(server: LiveServer, inspector: Path) -> None:
    session = server.create_session(toolkits=["datetime"])
    url = f"{server.url}/s/{session['id']}/mcp"  # Inspector 0.15 insists on a path ending in /mcp
    tools = inspect(inspector, url, "--method", "tools/list")["tools"]
    assert {"COMPOSIO_SEARCH_TOOLS", "COMPOSIO_MULTI_EXECUTE_TOOL"} <= {t["name"] for t in tools}
    found = inspect(inspector, url, "--method", "tools/call", "--tool-name", "COMPOSIO_SEARCH_TOOLS",
                    "--tool-arg", 'queries=[{"use_case": "convert 9am New York time to Tokyo"}]')
    assert found["structuredContent"]["data"]["results"][0]["primary_tool_slugs"][0] == "DATETIME_CONVERT_TIMEZONE"
    calls = json.dumps([{"tool_slug": "DATETIME_CONVERT_TIMEZONE", "arguments": {
        "time": "2026-11-27 09:00", "from_timezone": "New York", "to_timezone": "Tokyo"}}])
    ran = inspect(inspector, url, "--method", "tools/call", "--tool-name", "COMPOSIO_MULTI_EXECUTE_TOOL",
                  "--tool-arg", f"tools={calls}")
    assert not ran.get("isError") and "2026-11-27T23:00:00+09:00" in ran["content"][0]["text"]
    clients = server.api("GET", f"/sessions/{session['id']}").json()["clients"]
    assert clients and all(c["protocol_version"] for c in clients)
