"""Issue 15, must-show 3: `concierge mcp-config` writes configs that real clients use as written: the
`mcp` SDK's stdio client launches the Claude Desktop entry from the file, and the SDK's HTTP client
connects to the Cursor entry's URL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from tests.live import LiveServer
from tests.mcp_helpers import call, mcp_config

ROOT = Path(__file__).resolve().parents[1]


def lexical_config(tmp_path: Path) -> Path:
    config = tmp_path / "concierge.toml"
    config.write_text('[search]\nsemantic = "off"\n')
    return config


async def search_session_id(entry: dict[str, Any]) -> str:
    """Launches the entry exactly as a desktop app does (its command, args and env only) and searches."""
    params = StdioServerParameters(command=entry["command"], args=entry["args"], env=entry.get("env"))
    async with Client(params, mode="legacy") as client:
        assert "COMPOSIO_SEARCH_TOOLS" in {t.name for t in (await client.list_tools()).tools}
        found = await call(client, "COMPOSIO_SEARCH_TOOLS", {"queries": [{"use_case": "what time is it in Tokyo"}]})
        assert found["data"]["results"][0]["primary_tool_slugs"][0].startswith("DATETIME_")
        return str(found["data"]["session"]["id"])


@pytest.mark.anyio
async def test_claude_desktop_install_writes_a_config_the_stdio_client_launches(tmp_path: Path) -> None:
    config_file = tmp_path / "Claude" / "claude_desktop_config.json"
    config_file.parent.mkdir()
    config_file.write_text(json.dumps({"mcpServers": {"other": {"command": "/bin/other"}}, "theme": "dark"}))
    workdir = tmp_path / "elsewhere"  # the data folder must not depend on where the app starts the server
    workdir.mkdir()
    config = lexical_config(tmp_path)
    result = mcp_config("claude-desktop", "--install", "--config-file", str(config_file), "--user-id", "desk_user",
                        "--toolkits", "datetime,math", "--data-dir", str(tmp_path / "data"), "--config", str(config),
                        cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    written = json.loads(config_file.read_text())
    assert written["theme"] == "dark" and written["mcpServers"]["other"] == {"command": "/bin/other"}
    (backup,) = config_file.parent.glob("claude_desktop_config.json.*.bak")
    assert json.loads(backup.read_text())["mcpServers"] == {"other": {"command": "/bin/other"}}
    entry = written["mcpServers"]["concierge"]
    assert Path(entry["command"]).is_absolute()
    assert entry["args"][entry["args"].index("--data-dir") + 1] == str((tmp_path / "data").resolve())
    assert "--reuse" in entry["args"]

    first = await search_session_id(entry)
    second = await search_session_id(entry)  # a restart of the desktop app keeps its session (and workbench)
    assert first == second and first.startswith("sess_")


@pytest.mark.anyio
async def test_claude_desktop_entry_for_an_existing_session(server: LiveServer, tmp_path: Path) -> None:
    session = server.create_session(user_id="desk2", toolkits=["datetime"])
    printed = mcp_config("claude-desktop", "--session", session["id"], "--data-dir", str(server.data_dir),
                         "--config", str(lexical_config(tmp_path)), cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    entry = json.loads(printed.stdout)["mcpServers"]["concierge"]
    assert await search_session_id(entry) == session["id"]


@pytest.mark.anyio
async def test_cursor_entry_is_a_url_the_http_client_connects_to(server: LiveServer, tmp_path: Path) -> None:
    session = server.create_session(user_id="cursor_user", toolkits=["datetime"])
    config_file = tmp_path / ".cursor" / "mcp.json"
    result = mcp_config("cursor", "--session", session["id"], "--url", server.url, "--install",
                        "--config-file", str(config_file), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    entry = json.loads(config_file.read_text())["mcpServers"]["concierge"]
    assert entry == {"url": f"{server.url}/mcp/{session['id']}"}
    assert not list(config_file.parent.glob("*.bak"))  # nothing to back up
    async with Client(entry["url"]) as client:
        found = await call(client, "COMPOSIO_SEARCH_TOOLS", {"queries": [{"use_case": "time in Tokyo"}]})
        assert found["data"]["session"]["id"] == session["id"]


def test_each_client_gets_its_own_shape(tmp_path: Path) -> None:
    url = "http://127.0.0.1:9/mcp/sess_abc"
    shapes = {
        "vscode": {"servers": {"concierge": {"type": "http", "url": url}}},
        "windsurf": {"mcpServers": {"concierge": {"serverUrl": url}}},
        "inspector": {"mcpServers": {"concierge": {"type": "streamable-http",
                                                   "url": "http://127.0.0.1:9/s/sess_abc/mcp"}}},
    }
    for client, expected in shapes.items():
        printed = mcp_config(client, "--session", "sess_abc", "--url", "http://127.0.0.1:9", cwd=tmp_path)
        assert json.loads(printed.stdout) == expected, client
    remote = json.loads(mcp_config("mcp-remote", "--session", "sess_abc", "--url", "http://127.0.0.1:9",
                                   cwd=tmp_path).stdout)["mcpServers"]["concierge"]
    assert remote["args"] == ["-y", "mcp-remote", url] and remote["command"].endswith("npx")


def test_bad_requests_change_nothing(tmp_path: Path) -> None:
    no_session = mcp_config("cursor", cwd=tmp_path)
    assert no_session.returncode == 2 and "--session" in no_session.stderr
    broken = tmp_path / "mcp.json"
    broken.write_text("{not json")
    refused = mcp_config("cursor", "--session", "sess_abc", "--install", "--config-file", str(broken), cwd=tmp_path)
    assert refused.returncode == 2 and "not valid JSON" in refused.stderr
    assert broken.read_text() == "{not json" and list(tmp_path.iterdir()) == [broken]
    nowhere = mcp_config("inspector", "--session", "sess_abc", "--install", cwd=tmp_path)
    assert nowhere.returncode == 2 and "--config-file" in nowhere.stderr
