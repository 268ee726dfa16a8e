"""Issue 2, must-show 1 and 5: `concierge serve` as a process, stdio mode through the SDK's stdio client,
and the session/toolkit/tool commands."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from mcp import Client, StdioServerParameters

from tests.live import LiveServer, free_socket
from tests.mcp_helpers import call

ROOT = Path(__file__).resolve().parents[1]


LEXICAL = {"CONCIERGE_SEARCH__SEMANTIC": "off"}  # the same ranking whether or not the semantic extra is installed


def concierge(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **LEXICAL, **(env or {})}, cwd=ROOT)


def test_serve_prints_url_and_admin_key_once(tmp_path: Path) -> None:
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    cmd = [sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--data-dir", str(tmp_path / "d")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONCIERGE_")} | LEXICAL
    for attempt in range(2):
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
        try:
            lines = []
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                line = proc.stdout.readline()
                lines.append(line)
                if "Application startup complete" in line:
                    break
            output = "".join(lines)
            assert f"http://127.0.0.1:{port}" in output
            assert output.count("catalog: ") == 1 and output.count("workbench isolation: ") == 1  # said once
            if attempt == 0:
                key = output.split("Admin API key (shown once, store it now): ")[1].split()[0]
                response = httpx.get(f"http://127.0.0.1:{port}/api/v1/toolkits", headers={"x-api-key": key})
                assert response.status_code == 200
            else:
                assert "Admin API key" not in output
                response = httpx.get(f"http://127.0.0.1:{port}/api/v1/toolkits", headers={"x-api-key": key})
                assert response.status_code == 200
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    db = (tmp_path / "d" / "concierge.db").read_bytes()
    assert key.encode() not in db


def test_bad_config_stops_startup_with_one_line(tmp_path: Path) -> None:
    result = concierge("serve", "--data-dir", str(tmp_path), env={"CONCIERGE_PORT": "not-a-port"})
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "port" in result.stderr


@pytest.mark.anyio
async def test_stdio_mode_lists_and_searches(tmp_path: Path) -> None:
    params = StdioServerParameters(command=sys.executable, args=[
        "-m", "server.cli", "stdio", "--user-id", "stdio_user", "--toolkits", "datetime,math",
        "--data-dir", str(tmp_path / "d")], cwd=str(ROOT), env=LEXICAL)
    async with Client(params, mode="legacy") as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert "COMPOSIO_SEARCH_TOOLS" in names
        found = await call(client, "COMPOSIO_SEARCH_TOOLS", {"queries": [{"use_case": "what time is it in Tokyo"}]})
        assert found["data"]["results"][0]["primary_tool_slugs"][0].startswith("DATETIME_")


def test_session_commands_against_a_running_server(server: LiveServer) -> None:
    env = {"CONCIERGE_BASE_URL": server.url, "CONCIERGE_API_KEY": server.headers["Authorization"][7:]}
    created = concierge("sessions", "create", "--user-id", "cli_user", "--toolkits", "math", "--json", env=env)
    assert created.returncode == 0, created.stderr
    session = json.loads(created.stdout)
    human = concierge("sessions", "show", session["id"], env=env)
    assert session["mcp"]["url"] in human.stdout
    updated = json.loads(concierge("sessions", "update", session["id"], "--toolkits", "text", "--json", env=env).stdout)
    assert updated["config"]["toolkits"] == {"enable": ["text"]}
    listed = json.loads(concierge("sessions", "list", "--user-id", "cli_user", "--json", env=env).stdout)
    assert [s["id"] for s in listed] == [session["id"]]
    assert concierge("sessions", "delete", session["id"], env=env).returncode == 0
    missing = concierge("sessions", "show", session["id"], env=env)
    assert missing.returncode == 2 and "not_found" in missing.stderr
    bad = concierge("sessions", "list", "--user-id", "x", env={**env, "CONCIERGE_API_KEY": "wrong"})
    assert bad.returncode == 2 and "unauthorized" in bad.stderr


def test_common_mistakes_get_one_line_not_a_traceback(server: LiveServer, tmp_path: Path) -> None:
    env = {"CONCIERGE_BASE_URL": server.url, "CONCIERGE_API_KEY": server.headers["Authorization"][7:]}
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{bad")
    cases = [
        (["sessions", "create", "--user-id", "u", "--options", "{bad"], {}, "--options is not valid JSON"),
        (["sessions", "create", "--user-id", "u", "--options", "[1]"], {}, "--options must be a JSON object"),
        (["sessions", "show", "x", "--server", "127.0.0.1:8000"], {}, "'127.0.0.1:8000' (from --server) is not a "
         "server URL; give it as http://host:port"),
        (["sessions", "show", "x"], {"CONCIERGE_BASE_URL": "notaurl"}, "(from CONCIERGE_BASE_URL) is not a server URL"),
        (["tools", "search", "post", "--toolkit", "slak"], {}, "toolkit 'slak' not found; did you mean slack?"),
        (["upstreams", "add", "t3", "--command", "x", "--env", "NOEQUALS"], {}, "--env takes NAME=VALUE"),
        (["toolkits", "import-openapi", str(bad_json), "--slug", "xx"], {}, "bad.json: not valid JSON"),
    ]
    for args, more, message in cases:
        done = concierge(*args, env={**env, **more})
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    other = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    try:
        for _ in range(100):
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            time.sleep(0.1)
        not_ours = concierge("sessions", "show", "x", "--server", f"http://127.0.0.1:{port}", env=env)
        assert not_ours.returncode == 2 and "answered HTTP 404 without Concierge's JSON" in not_ours.stderr
    finally:
        other.terminate()
        other.wait(10)
    for args, message in ((["toolkits", "show", "mth"], "toolkit 'mth' not found; did you mean math?"),
                          (["toolkits", "check-spec", "nope"], "toolkit 'nope' not found"),
                          (["connect", "github", "--user-id", "default"], "user_id 'default' is refused"),
                          (["mcp-config", "cursor", "--session", "foo bar"], "'foo bar' is not a session id")):
        done = concierge(*args, env=env)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
    nothing = concierge("toolkits", "check-spec", "math")
    assert nothing.returncode == 0 and "math: nothing to check" in nothing.stdout
    limit = concierge("tools", "search", "post", "--limit", "0")
    assert limit.returncode == 2 and "at least 1" in limit.stderr
    piped = subprocess.run(f"{sys.executable} -m server.cli toolkits list | head -1", shell=True, cwd=ROOT,
                           capture_output=True, text=True, timeout=60, env={**os.environ, **LEXICAL})
    assert piped.stdout.strip() and "Traceback" not in piped.stderr and "BrokenPipe" not in piped.stderr


def test_toolkit_and_tool_commands() -> None:
    listed = concierge("toolkits", "list", "--json")
    assert {"datetime", "math"} <= {t["slug"] for t in json.loads(listed.stdout)}
    shown = concierge("toolkits", "show", "math")
    assert "MATH_" in shown.stdout
    found = json.loads(concierge("tools", "search", "convert 9am New York time to Tokyo", "--json").stdout)
    assert found[0]["slug"] == "DATETIME_CONVERT_TIMEZONE"
