"""Issue 11: other MCP servers as toolkits. Real upstreams: the reference servers from the npm registry
(over stdio and over Streamable HTTP) and a small Python echo server (tests/upstream_echo.py) that shows
which credential reached it; real Concierge servers; real MCP clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client

from bench.procs import processes_marked
from tests import upstream_echo
from tests.auth_fixtures import submit_key_form
from tests.live import API_KEY, LiveServer, ThreadedServer, free_socket
from tests.mcp_helpers import JSONRPC_HEADERS, call, initialize_body, raw_post
from tests.upstream_echo import build_http_app

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[1]
NPM_SERVERS = ["@modelcontextprotocol/server-everything@2026.8.31"]
CACHE = ROOT / ".ci" / "cache" / "mcp-servers"
EVERYTHING_JS = CACHE / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"
ECHO_MARK = "concierge-upstream-echo-test"


@pytest.fixture(scope="session")
def everything() -> Path:
    """The reference `everything` server from the npm registry, installed once into .ci/cache."""
    if not EVERYTHING_JS.exists():
        npm = shutil.which("npm")
        assert npm, "the upstream tests need Node.js and npm (apt-get install nodejs npm)"
        subprocess.run([npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(CACHE), *NPM_SERVERS],
                       check=True, timeout=300)
    return EVERYTHING_JS


def everything_stdio(js: Path) -> dict[str, Any]:
    return {"command": shutil.which("node") or "node", "args": [str(js), "stdio"]}


def echo_stdio(**extra: Any) -> dict[str, Any]:
    """The echo server as a stdio upstream; ECHO_MARK in its environment lets a test find its processes."""
    return {"command": sys.executable, "args": ["-m", "tests.upstream_echo", "stdio"], "cwd": str(ROOT),
            "env": {"ECHO_MARK": ECHO_MARK}} | extra


def echo_pids() -> set[int]:
    return processes_marked(ECHO_MARK)


class EchoHttpUpstream(ThreadedServer):
    """The echo server over Streamable HTTP (stateful: notifications and both protocol eras work), or
    refusing 2026-07-28 requests as a server of the 2025 protocol versions does (`handshake_only`)."""

    def __init__(self, handshake_only: bool = False) -> None:
        super().__init__()
        self.handshake_only = handshake_only

    def start(self) -> EchoHttpUpstream:
        self.serve(lambda: build_http_app(self.handshake_only))
        return self


@contextlib.contextmanager
def live(tmp_path: Path, **overrides: Any) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path / "data", **overrides).start()
    try:
        yield server
    finally:
        server.stop()


def mcp_url(server: LiveServer, session: dict[str, Any]) -> str:
    return f"{server.url}/mcp/{session['id']}"


async def execute(url: str, *calls: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    async with Client(url) as client:
        envelope = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL",
                              {"tools": [{"tool_slug": slug, "arguments": args} for slug, args in calls]})
    return [r["response"] or {"successful": False, "error": r["error"]} for r in envelope["data"]["results"]]


def connect_token(server: LiveServer, session: dict[str, Any], toolkit: str, token: str) -> None:
    made = server.api("POST", f"/sessions/{session['id']}/authorize", json={"toolkit": toolkit})
    assert made.status_code == 201, made.text
    assert submit_key_form(made.json()["redirect_url"], token=token).status_code == 200


async def test_npm_server_over_stdio_is_searchable_and_callable(tmp_path: Path, everything: Path) -> None:
    with live(tmp_path, upstreams={"everything": everything_stdio(everything)}) as server:
        listed = server.api("GET", "/upstreams/everything").json()
        assert listed["transport"] == "stdio" and "EVERYTHING_GET_SUM" in listed["tools"], listed
        session = server.create_session(toolkits=["everything", "math"])
        async with Client(mcp_url(server, session)) as client:
            found = await call(client, "COMPOSIO_SEARCH_TOOLS",
                               {"queries": [{"use_case": "get the sum of two numbers with the everything server"}]})
            assert "EVERYTHING_GET_SUM" in found["data"]["results"][0]["primary_tool_slugs"]
            ran = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [
                {"tool_slug": "EVERYTHING_GET_SUM", "arguments": {"a": 2, "b": 40}},
                {"tool_slug": "EVERYTHING_GET_TINY_IMAGE", "arguments": {}}]})
            # the upstream's own schema is checked before anything goes out
            wrong = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [
                {"tool_slug": "EVERYTHING_GET_SUM", "arguments": {"a": "two", "b": 1}}]})
        total, image = (r["response"] for r in ran["data"]["results"])
        assert total["successful"] and "42" in total["data"]
        assert image["successful"] and any(block.get("type") == "image" for block in image["data"])
        refused = wrong["data"]["results"][0]["error"]
        assert not wrong["successful"] and "a: 'two' is not of type 'number'" in refused, wrong
        assert server.api("GET", f"/executions/{total['log_id']}").json()["toolkit"] == "everything"


@pytest.fixture
def everything_http(everything: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The same npm server in its Streamable HTTP mode, in its own process group."""
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    node = subprocess.Popen([shutil.which("node") or "node", str(everything), "streamableHttp"],
                            env={**os.environ, "PORT": str(port)}, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/mcp"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url, timeout=1)
            break
        time.sleep(0.2)
    try:
        yield url, node
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.pid, signal.SIGKILL)
        node.wait()


async def wait_until(check: Any, seconds: float, what: str) -> None:
    for _ in range(int(seconds / 0.25)):
        if check():
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"gave up waiting: {what}")


async def test_npm_server_over_http_registered_at_run_time(
        tmp_path: Path, everything_http: tuple[str, subprocess.Popen[bytes]]) -> None:
    url, node = everything_http
    with live(tmp_path) as server:
        added = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "server.cli", "upstreams", "add", "everything", "--url", url,
                             "--server", server.url, "--api-key", API_KEY], capture_output=True, text=True,
            timeout=60, cwd=ROOT)
        assert added.returncode == 0, added.stderr
        assert "EVERYTHING_ECHO" in added.stdout
        session = server.create_session(toolkits=["everything", "math"])
        echoed, = await execute(mcp_url(server, session), ("EVERYTHING_ECHO", {"message": "over http"}))
        assert echoed["successful"] and "over http" in str(echoed["data"]), echoed
        # the upstream goes away and Concierge restarts: its tools stay in the catalog, calls say what is
        # wrong and name it, and the other toolkits keep working
        os.killpg(node.pid, signal.SIGKILL)
        node.wait()
        server.restart()
        assert "EVERYTHING_ECHO" in server.api("GET", "/upstreams/everything").json()["tools"]
        down, math = await execute(mcp_url(server, session), ("EVERYTHING_ECHO", {"message": "hello"}),
                                   ("MATH_EVALUATE", {"expression": "6*7"}))
        assert not down["successful"] and "'everything'" in down["error"], down
        assert math["successful"] and math["data"]["result"] == 42


@pytest.mark.parametrize("mode", ["auto", "legacy"])  # the 2026-07-28 era, then the handshake era
async def test_progress_of_an_upstream_reaches_the_client_over_stdio_and_http(
        tmp_path: Path, everything: Path, everything_http: tuple[str, subprocess.Popen[bytes]], mode: str) -> None:
    url, _ = everything_http
    upstreams = {"local": everything_stdio(everything), "remote": {"url": url}}
    with live(tmp_path, upstreams=upstreams) as server:
        session = server.create_session(toolkits=["local", "remote", "math"])
        async with Client(mcp_url(server, session), mode=mode) as client:
            for toolkit in ("local", "remote"):
                seen: list[tuple[float, float | None, str | None]] = []

                async def heard(progress: float, total: float | None, message: str | None) -> None:
                    seen.append((progress, total, message))  # noqa: B023 (awaited before the loop moves on)

                result = await client.call_tool("COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [
                    {"tool_slug": f"{toolkit.upper()}_TRIGGER_LONG_RUNNING_OPERATION",
                     "arguments": {"duration": 0.6, "steps": 3}}]}, progress_callback=heard)
                envelope = result.structured_content
                assert envelope is not None and envelope["successful"], envelope
                assert "completed" in str(envelope["data"]["results"][0]["response"]["data"]), envelope
                assert seen == [(1, 3, None), (2, 3, None), (3, 3, None)], (toolkit, seen)
            # without a progress token: the one JSON answer, as always (and other toolkits alongside)
            plain = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [
                {"tool_slug": "REMOTE_TRIGGER_LONG_RUNNING_OPERATION", "arguments": {"duration": 0.2, "steps": 2}},
                {"tool_slug": "MATH_EVALUATE", "arguments": {"expression": "6*7"}}]})
            assert plain["successful"] and plain["data"]["success_count"] == 2, plain


async def test_a_tool_the_upstream_runs_only_as_a_task_is_run_as_one(
        tmp_path: Path, everything: Path, everything_http: tuple[str, subprocess.Popen[bytes]],
        caplog: pytest.LogCaptureFixture) -> None:
    """`simulate-research-query` refuses a plain `tools/call` (`taskSupport: "required"`): it is asked as a
    task and its result read with `tasks/result`, over stdio and HTTP; a call that runs out of time
    cancels its task."""
    url, _ = everything_http
    upstreams = {"local": everything_stdio(everything), "remote": {"url": url},
                 "hasty": everything_stdio(everything) | {"timeout_seconds": 1}}
    caplog.set_level(logging.INFO, logger="concierge.upstreams")
    with live(tmp_path, upstreams=upstreams) as server:
        session = server.create_session(toolkits=["local", "remote", "hasty"])
        local, remote, hasty = await execute(
            mcp_url(server, session), ("LOCAL_SIMULATE_RESEARCH_QUERY", {"topic": "otters"}),
            ("REMOTE_SIMULATE_RESEARCH_QUERY", {"topic": "owls"}), ("HASTY_SIMULATE_RESEARCH_QUERY", {"topic": "x"}))
        assert local["successful"] and "# Research Report: otters" in local["data"], local
        assert remote["successful"] and "# Research Report: owls" in remote["data"], remote
        assert not hasty["successful"], hasty
        assert "did not answer 'simulate-research-query' within 1 s" in hasty["error"], hasty
        await wait_until(lambda: any("the upstream says it is cancelled" in r.getMessage() for r in caplog.records),
                         10, "the timed-out task cancelled")
        again, = await execute(mcp_url(server, session), ("HASTY_ECHO", {"message": "still here"}))
        assert again["successful"] and "still here" in again["data"], again


RESEARCH_STAGES = ["Gathering sources...", "Analyzing content...", "Synthesizing findings...", "Generating report..."]


async def test_a_tasks_status_messages_reach_a_client_that_asked_for_progress(
        tmp_path: Path, everything: Path, everything_http: tuple[str, subprocess.Popen[bytes]]) -> None:
    """`simulate-research-query` runs four one-second stages, each announced as its task's status message,
    which an upstream tells only when asked (`tasks/get`, at the 1 s it suggests): a client that asked for
    progress hears them in order as progress, over stdio and HTTP."""
    url, _ = everything_http
    with live(tmp_path, upstreams={"local": everything_stdio(everything), "remote": {"url": url}}) as server:
        session = server.create_session(toolkits=["local", "remote"])
        async with Client(mcp_url(server, session)) as client:
            for toolkit in ("local", "remote"):
                heard: list[tuple[float, float | None, str | None]] = []

                async def hear(progress: float, total: float | None, message: str | None) -> None:
                    heard.append((progress, total, message))  # noqa: B023 -- awaited within this iteration

                result = await client.call_tool("COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [
                    {"tool_slug": f"{toolkit.upper()}_SIMULATE_RESEARCH_QUERY", "arguments": {"topic": "otters"}}]},
                    progress_callback=hear)
                envelope = result.structured_content
                assert envelope is not None and envelope["successful"], envelope
                assert "# Research Report: otters" in envelope["data"]["results"][0]["response"]["data"]
                stages = [RESEARCH_STAGES.index(m) for _, _, m in heard if m in RESEARCH_STAGES]
                assert len(stages) >= 2 and stages == sorted(set(stages)), (toolkit, heard)
                assert [p for p, _, _ in heard] == list(range(1, len(heard) + 1)), heard
                assert all(total is None for _, total, _ in heard), heard


async def test_a_task_only_tool_is_called_in_the_handshake_era_and_a_plain_answer_taken(tmp_path: Path) -> None:
    """The echo server lists `chore` as task-only (a handshake-era listing: 2026-07-28 has no tasks in its
    core) but runs it as a plain call, whose answer is taken as it is. Over HTTP its other calls speak
    2026-07-28; `chore` is called in the era that listed it."""
    echo = EchoHttpUpstream().start()
    try:
        with live(tmp_path, upstreams={"echo": {"url": echo.url + "/mcp"}, "local": echo_stdio()}) as server:
            session = server.create_session(toolkits=["echo", "local"])
            local, remote, who = await execute(mcp_url(server, session), ("LOCAL_CHORE", {}), ("ECHO_CHORE", {}),
                                               ("ECHO_WHO_AM_I", {}))
        assert local["successful"] and local["data"] == "ran chore (None)", local
        assert remote["successful"] and remote["data"] == "ran chore (2025-11-25)", remote
        assert who["successful"] and who["data"]["protocol"] == "2026-07-28", who
    finally:
        echo.stop()


async def test_progress_only_increases_and_a_client_without_the_stream_gets_plain_json(tmp_path: Path) -> None:
    echo = EchoHttpUpstream().start()
    try:
        with live(tmp_path, upstreams={"echo": {"url": echo.url + "/mcp"}, "local": echo_stdio()}) as server:
            session = server.create_session(toolkits=["echo", "local"])
            seen: list[tuple[float, float | None, str | None]] = []

            async def heard(progress: float, total: float | None, message: str | None) -> None:
                seen.append((progress, total, message))

            async with Client(mcp_url(server, session)) as client:
                result = await client.call_tool("COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [
                    {"tool_slug": "ECHO_PROGRESS", "arguments": {"steps": [1, 3, 2, 4], "total": 4}}]},
                    progress_callback=heard)
            assert result.structured_content is not None and result.structured_content["successful"], result
            # MCP wants progress to increase: the step that went back is not passed on
            assert seen == [(1, 4, "step 1"), (3, 4, "step 3"), (4, 4, "step 4")], seen
            # a token from a client that takes only JSON: one JSON answer, no stream
            body = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
                "name": "COMPOSIO_MULTI_EXECUTE_TOOL", "_meta": {"progressToken": "t1"},
                "arguments": {"tools": [{"tool_slug": "LOCAL_PROGRESS", "arguments": {"steps": [1, 2]}},
                                        {"tool_slug": "ECHO_PROGRESS", "arguments": {"steps": [5]}}]}}}
            for accept, streamed in (("application/json", False), ("application/json, text/event-stream", True)):
                answer = raw_post(mcp_url(server, session), json.dumps(body), {"Accept": accept})
                assert answer.status_code == 200, answer.text
                assert answer.headers["content-type"].startswith("text/event-stream") == streamed, answer.headers
                events = [json.loads(line[5:]) for line in answer.text.splitlines() if line.startswith("data:")]
                final = events[-1] if streamed else answer.json()
                assert final["id"] == 7 and final["result"]["structuredContent"]["data"]["success_count"] == 2
                if streamed:  # two calls at once under one token: what goes out still only increases
                    shown = [e["params"]["progress"] for e in events[:-1]]
                    assert shown and shown == sorted(set(shown)), events
                    assert {e["params"]["progressToken"] for e in events[:-1]} == {"t1"}, events
    finally:
        echo.stop()


async def test_each_user_call_carries_only_that_users_credential(tmp_path: Path) -> None:
    echo = EchoHttpUpstream().start()
    try:
        upstreams = {"echo": {"url": echo.url + "/mcp", "auth": {"type": "header"}}}
        with live(tmp_path, upstreams=upstreams) as server:
            sessions = {user: server.create_session(user_id=user, toolkits=["echo"]) for user in ("alice", "bob")}
            for user, session in sessions.items():
                connect_token(server, session, "echo", f"tok_{user}_0123456789")

            async def ask(user: str) -> tuple[str, str]:
                seen, = await execute(mcp_url(server, sessions[user]), ("ECHO_WHO_AM_I", {}))
                assert seen["successful"], seen
                # the listing session shook hands (for tools/list_changed); calls use the newer era both speak
                assert seen["data"]["protocol"] == "2026-07-28", seen
                return user, seen["data"]["credential"]

            answers = await asyncio.gather(*(ask(u) for _ in range(10) for u in ("alice", "bob")))
            assert {f"Bearer tok_{user}_0123456789" == seen for user, seen in answers} == {True}
            # one pooled connection per user, reused for all 10 calls, plus the credential-less one that lists tools
            assert server.api("GET", "/upstreams/echo").json()["connections"] == 3
            async with Client(mcp_url(server, sessions["alice"])) as client:  # the workbench calls as its user too
                ran = await call(client, "COMPOSIO_REMOTE_WORKBENCH", {"code_to_execute": (
                    "result, error = run_composio_tool('ECHO_WHO_AM_I', {})\nresult['data']['credential']")})
            assert ran["successful"] and "tok_alice_0123456789" in str(ran["data"]["results"]), ran
            stranger = server.create_session(user_id="carol", toolkits=["echo"])
            refused, = await execute(mcp_url(server, stranger), ("ECHO_WHO_AM_I", {}))
            assert not refused["successful"] and "connect" in refused["error"].lower(), refused
    finally:
        echo.stop()


async def test_an_http_upstreams_answer_past_the_size_limit_fails_that_call_only(tmp_path: Path) -> None:
    echo = EchoHttpUpstream().start()
    try:
        with live(tmp_path, upstreams={"echo": {"url": echo.url + "/mcp"}},
                  execution={"http_max_response_bytes": 65536}) as server:
            url = mcp_url(server, server.create_session(toolkits=["echo"]))
            small, = await execute(url, ("ECHO_BIG", {"chars": 5000}))
            assert small["successful"] and small["data"] == "x" * 5000, str(small)[:300]
            big, = await execute(url, ("ECHO_BIG", {"chars": 2_000_000}))
            assert not big["successful"], str(big)[:300]
            assert ("upstream MCP server 'echo' sent too large an answer (execution.http_max_response_bytes): "
                    "the answer is larger than 65536 bytes") in big["error"], big
            after, = await execute(url, ("ECHO_WHO_AM_I", {}))
            assert after["successful"], after
    finally:
        echo.stop()


async def test_stdio_credentials_from_the_environment_get_one_process_per_user(tmp_path: Path) -> None:
    upstreams = {"echo": echo_stdio(auth={"type": "header", "env": "ECHO_TOKEN", "prefix": ""})}
    with live(tmp_path, upstreams=upstreams) as server:
        sessions = {user: server.create_session(user_id=user, toolkits=["echo"]) for user in ("alice", "bob")}
        for user, session in sessions.items():
            connect_token(server, session, "echo", f"env_{user}_0123456789")
        results = await asyncio.gather(*(execute(mcp_url(server, sessions[u]), ("ECHO_WHO_AM_I", {}))
                                         for _ in range(3) for u in ("alice", "bob")))
        seen = {(r[0]["data"]["credential"], r[0]["data"]["pid"]) for r in results}
        assert {c for c, _ in seen} == {"env_alice_0123456789", "env_bob_0123456789"}
        assert len({pid for _, pid in seen}) == 2  # one process each, reused across calls
    assert not echo_pids(), "stdio upstream processes outlived the server"


async def test_process_bound_idle_reaping_and_no_orphans(tmp_path: Path) -> None:
    upstreams = {"echo": echo_stdio(auth={"type": "header", "env": "ECHO_TOKEN", "prefix": ""})}
    pool = {"max_processes": 2, "idle_seconds": 3}
    with live(tmp_path, upstreams=upstreams, upstream_pool=pool) as server:
        users = [f"user{i}" for i in range(4)]
        sessions = {u: server.create_session(user_id=u, toolkits=["echo"]) for u in users}
        for user, session in sessions.items():
            connect_token(server, session, "echo", f"env_{user}_0123456789")
        results = await asyncio.gather(*(execute(mcp_url(server, sessions[u]), ("ECHO_WHO_AM_I", {}))
                                         for u in users))
        assert all(r[0]["successful"] for r in results), results
        assert [r[0]["data"]["credential"] for r in results] == [f"env_{u}_0123456789" for u in users]
        assert len(echo_pids()) <= 2
        await wait_until(lambda: not echo_pids(), 20, "idle upstream processes reaped")
        again, = await execute(mcp_url(server, sessions["user0"]), ("ECHO_WHO_AM_I", {}))
        assert again["successful"] and len(echo_pids()) == 1
    assert not echo_pids(), "stdio upstream processes outlived the server"


THEN_SERVE = "os.execv(sys.executable, [sys.executable, '-m', 'tests.upstream_echo', 'stdio'])"
# a start that holds a machine-wide resource for a while (as CPU is, on a small machine), then serves
SLOW_START = ("import fcntl, os, sys, time\n"
              "with open(sys.argv[1], 'w') as lock:\n"
              "    fcntl.flock(lock, fcntl.LOCK_EX)\n"
              "    time.sleep(float(sys.argv[2]))\n" + THEN_SERVE)


async def test_a_crowd_of_first_calls_starts_processes_in_turns_each_within_the_timeout(tmp_path: Path) -> None:
    """Three users' processes, each start holding the lock for 2.5 s: started together, the last would
    finish after 7.5 s, past the 7 s timeout; one at a time (`max_starting`), each takes 2.5 s and more
    (the process's own start included, which on a loaded 2-core machine can take seconds)."""
    upstreams = {"echo": echo_stdio(args=["-c", SLOW_START, str(tmp_path / "start.lock"), "2.5"],
                                    auth={"type": "header", "env": "ECHO_TOKEN", "prefix": ""})}
    with live(tmp_path, upstreams=upstreams,
              upstream_pool={"max_starting": 1, "connect_timeout_seconds": 7}) as server:
        users = [f"user{i}" for i in range(3)]
        sessions = {u: server.create_session(user_id=u, toolkits=["echo"]) for u in users}
        for user, session in sessions.items():
            connect_token(server, session, "echo", f"env_{user}_0123456789")
        started = time.monotonic()
        results = await asyncio.gather(*(execute(mcp_url(server, sessions[u]), ("ECHO_WHO_AM_I", {}))
                                         for u in users))
        seen = [(r[0].get("data") or {}).get("credential") for r in results]
        assert seen == [f"env_{u}_0123456789" for u in users], results
        assert time.monotonic() - started > 3 * 2.5  # in turns
    assert not echo_pids(), "stdio upstream processes outlived the server"


async def test_a_process_that_never_finishes_its_handshake_is_stopped_at_the_timeout(tmp_path: Path) -> None:
    hung = {"command": sys.executable, "args": ["-c", "import time; time.sleep(60)"],
            "env": {"ECHO_MARK": ECHO_MARK}}
    with live(tmp_path, upstreams={"echo": echo_stdio(), "hung": hung},
              upstream_pool={"connect_timeout_seconds": 4}) as server:
        await wait_until(lambda: server.api("GET", "/upstreams/hung").json()["last_error"], 10, "the hung listing")
        hung_state = server.api("GET", "/upstreams/hung").json()
        assert "did not finish connecting within 4 s" in hung_state["last_error"], hung_state
        assert hung_state["processes"] == 0, hung_state
        await wait_until(lambda: len(echo_pids()) == 1, 10, "the hung process stopped, the echo one kept")
        ran, = await execute(mcp_url(server, server.create_session(toolkits=["echo"])), ("ECHO_WHO_AM_I", {}))
        assert ran["successful"], ran
    assert not echo_pids(), "stdio upstream processes outlived the server"


async def test_a_missing_program_or_folder_is_named_in_the_error(tmp_path: Path) -> None:
    missing = {"command": "no-such-program-for-concierge", "args": []}
    nowhere = echo_stdio(cwd=str(tmp_path / "no-such-folder"))
    with live(tmp_path, upstreams={"missing": missing, "nowhere": nowhere}) as server:
        assert server.api("GET", "/upstreams/missing").json()["last_error"] == (
            "upstream MCP server 'missing' cannot be reached: its command 'no-such-program-for-concierge' was "
            "not found (is it installed, and on the server's PATH?)")
        nowhere_error = server.api("GET", "/upstreams/nowhere").json()["last_error"]
        assert nowhere_error.endswith(f"its folder (cwd) {str(tmp_path / 'no-such-folder')!r} does not exist"), \
            nowhere_error


# a program that fails its first two starts (both protocol eras of one connection), then serves
FAILS_TWICE = ("import os, sys\n"
               "starts = os.path.join(sys.argv[1], 'starts')\n"
               "with open(starts, 'a') as f:\n"
               "    f.write('.')\n"
               "if os.path.getsize(starts) <= 2:\n"
               "    sys.exit('not yet')\n" + THEN_SERVE)


async def test_an_upstream_that_has_never_listed_its_tools_is_asked_again_soon(tmp_path: Path) -> None:
    upstreams = {"echo": echo_stdio(args=["-c", FAILS_TWICE, str(tmp_path)])}
    with live(tmp_path, upstreams=upstreams) as server:
        first = server.api("GET", "/upstreams/echo").json()
        assert first["tool_count"] == 0 and "cannot be reached" in first["last_error"], first
        started = time.monotonic()
        await wait_until(lambda: server.api("GET", "/upstreams/echo").json()["tool_count"] > 0, 20,
                         "the upstream listed on a retry")
        assert time.monotonic() - started < 15  # not at the next refresh (600 s)
        ran, = await execute(mcp_url(server, server.create_session(toolkits=["echo"])), ("ECHO_WHO_AM_I", {}))
        assert ran["successful"], ran
        assert server.api("GET", "/upstreams/echo").json()["last_error"] is None
    assert not echo_pids(), "stdio upstream processes outlived the server"


async def test_upstream_killed_mid_call_then_reconnects(tmp_path: Path) -> None:
    with live(tmp_path, upstreams={"echo": echo_stdio()}) as server:
        session = server.create_session(toolkits=["echo", "math"])
        url = mcp_url(server, session)
        first, = await execute(url, ("ECHO_WHO_AM_I", {}))
        pid = first["data"]["pid"]
        slow = asyncio.create_task(execute(url, ("ECHO_SLEEP", {"seconds": 30})))
        await asyncio.sleep(1.5)
        log = await asyncio.to_thread(server.api, "GET", f"/sessions/{session['id']}/executions")
        running = log.json()["items"][0]  # a call in progress is in the log already
        assert (running["tool_slug"], running["status"]) == ("ECHO_SLEEP", "running"), running
        started = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        broken, = await asyncio.wait_for(slow, timeout=20)
        assert time.monotonic() - started < 10
        assert not broken["successful"] and "'echo'" in broken["error"] and "went away" in broken["error"], broken
        assert broken["log_id"] == running["id"]
        ended = await asyncio.to_thread(server.api, "GET", f"/executions/{running['id']}")
        assert ended.json()["status"] == "error" and "went away" in ended.json()["error"], ended.text
        again, math = await execute(url, ("ECHO_WHO_AM_I", {}), ("MATH_EVALUATE", {"expression": "1+1"}))
        assert again["successful"] and again["data"]["pid"] != pid
        assert math["successful"]


@contextlib.contextmanager
def echo_http_process(port: int) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-m", "tests.upstream_echo", "http", str(port)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"http://127.0.0.1:{port}/mcp", timeout=1)
                break
            assert process.poll() is None and time.monotonic() < deadline, "the echo HTTP upstream did not start"
            time.sleep(0.1)
        yield process
    finally:
        process.kill()
        process.wait()


async def test_http_upstream_killed_mid_call_then_restarted(tmp_path: Path) -> None:
    """Over Streamable HTTP: the call in flight fails naming the upstream, calls fail clearly while it is
    down, and the first call after it is back succeeds (new connections; a new protocol session if the
    calls' era needs one)."""
    with free_socket() as sock:
        port = sock.getsockname()[1]
    upstream = {"url": f"http://127.0.0.1:{port}/mcp"}
    with echo_http_process(port) as first_process, live(tmp_path, upstreams={"echo": upstream}) as server:
        session = server.create_session(toolkits=["echo", "math"])
        url = mcp_url(server, session)
        first, = await execute(url, ("ECHO_WHO_AM_I", {}))
        assert first["successful"] and first["data"]["pid"] == first_process.pid, first
        slow = asyncio.create_task(execute(url, ("ECHO_SLEEP", {"seconds": 30})))
        await asyncio.sleep(1.5)
        first_process.kill()
        broken, = await asyncio.wait_for(slow, timeout=20)
        assert not broken["successful"] and "'echo'" in broken["error"], broken
        assert "closed the connection" in broken["error"], broken
        down, math = await execute(url, ("ECHO_WHO_AM_I", {}), ("MATH_EVALUATE", {"expression": "1+1"}))
        assert not down["successful"] and "cannot be reached" in down["error"], down
        assert math["successful"] and math["data"]["result"] == 2, math
        with echo_http_process(port) as second_process:
            again, = await execute(url, ("ECHO_WHO_AM_I", {}))
            assert again["successful"] and again["data"]["pid"] == second_process.pid, again


def statuses(server: LiveServer, session: dict[str, Any]) -> list[str]:
    """The session's execution rows' statuses, oldest first."""
    rows = server.api("GET", f"/sessions/{session['id']}/executions").json()["items"]
    return [row["status"] for row in reversed(rows)]


@pytest.mark.parametrize("mode", ["auto", "legacy"], ids=["2026-07-28", "handshake-era"])
async def test_a_client_that_cancels_a_call_cancels_it_upstream(tmp_path: Path, mode: str) -> None:
    """A 2026-07-28 client cancels by closing the response stream, a handshake-era one with
    `notifications/cancelled` (both as the SDK client does on giving up): the call stops at once, its
    rows say `cancelled`, and each upstream hears of it in its own way (stdio: a notification from the
    SDK; HTTP in the 2026-07-28 era: the request's connection closed; HTTP in the handshake era: a
    notification). Before, the calls ran on to their end for nobody."""
    upstream_echo.CANCELLED.clear()
    web, old = EchoHttpUpstream().start(), EchoHttpUpstream(handshake_only=True).start()
    upstreams = {"local": echo_stdio(), "web": {"url": web.url + "/mcp"}, "old": {"url": old.url + "/mcp"}}
    try:
        with live(tmp_path, upstreams=upstreams) as server:
            session = server.create_session(toolkits=["local", "web", "old"])
            sleeps = {"LOCAL_SLEEP": 30, "WEB_SLEEP": 31, "OLD_SLEEP": 32}
            async with Client(mcp_url(server, session), mode=mode) as client:
                assert (client.protocol_version == "2026-07-28") == (mode == "auto")
                started = time.monotonic()
                with anyio.move_on_after(30):
                    calling = asyncio.ensure_future(client.call_tool("COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [
                        {"tool_slug": slug, "arguments": {"seconds": s}} for slug, s in sleeps.items()]}))
                    await wait_until(lambda: statuses(server, session) == ["running"] * 3, 20,
                                     "all three calls under way")
                    calling.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await calling
                await wait_until(lambda: statuses(server, session) == ["cancelled"] * 3, 10,
                                 "the rows saying cancelled")
                # and the session goes on: the next call runs
                assert not (await client.call_tool("COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [
                    {"tool_slug": "WEB_WHO_AM_I", "arguments": {}}]})).is_error
            await wait_until(lambda: sorted(upstream_echo.CANCELLED) == [31, 32], 10,
                             "both HTTP upstreams cancelling their sleep")
            log = server.data_dir / "upstreams" / "local.log"
            await wait_until(lambda: log.exists() and "sleep of 30 s cancelled" in log.read_text(), 10,
                             "the stdio upstream cancelling its sleep")
            assert time.monotonic() - started < 25
            metrics = httpx.get(f"{server.url}/metrics", headers=server.headers).text
            closed = 'concierge_http_requests_total{method="POST",route="/mcp/{session_id}",status="499"}'
            assert (closed in metrics) == (mode == "auto"), metrics  # a request its client closed
    finally:
        web.stop()
        old.stop()


async def test_a_handshake_era_call_is_cancelled_only_by_its_own_client(tmp_path: Path) -> None:
    """In the handshake era a dropped connection is not a cancellation (the spec), and only the client
    that sent a request may cancel it: another client of the same session naming its id changes
    nothing. The cancelled request is answered with REQUEST_CANCELLED, as the SDK's transport does."""
    with live(tmp_path, upstreams={"local": echo_stdio()}) as server:
        session = server.create_session(toolkits=["local"])
        url = mcp_url(server, session)
        clients = []
        for name in ("first", "second"):
            shook = raw_post(url, initialize_body(name))
            clients.append({"mcp-session-id": shook.headers["mcp-session-id"], "mcp-protocol-version": "2025-06-18"})

        def sleep_body(request_id: int, seconds: float) -> str:
            return json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {
                "name": "COMPOSIO_MULTI_EXECUTE_TOOL",
                "arguments": {"tools": [{"tool_slug": "LOCAL_SLEEP", "arguments": {"seconds": seconds}}]}}})

        def cancel_body(request_id: int) -> str:
            return json.dumps({"jsonrpc": "2.0", "method": "notifications/cancelled",
                               "params": {"requestId": request_id, "reason": "test"}})

        async with httpx.AsyncClient(timeout=30, headers=JSONRPC_HEADERS) as http:
            with pytest.raises(httpx.ReadTimeout):  # the client goes away: the call runs on
                await http.post(url, content=sleep_body(7, 1.5), headers=clients[0], timeout=0.5)
            await wait_until(lambda: statuses(server, session) == ["success"], 10, "the dropped call finishing")

            answer = asyncio.ensure_future(http.post(url, content=sleep_body(8, 30), headers=clients[0]))
            await wait_until(lambda: statuses(server, session) == ["success", "running"], 10, "the call under way")
            other = await http.post(url, content=cancel_body(8), headers=clients[1])
            assert other.status_code == 202
            await asyncio.sleep(0.5)
            assert not answer.done()  # the other client cannot cancel it
            own = await http.post(url, content=cancel_body(8), headers=clients[0])
            assert own.status_code == 202
            cancelled = (await asyncio.wait_for(answer, 10)).json()
        assert cancelled == {"jsonrpc": "2.0", "id": 8, "error": {"code": -32800, "message": "Request cancelled"}}
        await wait_until(lambda: statuses(server, session) == ["success", "cancelled"], 10, "the row saying cancelled")


async def test_timeouts_errors_and_list_changed(tmp_path: Path) -> None:
    with live(tmp_path, upstreams={"echo": echo_stdio(timeout_seconds=1)},
              upstream_pool={"connect_timeout_seconds": 20}) as server:
        session = server.create_session(toolkits=["echo"], tags={"disable": ["destructiveHint"]})
        url = mcp_url(server, session)
        late, failed = await execute(url, ("ECHO_SLEEP", {"seconds": 5}), ("ECHO_FAIL", {}))
        assert not late["successful"] and "within 1 s" in late["error"], late
        assert not failed["successful"] and "the echo server says no" in failed["error"], failed
        grow, = await execute(url, ("ECHO_GROW", {"name": "freshTool"}))
        assert not grow["successful"] and "not available in this session" in grow["error"]  # destructive: filtered
        everything = server.create_session(toolkits=["echo"])
        grown, = await execute(mcp_url(server, everything), ("ECHO_GROW", {"name": "freshTool"}))
        assert grown["successful"], grown
        await wait_until(lambda: server.api("GET", "/tools/ECHO_FRESH_TOOL").status_code == 200, 15,
                         "tools/list_changed refreshing the catalog")
        fresh, = await execute(mcp_url(server, everything), ("ECHO_FRESH_TOOL", {}))
        assert fresh["successful"] and fresh["data"] == "ran freshTool"
        tool = server.api("GET", "/tools/ECHO_WHO_AM_I").json()
        assert {"readOnlyHint", "idempotentHint"} <= set(tool["tags"])


async def test_bad_registrations_are_refused_and_leave_nothing(tmp_path: Path) -> None:
    with live(tmp_path) as server:
        cases = [
            ({"name": "both", "url": "http://127.0.0.1:9/mcp", "command": "true"}, 400, "exactly one"),
            ({"name": "math", "url": "http://127.0.0.1:9/mcp"}, 409, "already a toolkit"),
            ({"name": "Bad-Name", "url": "http://127.0.0.1:9/mcp"}, 400, "name: String should match pattern"),
            ({"name": "shell", "command": "sh"}, 403, "allow_commands_from_api"),
            ({"name": "gone", "url": "http://127.0.0.1:9/mcp"}, 502, "'gone' cannot be reached: no connection to "
             "http://127.0.0.1:9/mcp (nothing listening there"),
            ({"name": "locked", "url": "http://127.0.0.1:9/mcp", "auth": {"type": "oauth"}}, 502,
             "'locked' cannot be reached: no connection to http://127.0.0.1:9/mcp"),
            ({"name": "typo", "urll": "http://127.0.0.1:9/mcp"}, 400, "did you mean 'url'"),
            ({"name": "leaky", "url": "http://127.0.0.1:9/mcp", "headers": {"Authorization": "Bearer LEAKME_1\n"}},
             400, "the value of header 'Authorization' holds a line break"),
            ({"name": "spaced", "url": "http://127.0.0.1:9/mcp", "headers": {"X Token": "LEAKME_2"}}, 400,
             "header name 'X Token' is not an HTTP header name"),
            ({"name": "forever", "url": "http://127.0.0.1:9/mcp", "timeout_seconds": 1e308}, 400, "timeout_seconds"),
        ]
        for body, status, text in cases:
            answer = server.api("POST", "/upstreams", json=body)
            assert answer.status_code == status, (body, answer.text)
            assert text in answer.json()["error"]["message"], (body, answer.text)
            assert "LEAKME" not in answer.text  # a header's value may be a token: never echoed
        assert server.api("GET", "/upstreams").json()["items"] == []
        assert server.api("GET", "/toolkits/gone").status_code == 404
        assert server.api("DELETE", "/upstreams/math").status_code == 404


def _db_bytes(data_dir: Path) -> bytes:
    """Everything SQLite holds on disk for the server, the write-ahead log included."""
    return b"".join(p.read_bytes() for p in data_dir.glob("concierge.db*") if p.is_file())


async def test_a_registered_upstreams_headers_and_env_are_sealed_at_rest(tmp_path: Path) -> None:
    echo = EchoHttpUpstream().start()
    secret = "Bearer HDRSECRET_0123456789"
    try:
        with live(tmp_path, upstream_pool={"allow_commands_from_api": True}) as server:
            made = server.api("POST", "/upstreams", json={"name": "fixed", "url": echo.url + "/mcp",
                                                          "headers": {"Authorization": secret}})
            assert made.status_code == 201, made.text
            stdio = server.api("POST", "/upstreams", json={"name": "envd", **echo_stdio(),
                                                           "env": {"ECHO_TOKEN": "ENVSECRET_0123456789"}})
            assert stdio.status_code == 201, stdio.text
            assert "HDRSECRET" not in server.api("GET", "/upstreams/fixed").text
            session = server.create_session(toolkits=["fixed", "envd"])
            seen, env_seen = await execute(mcp_url(server, session), ("FIXED_WHO_AM_I", {}), ("ENVD_WHO_AM_I", {}))
            assert seen["data"]["credential"] == secret and "ENVSECRET_0123456789" in str(env_seen["data"])
            server.restart()  # read back from the database: still sent
            seen, env_seen = await execute(mcp_url(server, session), ("FIXED_WHO_AM_I", {}), ("ENVD_WHO_AM_I", {}))
            assert seen["data"]["credential"] == secret and "ENVSECRET_0123456789" in str(env_seen["data"])
            stored = _db_bytes(tmp_path / "data")
            assert b"HDRSECRET" not in stored and b"ENVSECRET" not in stored and b"HDRSECRET" not in b"".join(
                p.read_bytes() for p in (tmp_path / "data").rglob("*.log") if p.is_file())

            server.stop()  # a row from before headers were sealed: sealed at the next start
            with sqlite3.connect(tmp_path / "data" / "concierge.db") as db:
                db.execute("UPDATE upstreams SET definition = ?, secrets = NULL WHERE name = 'fixed'",
                           (json.dumps({"url": echo.url + "/mcp", "headers": {"Authorization": secret}}),))
            server.start()
            seen, = await execute(mcp_url(server, session), ("FIXED_WHO_AM_I", {}))
            assert seen["data"]["credential"] == secret
            with sqlite3.connect(tmp_path / "data" / "concierge.db") as db:
                definition, sealed = db.execute(
                    "SELECT definition, secrets FROM upstreams WHERE name = 'fixed'").fetchone()
            assert "HDRSECRET" not in definition and sealed and b"HDRSECRET" not in sealed
    finally:
        echo.stop()
