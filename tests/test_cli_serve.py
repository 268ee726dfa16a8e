"""Issue 15, the first hour: `concierge serve` as a new user runs it (taken port, admin key recovery,
quiet logs), the CLI finding its server, `--version`, and one-line help on every command and flag."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client

from bench.procs import processes_marked
from server.cli import parser
from tests.mcp_helpers import call

ROOT = Path(__file__).resolve().parents[1]
LISTENING = "Concierge listening on "
KEY_LINE = re.compile(r"Admin API key \(shown once, store it now\): (ck_\S+)")


def clean_env(**extra: str) -> dict[str, str]:
    """No CONCIERGE_* from the developer's shell; lexical search so results never depend on extras."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONCIERGE_")}
    return env | {"CONCIERGE_SEARCH__SEMANTIC": "off"} | extra


def concierge(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server.cli", *args], capture_output=True, text=True, timeout=90,
                          cwd=cwd, env=env or clean_env())


class Serve:
    """`concierge serve --port 0` as a process; its merged output is collected line by line."""

    def __init__(self, data_dir: Path, *flags: str, cwd: Path = ROOT, env: dict[str, str] | None = None,
                 command: list[str] | None = None) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [*(command or [sys.executable, "-m", "server.cli"]), "serve", "--port", "0", "--data-dir", str(data_dir),
             *flags],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd, env=env or clean_env())
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + 60
        while not any(LISTENING in line for line in self.lines):
            assert self.proc.poll() is None and time.monotonic() < deadline, "".join(self.lines)
            time.sleep(0.05)
        self.url = next(line for line in self.lines if LISTENING in line).split(LISTENING)[1].split()[0]

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def new_key(self) -> str | None:
        found = [m.group(1) for line in self.lines if (m := KEY_LINE.search(line))]
        return found[0] if found else None

    def status(self, key: str) -> int:
        return httpx.get(f"{self.url}/api/v1/toolkits", headers={"Authorization": f"Bearer {key}"}).status_code

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)

    def __enter__(self) -> Serve:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def test_taken_port_is_one_line_and_never_listening(tmp_path: Path) -> None:
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        result = concierge("serve", "--port", str(port), "--data-dir", str(tmp_path / "d"))
    finally:
        holder.close()
    assert result.returncode != 0
    assert "listening" not in (result.stdout + result.stderr).lower()
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"port {port}" in lines[0] and "already in use" in lines[0] and "--port" in lines[0]


def test_version() -> None:
    result = concierge("--version")
    assert result.returncode == 0 and re.fullmatch(r"concierge \S+\n", result.stdout)


def test_no_server_message_names_where_the_url_came_from(tmp_path: Path) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    url = f"http://127.0.0.1:{port}"
    from_env = concierge("sessions", "list", "--user-id", "u", cwd=tmp_path,
                         env=clean_env(CONCIERGE_BASE_URL=url, CONCIERGE_API_KEY="ck_x"))
    assert from_env.returncode == 2
    assert f"no Concierge server at {url} (from CONCIERGE_BASE_URL)" in from_env.stderr
    assert "--server URL" in from_env.stderr and "concierge serve" in from_env.stderr
    # one spelling of the server's address for every command: `upstreams add` takes --url for the upstream
    for command in (["sessions", "list", "--user-id", "u"], ["upstreams", "list"],
                    ["upstreams", "add", "x", "--url", "http://127.0.0.1:9/mcp"]):
        told = concierge(*command, "--server", url, cwd=tmp_path, env=clean_env(CONCIERGE_API_KEY="ck_x"))
        assert f"no Concierge server at {url} (from --server)" in told.stderr, (command, told.stderr)
    (tmp_path / "concierge.toml").write_text(f"port = {port}\n")
    from_config = concierge("sessions", "list", "--user-id", "u", cwd=tmp_path, env=clean_env(CONCIERGE_API_KEY="x"))
    assert f"no Concierge server at {url} (from the local config" in from_config.stderr
    assert "CONCIERGE_BASE_URL" in from_config.stderr


def test_cli_finds_the_server_running_from_its_folder(tmp_path: Path) -> None:
    """`serve --port X` then a session command from the same folder: no --url needed."""
    with Serve(tmp_path / ".concierge", cwd=tmp_path) as serve:
        env = clean_env(CONCIERGE_API_KEY=serve.new_key or "")
        created = concierge("sessions", "create", "--user-id", "u1", "--toolkits", "math", "--json", cwd=tmp_path,
                            env=env)
        assert created.returncode == 0, created.stderr
        assert serve.url in created.stdout
    stopped = concierge("sessions", "list", "--user-id", "u1", cwd=tmp_path, env=env)
    assert stopped.returncode == 2 and "local config" in stopped.stderr  # the marker went with the server


def test_admin_key_is_kept_unless_reset(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with Serve(data, env=clean_env(CONCIERGE_API_KEY="ck_first_key_0123456789")) as serve:
        assert serve.new_key is None and serve.status("ck_first_key_0123456789") == 200
    with Serve(data, env=clean_env(CONCIERGE_API_KEY="ck_other_key_0123456789")) as serve:
        assert serve.status("ck_first_key_0123456789") == 200  # an exported variable does not replace it
        assert serve.status("ck_other_key_0123456789") == 401
        assert any("--reset-admin-key" in line for line in serve.lines)
    reset = concierge("keys", "reset-admin", "--data-dir", str(data))
    assert reset.returncode == 0, reset.stderr
    new_key = KEY_LINE.search(reset.stdout).group(1)
    with Serve(data) as serve:
        assert serve.new_key is None
        assert serve.status(new_key) == 200 and serve.status("ck_first_key_0123456789") == 401
    with Serve(data, "--reset-admin-key", env=clean_env(CONCIERGE_API_KEY="ck_other_key_0123456789")) as serve:
        assert serve.status("ck_other_key_0123456789") == 200 and serve.status(new_key) == 401
    for action in ("reset-admin", "rotate"):  # neither makes an installation where there is none
        missing = concierge("keys", action, "--data-dir", str(tmp_path / "nothing"))
        assert missing.returncode == 2 and "no Concierge database" in missing.stderr, (action, missing.stderr)
        assert not (tmp_path / "nothing").exists()


@pytest.mark.anyio
async def test_info_log_has_no_per_request_lines(tmp_path: Path) -> None:
    with Serve(tmp_path / "d") as serve:
        headers = {"Authorization": f"Bearer {serve.new_key}"}
        session = httpx.post(f"{serve.url}/api/v1/sessions", headers=headers,
                             json={"user_id": "quiet", "toolkits": ["math"]}).json()
        await anyio.sleep(0.5)
        before = len(serve.lines)
        async with Client(session["mcp"]["url"]) as client:
            await client.list_tools()
            for n in range(3):
                result = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [
                    {"tool_slug": "MATH_EVALUATE", "arguments": {"expression": f"{n} + 1"}}]})
                assert result["successful"], result
            await call(client, "COMPOSIO_SEARCH_TOOLS", {"queries": [{"use_case": "add two numbers"}]})
        await anyio.sleep(0.5)
        during = serve.lines[before:]
    assert any("INFO" in line for line in serve.lines[:before])  # logging is on at INFO
    assert during == [], "".join(during)


def echo_upstream_config(tmp_path: Path, mark: str) -> Path:
    """A config with the echo server as stdio upstream `echo`, `mark` in its environment (`processes_marked`)."""
    config = tmp_path / "concierge.toml"
    config.write_text(f"""
[upstreams.echo]
command = {json.dumps(sys.executable)}
args = ["-m", "tests.upstream_echo", "stdio"]
cwd = {json.dumps(str(ROOT))}
env = {{ ECHO_MARK = "{mark}" }}
""")
    return config


@pytest.mark.anyio
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_a_stop_signal_closes_upstreams_and_the_store_then_exits(tmp_path: Path, stop: int) -> None:
    """Ctrl-C (or `kill`) used to stop uvicorn and then cut the runtime's close short: SIGINT left the
    process waiting on the store's threads for ever, SIGTERM ended it without closing anything."""
    mark = f"concierge-stop-test-{tmp_path.name}"
    config = echo_upstream_config(tmp_path, mark)
    serve = Serve(tmp_path / "d", "--config", str(config))
    try:
        headers = {"Authorization": f"Bearer {serve.new_key}"}
        session = httpx.post(f"{serve.url}/api/v1/sessions", headers=headers,
                             json={"user_id": "u", "toolkits": ["echo"]}).json()
        async with Client(session["mcp"]["url"]) as client:
            result = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [
                {"tool_slug": "ECHO_WHO_AM_I", "arguments": {}}]})
            assert result["successful"], result
        assert processes_marked(mark)  # the upstream's process, kept for the next call
        serve.proc.send_signal(stop)
        assert serve.proc.wait(timeout=30) == 0, "".join(serve.lines[-30:])
    finally:
        if serve.proc.poll() is None:
            serve.proc.kill()
    assert processes_marked(mark) == set()
    assert not (tmp_path / "d" / "concierge.db-wal").exists()  # the store closed: SQLite folded its log back in
    assert not any("Traceback" in line for line in serve.lines), "".join(serve.lines)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stop_signal_ends_stdio_mode_while_its_client_keeps_stdin_open(tmp_path: Path, stop: int) -> None:
    """`concierge stdio` read stdin in a thread a stop had to wait for: with the client's stdin still
    open, Ctrl-C waited for its next line (for ever, if none came) and SIGTERM ended the process
    without its close. Now both close everything (upstream processes, the store) and exit 0."""
    mark = f"concierge-stdio-stop-test-{tmp_path.name}"
    config = echo_upstream_config(tmp_path, mark)
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "stdio", "--user-id", "u", "--toolkits", "echo", "--config", str(config),
         "--data-dir", str(tmp_path / "d")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=clean_env())
    assert proc.stdin is not None and proc.stdout is not None

    def ask(message: dict[str, object]) -> dict[str, object]:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps({"jsonrpc": "2.0", **message}) + "\n")
        proc.stdin.flush()
        return dict(json.loads(proc.stdout.readline()))

    try:
        init = ask({"id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}})
        assert "result" in init, init
        proc.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")
        ran = ask({"id": 2, "method": "tools/call", "params": {"name": "COMPOSIO_MULTI_EXECUTE_TOOL", "arguments": {
            "tools": [{"tool_slug": "ECHO_WHO_AM_I", "arguments": {}}]}}})
        assert ran["result"]["structuredContent"]["successful"], ran  # type: ignore[index]
        assert processes_marked(mark)  # the upstream's process, kept for the next call
        started = time.monotonic()
        proc.send_signal(stop)  # stdin stays open: no line and no end of file will come
        assert proc.wait(timeout=30) == 0, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() - started < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert processes_marked(mark) == set()
    assert not (tmp_path / "d" / "concierge.db-wal").exists()  # the store closed
    assert proc.stderr is not None and "Traceback" not in proc.stderr.read()


def test_stdio_mode_answers_every_request_read_before_stdin_ended(tmp_path: Path) -> None:
    """A client that writes its requests and closes stdin (a script: `concierge stdio < requests.jsonl`)
    gets every answer; the SDK ended the serving at end of input and cancelled what was still running
    (276 of 501 answered, checked)."""
    head = [{"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "script", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"}]
    calls = [{"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {
        "name": "COMPOSIO_MULTI_EXECUTE_TOOL", "arguments": {"tools": [
            {"tool_slug": "MATH_EVALUATE", "arguments": {"expression": f"{i}*2"}}]}}} for i in range(1, 41)]
    pings = [{"jsonrpc": "2.0", "id": f"p{i}", "method": "ping"} for i in range(300)]
    run = subprocess.run(
        [sys.executable, "-m", "server.cli", "stdio", "--user-id", "u", "--toolkits", "math", "--data-dir",
         str(tmp_path / "d")], input="".join(json.dumps(m) + "\n" for m in [*head, *calls, *pings]),
        capture_output=True, text=True, timeout=120, cwd=ROOT, env=clean_env())
    assert run.returncode == 0, run.stderr
    answers = {m["id"]: m for m in map(json.loads, run.stdout.splitlines())}
    assert set(answers) == {0} | {m["id"] for m in [*calls, *pings]}
    for i in range(1, 41):
        result = answers[i]["result"]["structuredContent"]["data"]["results"][0]["response"]["data"]["result"]
        assert result == i * 2


def test_stdio_mode_with_stdin_closed_stops_with_one_line(tmp_path: Path) -> None:
    """Started with fd 0 closed, the next file opened takes fd 0 (the event loop's, here): taking that for
    the MCP channel broke the loop, with tracebacks, and the process hung until killed."""
    run = subprocess.run([sys.executable, "-m", "server.cli", "stdio", "--user-id", "u", "--data-dir",
                          str(tmp_path / "d")], capture_output=True, text=True, timeout=60, cwd=ROOT, env=clean_env(),
                         stdin=subprocess.DEVNULL, preexec_fn=lambda: os.close(0))
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip() == "concierge: stdio mode speaks MCP over stdin and stdout, and one of them is closed"


def _parsers(p: argparse.ArgumentParser, path: str = "concierge") -> list[tuple[str, argparse.ArgumentParser]]:
    out = [(path, p)]
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                out += _parsers(child, f"{path} {name}")
    return out


def test_every_command_action_and_flag_has_help() -> None:
    missing = []
    for path, p in _parsers(parser()):
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                missing += [f"{path} {c.dest}" for c in action._choices_actions if not c.help]
                described = {c.dest for c in action._choices_actions}
                missing += [f"{path} {name}" for name in action.choices if name not in described]
            elif not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []
    shown = concierge("sessions", "update", "--help").stdout
    assert "--expected-version" in shown and "config_version" in shown
    assert "tags.enable" in concierge("sessions", "create", "--help").stdout
