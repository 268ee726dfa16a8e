"""No leaks under load (issue 16): concurrent MCP clients (httpx speaking JSON-RPC, each with its own
connection and Mcp-Session-Id) search and execute against a real `concierge serve` process on loopback.
Zero 5xx, zero protocol errors; afterwards the server's memory is back within 10% of its warmed-up
start, and its threads, file descriptors and child (workbench) processes are back to where they were.

Default: 50 clients for 10 s (CI). `--soak`: 200 clients for 60 s, then 10 minutes with sessions coming
and going."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tests.live import API_KEY, free_socket

ROOT = Path(__file__).resolve().parents[2]
# Worker threads come from bounded pools (anyio's 40-thread limiter, one per SQLite connection, the event
# loop's executor) and idle out on their own schedule; what must not happen is growth without bound.
MAX_THREADS = 64
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
SEARCH = {"name": "COMPOSIO_SEARCH_TOOLS", "arguments": {"queries": [{"use_case": "add two numbers"}]}}
EXECUTE = {"name": "COMPOSIO_MULTI_EXECUTE_TOOL", "arguments": {"tools": [
    {"tool_slug": "MATH_EVALUATE", "arguments": {"expression": "2 * (3 + 4)"}}]}}


@dataclass
class Tally:
    calls: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    protocol_errors: list[str] = field(default_factory=list)
    tool_failures: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


class ServerProcess:
    def __init__(self, tmp: Path) -> None:
        sock = free_socket()
        self.port = sock.getsockname()[1]
        sock.close()
        self.url = f"http://127.0.0.1:{self.port}"
        config = tmp / "concierge.toml"
        config.write_text(f'api_key = "{API_KEY}"\nlog_level = "warning"\n[search]\nsemantic = "off"\n'
                          '[workbench]\nidle_timeout_seconds = 2\n')
        self.log = (tmp / "server.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--config", str(config), "--port", str(self.port),
             "--data-dir", str(tmp / "data")], env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None and time.monotonic() < deadline, (tmp / "server.log").read_text()
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"{self.url}/api/v1{path}", headers={"Authorization": f"Bearer {API_KEY}"},
                             timeout=60, **kwargs)

    def usage(self) -> dict[str, int]:
        """RSS (kB), threads, open file descriptors and child processes of the server."""
        status = dict(line.split(":", 1) for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines())
        children = sum(len(p.read_text().split()) for p in Path(f"/proc/{self.proc.pid}/task").glob("*/children"))
        return {"rss_kb": int(status["VmRSS"].split()[0]), "threads": int(status["Threads"]),
                "fds": len(os.listdir(f"/proc/{self.proc.pid}/fd")), "children": children}

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.log.close()


@pytest.fixture
def live_process(tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path)
    yield server
    server.stop()


async def _initialize(http: httpx.AsyncClient, url: str, tally: Tally) -> dict[str, str] | None:
    init = await http.post(url, json={"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "load", "version": "1"}}})
    tally.statuses[init.status_code] += 1
    if init.status_code != 200:
        tally.protocol_errors.append(f"initialize: {init.status_code} {init.text[:200]}")
        return None
    headers = {"Mcp-Session-Id": init.headers["mcp-session-id"], "Mcp-Protocol-Version": "2025-06-18"}
    note = await http.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers)
    tally.statuses[note.status_code] += 1
    return headers


async def _calls(http: httpx.AsyncClient, url: str, headers: dict[str, str], deadline: float, tally: Tally,
                 workbench: bool) -> None:
    """One MCP client's work: search and execute until the deadline, on its own connection."""
    calls = [SEARCH, EXECUTE]
    if workbench:
        calls.append({"name": "COMPOSIO_REMOTE_WORKBENCH", "arguments": {"code_to_execute": "print(6 * 7)"}})
    n = 0
    while time.monotonic() < deadline:
        params = calls[n % len(calls)]
        n += 1
        started = time.perf_counter()
        answer = await http.post(url, json={"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": params},
                                 headers=headers)
        tally.latencies.append(time.perf_counter() - started)
        tally.calls += 1
        tally.statuses[answer.status_code] += 1
        if answer.status_code != 200:
            tally.protocol_errors.append(f"{params['name']}: HTTP {answer.status_code} {answer.text[:200]}")
            continue
        body = answer.json()
        if "error" in body or body.get("id") != n:
            tally.protocol_errors.append(f"{params['name']}: {str(body)[:200]}")
        elif body["result"].get("isError"):
            tally.tool_failures.append(f"{params['name']}: {body['result']['content'][0]['text'][:200]}")
        if workbench and params["name"] == "COMPOSIO_REMOTE_WORKBENCH":
            calls.pop()  # one workbench run per workbench client: enough to start (and later reap) a process


async def _load(server: ServerProcess, clients: int, seconds: float, sessions: list[str],
                workbench_clients: int = 0) -> Tally:
    """All clients connect and initialize first; then every one of them works for `seconds`."""
    tally = Tally()
    urls = [f"{server.url}/mcp/{sessions[i % len(sessions)]}" for i in range(clients)]
    async with contextlib.AsyncExitStack() as stack:
        https = [await stack.enter_async_context(httpx.AsyncClient(headers=HEADERS, timeout=120))
                 for _ in range(clients)]
        ready: list[dict[str, str] | None] = [None] * clients

        async def init(i: int) -> None:
            ready[i] = await _initialize(https[i], urls[i], tally)

        async with anyio.create_task_group() as group:
            for i in range(clients):
                group.start_soon(init, i)
        deadline = time.monotonic() + seconds
        async with anyio.create_task_group() as group:
            for i, headers in enumerate(ready):
                if headers is not None:
                    group.start_soon(_calls, https[i], urls[i], headers, deadline, tally, i < workbench_clients)
    return tally


async def _churn(server: ServerProcess, seconds: float, clients: int) -> Tally:
    """Sessions coming and going: each round creates sessions, loads them briefly, deletes them."""
    total = Tally()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        created = [server.api("POST", "/sessions", json={"user_id": f"churn{i}", "toolkits": ["math"]}).json()["id"]
                   for i in range(5)]
        round_tally = await _load(server, clients, 5, created, workbench_clients=2)
        for session_id in created:
            assert server.api("DELETE", f"/sessions/{session_id}").status_code == 204
        total.calls += round_tally.calls
        total.statuses.update(round_tally.statuses)
        total.protocol_errors += round_tally.protocol_errors
        total.tool_failures += round_tally.tool_failures
        total.latencies += round_tally.latencies
    return total


def _settled(server: ServerProcess, baseline: dict[str, int], seconds: float = 30) -> dict[str, int]:
    """Usage once fds and child processes are back to the baseline (or the time is up)."""
    deadline = time.monotonic() + seconds
    while True:
        now = server.usage()
        back = all(now[k] <= baseline[k] for k in ("fds", "children"))
        if back or time.monotonic() > deadline:
            return now
        time.sleep(0.5)


def _report(name: str, tally: Tally, seconds: float, before: dict[str, int], after: dict[str, int]) -> str:
    lat = sorted(tally.latencies) or [0.0]
    return (f"{name}: {tally.calls} calls in {seconds:.0f} s ({tally.calls / seconds:.0f}/s), statuses "
            f"{dict(tally.statuses)}, protocol errors {len(tally.protocol_errors)}, tool failures "
            f"{len(tally.tool_failures)}, p50 {lat[len(lat) // 2] * 1000:.0f} ms, p99 "
            f"{lat[int(len(lat) * 0.99)] * 1000:.0f} ms; before {before}, after {after}")


def _assert_clean(tally: Tally, before: dict[str, int], after: dict[str, int]) -> None:
    assert tally.calls > 0
    assert not any(status >= 500 for status in tally.statuses), tally.statuses
    assert tally.protocol_errors == [], tally.protocol_errors[:5]
    assert tally.tool_failures == [], tally.tool_failures[:5]
    assert after["rss_kb"] <= before["rss_kb"] * 1.10, (before, after)
    assert after["children"] == before["children"], (before, after)
    assert after["fds"] <= before["fds"], (before, after)
    assert after["threads"] <= MAX_THREADS, (before, after)


def test_concurrent_clients_leave_nothing_behind(live_process: ServerProcess, soak: bool) -> None:
    clients, seconds = (200, 60) if soak else (50, 10)
    server = live_process
    sessions = [server.api("POST", "/sessions", json={"user_id": f"load{i}", "toolkits": ["math"]}).json()["id"]
                for i in range(10)]
    warm = anyio.run(_load, server, clients, 3, sessions, 2)  # caches, pools and one workbench process each
    assert warm.protocol_errors == [], warm.protocol_errors[:5]
    before = _settled(server, server.usage() | {"children": 0})
    tally = anyio.run(_load, server, clients, seconds, sessions, 2)
    time.sleep(3)
    after = _settled(server, before)
    print(_report(f"{clients} clients", tally, seconds, before, after))
    _assert_clean(tally, before, after)
    if soak:
        churn = anyio.run(_churn, server, 600, 50)
        end = _settled(server, before, 60)
        print(_report("10-minute soak with sessions coming and going", churn, 600, before, end))
        _assert_clean(churn, before, end)
