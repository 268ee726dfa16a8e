"""A third-party MCP client: the official MCP Inspector (the release `npx @modelcontextprotocol/inspector`
gives today) in its headless CLI mode, against a real server. Installed from the npm registry on first use."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.live import LiveServer
from tests.mcp_helpers import mcp_config

INSPECTOR_VERSION = "2.12.0"
INSPECTOR = f"@modelcontextprotocol/inspector@{INSPECTOR_VERSION}"
CACHE = Path(__file__).resolve().parents[1] / ".ci" / "cache" / f"inspector-{INSPECTOR_VERSION}"
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


def inspect(binary: Path, home: Path, *args: str) -> dict:
    """The Inspector's CLI mode; its catalog of servers goes under `home`, not the user's."""
    env = {k: v for k, v in os.environ.items() if k != "MCP_CATALOG_PATH"} | {"HOME": str(home)}
    done = subprocess.run([str(binary), "--cli", *args], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_inspector_lists_searches_and_executes(server: LiveServer, inspector: Path, tmp_path: Path) -> None:
    """The Inspector as a user runs it today: from the file `concierge mcp-config inspector` writes, and
    with the session's own `mcp.url`."""
    session = server.create_session(toolkits=["datetime"])
    printed = mcp_config("inspector", "--session", session["id"], "--server", server.url, cwd=tmp_path)
    config = tmp_path / "inspector.json"
    config.write_text(printed.stdout)
    tools = inspect(inspector, tmp_path, "--config", str(config), "--server", "concierge", "--method", "tools/list")
    assert {"COMPOSIO_SEARCH_TOOLS", "COMPOSIO_MULTI_EXECUTE_TOOL"} <= {t["name"] for t in tools["tools"]}
    url = session["mcp"]["url"]
    found = inspect(inspector, tmp_path, url, "--transport", "http", "--method", "tools/call",
                    "--tool-name", "COMPOSIO_SEARCH_TOOLS",
                    "--tool-arg", 'queries=[{"use_case": "convert 9am New York time to Tokyo"}]')
    assert found["structuredContent"]["data"]["results"][0]["primary_tool_slugs"][0] == "DATETIME_CONVERT_TIMEZONE"
    calls = json.dumps([{"tool_slug": "DATETIME_CONVERT_TIMEZONE", "arguments": {
        "time": "2026-11-27 09:00", "from_timezone": "New York", "to_timezone": "Tokyo"}}])
    ran = inspect(inspector, tmp_path, url, "--transport", "http", "--method", "tools/call",
                  "--tool-name", "COMPOSIO_MULTI_EXECUTE_TOOL", "--tool-arg", f"tools={calls}")
    assert not ran.get("isError") and "2026-11-27T23:00:00+09:00" in ran["content"][0]["text"]
