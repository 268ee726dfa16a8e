"""Every local tool, fuzzed from its own input schema: a result or a clear ToolError, never a crash.

Inputs are what the executor would accept (schema-valid), including the edges schemas allow: huge and
tiny floats, far dates, control characters, empty strings. The http toolkit's argument checks are
fuzzed with an httpx mock transport, so no request leaves the machine. A short run by default
(`FUZZ_EXAMPLES` per tool); set CONCIERGE_FUZZ_EXAMPLES for a longer one.
"""

from __future__ import annotations

import inspect
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from server.catalog.loader import BUILTIN_TOOLKITS, load_toolkit_folder
from server.catalog.model import Tool
from server.errors import ConciergeError
from server.values import ToolContext

FUZZ_EXAMPLES = int(os.environ.get("CONCIERGE_FUZZ_EXAMPLES", "10"))
TOOLKITS = ("datetime", "math", "text", "sqlite", "http")
TOOLS: list[Tool] = [tool for name in TOOLKITS for tool in load_toolkit_folder(BUILTIN_TOOLKITS / name).tools.values()]
SETTINGS = {"http": {"allow_private_networks": True}, "text": {"regex_timeout": 2.0, "diff_timeout": 5.0},
            "sqlite": {"allow_write": True, "query_timeout": 2.0}}


def _respond(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/html; charset=utf-8"},
                          content=b"<html><head><title>t</title></head><body><p>hello</p></body></html>")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("fuzz")
    (root / "sqlite").mkdir()
    with sqlite3.connect(root / "sqlite" / "shop.db") as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    yield root


def _schema(tool: Tool) -> dict[str, Any]:
    return {k: v for k, v in tool.input_schema.items() if k != "examples"}


def _run(tool: Tool, arguments: dict[str, Any], ctx: ToolContext) -> Any:
    if inspect.iscoroutinefunction(tool.handler):
        async def main() -> Any:
            async with httpx.AsyncClient(transport=httpx.MockTransport(_respond)) as client:
                return await tool.handler(arguments, ToolContext(ctx.session_id, ctx.user_id, ctx.data_dir, client,
                                                                 ctx.settings))
        return anyio.run(main)
    return tool.handler(arguments, ctx)


@pytest.mark.parametrize("tool", TOOLS, ids=[t.slug for t in TOOLS])
def test_every_local_tool_answers_or_refuses_clearly(tool: Tool, data_dir: Path) -> None:
    assert tool.handler is not None
    ctx = ToolContext("sess_fuzz", "user_fuzz", data_dir, httpx.AsyncClient(), SETTINGS.get(tool.toolkit, {}))

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(arguments=from_schema(_schema(tool)))
    def check(arguments: dict[str, Any]) -> None:
        try:
            result = _run(tool, arguments, ctx)
        except ConciergeError as exc:
            assert exc.message and len(exc.message) > 10, exc.message
            return
        json.dumps(result, default=str)  # the executor sends it as JSON

    check()


KNOWN_EDGES = [
    ("MATH_STATISTICS", {"numbers": [1e308, 1e308]}),
    ("MATH_STATISTICS", {"numbers": [-1e308, 1e308, 1e308]}),
    ("DATETIME_BUSINESS_DAYS", {"start": "9999-12-30", "end": "9999-12-31"}),
    ("DATETIME_BUSINESS_DAYS", {"start": "0001-01-01", "end": "9999-12-31"}),
    ("SQLITE_QUERY", {"database": "a\x00b.db", "sql": "SELECT 1"}),
    ("SQLITE_QUERY", {"database": "shop.db", "sql": "SELECT ?", "params": [2 ** 70]}),
    ("SQLITE_QUERY", {"database": "shop.db", "sql": "SELECT 1\x00"}),
]


@pytest.mark.parametrize(("slug", "arguments"), KNOWN_EDGES, ids=[f"{s}-{i}" for i, (s, _) in enumerate(KNOWN_EDGES)])
def test_known_edge_values(slug: str, arguments: dict[str, Any], data_dir: Path) -> None:
    tool = next(t for t in TOOLS if t.slug == slug)
    ctx = ToolContext("sess_fuzz", "user_fuzz", data_dir, httpx.AsyncClient(), SETTINGS.get(tool.toolkit, {}))
    try:
        result = _run(tool, arguments, ctx)
    except ConciergeError as exc:
        assert exc.message and len(exc.message) > 10
    else:
        json.dumps(result, default=str, allow_nan=False)


def test_the_fuzz_covers_every_local_toolkit() -> None:
    assert {t.toolkit for t in TOOLS} == set(TOOLKITS) and len(TOOLS) >= 25
    assert st is not None
