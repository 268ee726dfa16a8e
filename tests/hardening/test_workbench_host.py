"""Safe on any host: `isolation = "auto"` never runs workbench code where it can read the data folder.

Three hosts, made real rather than pretended: bubblewrap hidden from PATH (the server's own
namespace sandbox takes over and is attacked from inside), a host where the kernel refuses
namespaces (a server started under a seccomp filter that denies them, as Docker's default profile
does: neither sandbox runs, so the workbench is off), and an operator who names a weaker level.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from mcp import Client

from tests.live import API_KEY, LiveServer, free_socket
from tests.mcp_helpers import call

pytestmark = pytest.mark.anyio
FIXTURES = Path(__file__).parent.parent / "fixtures" / "toolkits"
WORKBENCH_TOOLS = {"COMPOSIO_REMOTE_WORKBENCH", "COMPOSIO_REMOTE_BASH_TOOL"}
REPO = Path(__file__).resolve().parent.parent.parent


def path_without_bwrap(tmp_path: Path) -> str:
    """A PATH holding only the Python interpreter's folder: `bwrap` cannot be found on it."""
    folder = tmp_path / "bin-without-bwrap"
    folder.mkdir()
    os.symlink(sys.executable, folder / "python3")
    return str(folder)


def attack_code(data_dir: Path, db: Path, port: int) -> str:
    targets = [str(data_dir / "secret.key"), str(db), str(data_dir), str(REPO / "server" / "config.py")]
    return textwrap.dedent(f"""
        import os, socket
        found = {{}}
        for path in {targets!r}:
            try:
                if os.path.isdir(path):
                    found[path] = os.listdir(path)
                else:
                    with open(path, 'rb') as handle:
                        found[path] = len(handle.read())
            except OSError as exc:
                found[path] = type(exc).__name__
        sock = socket.socket()
        sock.settimeout(2)
        try:
            found['tcp'] = sock.connect_ex(('127.0.0.1', {port}))
        except OSError as exc:
            found['tcp'] = type(exc).__name__
        found
    """)


async def test_without_bwrap_auto_sandboxes_with_namespaces_and_hides_the_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PATH", path_without_bwrap(tmp_path))
    caplog.set_level(logging.INFO, logger="server.workbench")
    live = LiveServer(tmp_path / "data", toolkit_paths=[FIXTURES]).start()
    try:
        assert "workbench isolation: namespaces" in caplog.text
        data_dir = live.data_dir.resolve()
        db = live.settings().db_path.resolve()
        assert (data_dir / "secret.key").is_file() and db.is_file()
        session = live.create_session(toolkits=["demo"])
        async with Client(session["mcp"]["url"]) as client:
            assert {t.name for t in (await client.list_tools()).tools} >= WORKBENCH_TOOLS
            run = await call(client, "COMPOSIO_REMOTE_WORKBENCH",
                             {"code_to_execute": attack_code(data_dir, db, live.port)})
            assert run["successful"], run
            found = eval(run["data"]["results"])  # noqa: S307 - a dict literal printed by our own code
            for path in (data_dir / "secret.key", db, data_dir, REPO / "server" / "config.py"):
                assert found[str(path)] == "FileNotFoundError", found
            assert found["tcp"] != 0, found  # the server's port is not reachable: no shared network
            shell = await call(client, "COMPOSIO_REMOTE_BASH_TOOL",
                               {"command": f"cat {data_dir}/secret.key; ls /; id -u"})
            assert "No such file" in shell["data"]["stderr"]
            assert "workbench" in shell["data"]["stdout"].split()
            # the tool channel still works: a tool call from inside runs as this session
            echo = await call(client, "COMPOSIO_REMOTE_WORKBENCH",
                              {"code_to_execute": "run_composio_tool('DEMO_ECHO', {'text': 'hi'})[0]['data']['text']"})
            assert echo["data"]["results"] == "'hi'", echo
    finally:
        live.stop()


SECCOMP_WRAPPER = """
import ctypes, os, struct, sys
from server.workbench.seccomp import build_filter
program = build_filter()
libc = ctypes.CDLL(None, use_errno=True)
buffer = ctypes.create_string_buffer(program)
fprog = struct.pack("HP", len(program) // 8, ctypes.addressof(buffer))
assert libc.prctl(38, 1, 0, 0, 0) == 0
assert libc.prctl(22, 2, ctypes.c_char_p(fprog), 0, 0) == 0
os.execv(sys.executable, [sys.executable, "-m", "server.cli", *sys.argv[1:]])
"""


def serve_without_namespaces(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[str], str, Path]:
    """`concierge serve` on a host where the kernel refuses new namespaces (bwrap is on PATH)."""
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    log_file = tmp_path / f"serve-{time.monotonic_ns()}.log"
    env = {**os.environ, "PYTHONPATH": str(REPO), "CONCIERGE_API_KEY": API_KEY,
           "CONCIERGE_SEARCH__SEMANTIC": "off", "CONCIERGE_TOOLKIT_PATHS": json.dumps([str(FIXTURES)])}
    with open(log_file, "w") as log_handle:
        process = subprocess.Popen(
            [sys.executable, "-c", SECCOMP_WRAPPER, "serve", "--port", str(port), "--data-dir",
             str(tmp_path / "data"), *extra],
            env=env, stdout=log_handle, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log_file.read_text()
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return process, url, log_file
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError(f"server did not start: {log_file.read_text()}")


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def test_no_sandbox_on_the_host_turns_the_workbench_off_with_one_line(tmp_path: Path) -> None:
    assert ctypes.CDLL(None).prctl  # the wrapper needs prctl: Linux only, like the sandboxes
    process, url, log_file = serve_without_namespaces(tmp_path)
    try:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        created = httpx.post(f"{url}/api/v1/sessions", json={"user_id": "u1", "toolkits": ["demo"]},
                             headers=headers, timeout=30)
        assert created.status_code == 201, created.text
        session = created.json()
        async with Client(session["mcp"]["url"]) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert not names & WORKBENCH_TOOLS and "COMPOSIO_MULTI_EXECUTE_TOOL" in names
            refused = await client.call_tool("COMPOSIO_REMOTE_WORKBENCH", {"code_to_execute": "1"})
            assert refused.is_error
            # no offload path either: a large result comes back inline, no file is written
            big = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL",
                             {"tools": [{"tool_slug": "DEMO_BIG", "arguments": {"rows": 2000}}]})
            shown = big["data"]["results"][0]["response"]["data"]
            assert "offloaded_to_workbench" not in shown
            put = httpx.put(f"{url}/api/v1/sessions/{session['id']}/files/a.txt", content=b"x",
                            headers=headers, timeout=30)
            assert put.status_code == 403 and "no sandbox" in put.text
    finally:
        stop(process)
    lines = [line for line in log_file.read_text().splitlines() if "workbench" in line.lower()]
    off = [line for line in lines if "workbench: OFF" in line]
    assert len(off) == 1, lines
    assert "bubblewrap" in off[0] and "docs/workbench.md" in off[0] and 'isolation = "rlimit-only"' in off[0]
    assert "bwrap:" in off[0] and "namespaces:" in off[0]  # why, for each sandbox tried


async def test_a_named_weaker_level_runs_but_warns_at_every_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="server.workbench")
    live = LiveServer(tmp_path / "data", workbench={"isolation": "rlimit-only"}).start()
    try:
        for _ in range(2):
            warnings = [r.getMessage() for r in caplog.records if "'rlimit-only' (set in the configuration)"
                        in r.getMessage()]
            assert len(warnings) == 1 and "can read the server's data folder" in warnings[0]
            session = live.create_session()
            async with Client(session["mcp"]["url"]) as client:
                assert {t.name for t in (await client.list_tools()).tools} >= WORKBENCH_TOOLS
            caplog.clear()
            live.restart()
    finally:
        live.stop()


async def test_a_named_sandbox_that_cannot_run_stops_the_server(tmp_path: Path) -> None:
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    env = {**os.environ, "PYTHONPATH": str(REPO), "CONCIERGE_API_KEY": API_KEY}
    done = subprocess.run(
        [sys.executable, "-c", SECCOMP_WRAPPER, "serve", "--port", str(port), "--data-dir", str(tmp_path / "d")],
        env={**env, "CONCIERGE_WORKBENCH__ISOLATION": "namespaces"}, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "workbench isolation is 'namespaces' but that sandbox cannot run here" in done.stderr + done.stdout
