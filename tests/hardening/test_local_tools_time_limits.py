"""Time limits hold for CPU-heavy local tools, whose handlers run in threads that cannot be cancelled."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp import Client

from tests.live import LiveServer
from tests.mcp_helpers import call

pytestmark = pytest.mark.anyio
LIMIT = 3.0


def texts(lines: int) -> tuple[str, str]:
    rng = random.Random(7)
    words = ["alpha", "beta", "gamma", "delta", "the", "a", "of", "and", "to", "in"]
    original = [" ".join(rng.choice(words) for _ in range(8)) for _ in range(lines)]
    modified = [line if rng.random() < 0.7 else " ".join(rng.choice(words) for _ in range(8)) for line in original]
    return "\n".join(original), "\n".join(modified)


def child_interpreters() -> list[int]:
    """Processes started by this one (the server runs in it) that are still alive; callers compare with a
    snapshot taken before, since the worker may hold others (a browser driver shared by earlier tests)."""
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me and fields[0] != "Z":
            found.append(int(entry))
    return found


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path / "data", execution={"tool_timeout_seconds": LIMIT},
                      toolkit_settings={"text": {"diff_timeout": LIMIT - 0.5}}).start()
    yield live
    live.stop()


async def test_a_word_diff_of_two_long_texts_stops_at_the_limit(server: LiveServer) -> None:
    original, modified = texts(12_000)
    session = server.create_session(toolkits=["text"], workbench={"enable": False})
    before = set(child_interpreters())
    async with Client(session["mcp"]["url"]) as client:
        started = time.monotonic()
        out = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [{"tool_slug": "TEXT_DIFF", "arguments": {
            "original": original, "modified": modified, "mode": "words"}}]})
        took = time.monotonic() - started
        print(f"TEXT_DIFF words on 2 x 12,000 lines: stopped after {took:.1f} s (limit {LIMIT:g} s)")
        error = out["data"]["results"][0]["error"]
        assert error and ("took longer than" in error or "did not finish within" in error), error
        assert took < LIMIT + 5
        for _ in range(50):  # nothing keeps burning CPU after the answer
            if not set(child_interpreters()) - before:
                break
            await anyio.sleep(0.1)
        assert set(child_interpreters()) - before == set()
        # a small diff still works, in-process
        small = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [{"tool_slug": "TEXT_DIFF", "arguments": {
            "original": "a b c", "modified": "a x c", "mode": "words"}}]})
        assert small["data"]["results"][0]["response"]["data"]["inline"] == "a [-b-]{+x+} c"


@pytest.fixture
def default_server(tmp_path: Path) -> Iterator[LiveServer]:
    """The default limits: a diff that fits in them must not fail because the shared CI machine is busy
    (this one takes 0.07 s alone, but once overran the short limits above with the suite running)."""
    live = LiveServer(tmp_path / "data").start()
    yield live
    live.stop()


async def test_a_long_line_diff_that_fits_in_the_limit_runs_to_the_end(default_server: LiveServer) -> None:
    server = default_server
    original, modified = texts(3_000)
    session = server.create_session(toolkits=["text"], workbench={"enable": False})
    async with Client(session["mcp"]["url"]) as client:
        out = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [{"tool_slug": "TEXT_DIFF", "arguments": {
            "original": original, "modified": modified, "context_lines": 0}}]})
        result = out["data"]["results"][0]
        data = result["response"]["data"]
        assert data is not None, result["error"]  # the tool's own error says why (a timeout, a limit)
        assert data["lines_added"] > 0 and data["lines_added"] == data["lines_removed"]
