"""The tool socket under a flood from its sandbox: bounded connections, bounded lines, bounded memory."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.workbench_fixtures import workbench

pytestmark = pytest.mark.anyio

FLOOD = """
import os, select, socket, time
path = os.environ['CONCIERGE_TOOL_SOCKET']
chunk = b'x' * 65536
TOTAL = 15_000_000
conns = {}
for i in range(40):
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(path)
    conn.setblocking(False)
    conns[conn] = [0, b'', None]  # bytes sent, reply so far, outcome
deadline = time.monotonic() + 40
while time.monotonic() < deadline and any(state[2] is None for state in conns.values()):
    waiting = [c for c, st in conns.items() if st[2] is None]
    readable, writable, _ = select.select(waiting, [c for c in waiting if conns[c][0] < TOTAL], [], 0.5)
    for conn in readable:
        state = conns[conn]
        try:
            data = conn.recv(65536)
        except OSError as exc:
            data, state[2] = b'', type(exc).__name__
        state[1] += data
        if b'\\n' in state[1] or not data:
            state[2] = state[2] or state[1].split(b'\\n')[0][:300].decode() or 'closed'
    for conn in writable:
        state = conns[conn]
        if state[2] is not None:
            continue
        try:
            state[0] += conn.send(chunk)
        except BlockingIOError:
            pass
        except OSError:
            state[0] = TOTAL  # the server stopped reading: wait for its answer
for conn in conns:
    conn.close()
[state[2] or 'no answer' for state in conns.values()]
"""


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def echo(session_id: str, slug: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"data": arguments, "error": None, "successful": True, "log_id": None}


async def test_forty_connections_of_fifteen_megabytes_do_not_grow_server_memory(tmp_path: Path) -> None:
    async with workbench(tmp_path / "wb", echo, default_timeout_seconds=60) as manager:
        warm = await manager.run_python("s1", "run_composio_tool('ECHO', {'a': 1})[0]['data']")
        assert warm.result == "{'a': 1}", warm
        baseline = peak = rss_mb()
        flood = asyncio.ensure_future(manager.run_python("s1", FLOOD, 60))
        while not flood.done():
            peak = max(peak, rss_mb())
            await asyncio.sleep(0.01)
        run = flood.result()
        growth = peak - baseline
        print(f"socket flood: server RSS {baseline:.0f} MB -> peak {peak:.0f} MB (+{growth:.0f} MB), "
              f"run {run.execution_time:.1f} s")
        assert run.error is None, run
        answers = eval(run.result)  # noqa: S307 - a list of strings printed by our own code
        assert len(answers) == 40
        errors = [json.loads(a)["error"] if a.startswith("{") else a for a in answers]
        assert all(
            "at most 1,048,576 bytes" in e or "too many open tool-channel connections" in e
            or e in ("ConnectionResetError", "BrokenPipeError") for e in errors
        ), errors
        assert any("at most 1,048,576 bytes" in e for e in errors)
        assert any("too many open tool-channel connections" in e for e in errors), errors
        assert growth < 80, f"server memory grew by {growth:.0f} MB"
        # the channel still serves ordinary calls afterwards
        after = await manager.run_python("s1", "run_composio_tool('ECHO', {'b': 2})[0]['data']")
        assert after.result == "{'b': 2}", after


async def test_the_line_limit_is_configurable_and_says_so(tmp_path: Path) -> None:
    async with workbench(tmp_path / "wb", echo, tool_request_max_bytes=4096) as manager:
        started = time.monotonic()
        run = await manager.run_python("s1", "run_composio_tool('ECHO', {'text': 'y' * 10_000})")
        assert run.result is not None and "at most 4,096 bytes" in run.result, run
        assert "workbench.tool_request_max_bytes" in run.result
        small = await manager.run_python("s1", "repr(run_composio_tool('ECHO', {'text': 'y' * 1000})[1])")
        assert small.result == "'None'", small
        assert time.monotonic() - started < 30
