"""Issue 2: preload and direct_tools presets, tool memory across sessions of a user, the MULTI_EXECUTE alias,
and parallel execution of independent calls."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from mcp import Client

from tests.live import LiveServer
from tests.mcp_helpers import call

pytestmark = pytest.mark.anyio
FIXTURES = Path(__file__).parent / "fixtures" / "toolkits"


@pytest.fixture
def server(tmp_path: Path):  # noqa: ANN201 - a generator fixture
    live = LiveServer(tmp_path / "data", toolkit_paths=[FIXTURES], workbench={"enable": False}).start()
    yield live
    live.stop()


async def test_preload_lists_tools_beside_meta_tools(server: LiveServer) -> None:
    session = server.create_session(toolkits=["demo", "math"], preload={"tools": ["demo_echo"]})
    async with Client(session["mcp"]["url"]) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert "COMPOSIO_SEARCH_TOOLS" in tools and "DEMO_ECHO" in tools and "DEMO_SLEEP" not in tools
        assert tools["DEMO_ECHO"].annotations.read_only_hint is True
        assert tools["DEMO_ECHO"].input_schema["required"] == ["text"]
        direct = await call(client, "DEMO_ECHO", {"text": "yo"})
        assert direct["successful"] and direct["data"]["data"]["text"] == "yo"
        bad = await call(client, "DEMO_ECHO", {"text": 5})
        assert not bad["successful"] and "invalid arguments" in bad["error"]


async def test_preloading_a_tool_the_filters_exclude_is_refused(server: LiveServer) -> None:
    for body in ({"toolkits": ["math"], "preload": {"tools": ["DEMO_ECHO"]}},
                 {"toolkits": ["demo"], "tools": {"demo": {"disable": ["DEMO_ECHO"]}},
                  "preload": {"tools": ["demo_echo"]}}):
        refused = server.api("POST", "/sessions", json={"user_id": "u", **body})
        assert refused.status_code == 422, refused.text  # as every other invalid session option
        error = refused.json()["error"]
        assert "DEMO_ECHO not allowed by this session's toolkits, tools or tags" in error["message"]
        assert error["details"]["not_allowed"] == ["DEMO_ECHO"]
    session = server.create_session(toolkits=["demo"])
    changed = server.api("PATCH", f"/sessions/{session['id']}",
                         json={"toolkits": ["math"], "preload": {"tools": ["DEMO_ECHO"]}})
    assert changed.status_code == 422 and "not allowed" in changed.text


async def test_a_tool_outside_the_session_says_which_filter_keeps_it_out(server: LiveServer) -> None:
    run = {"tools": [{"tool_slug": "DEMO_ECHO", "arguments": {"text": "x"}}]}
    for options, why in (({"toolkits": ["math"]}, "its `toolkits` do not include 'demo'"),
                         ({"toolkits": ["demo"], "tools": {"demo": {"disable": ["DEMO_ECHO"]}}},
                          "its `tools` or `tags` filter excludes this tool of 'demo'")):
        session = server.create_session(**options)
        async with Client(session["mcp"]["url"]) as client:
            refused = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", run)
        assert not refused["successful"]
        assert why in refused["data"]["results"][0]["error"], refused


async def test_direct_tools_preset_hides_meta_tools(server: LiveServer) -> None:
    session = server.create_session(toolkits=["demo"], session_preset="direct_tools")
    async with Client(session["mcp"]["url"]) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert names == {"DEMO_ECHO", "DEMO_SLEEP", "DEMO_BIG", "DEMO_FAIL"}
        refused = await call(client, "COMPOSIO_SEARCH_TOOLS", {"queries": [{"use_case": "echo"}]})
        assert not refused["successful"] and "DEMO_ECHO" in refused["error"]
        failed = await call(client, "DEMO_FAIL", {})
        assert not failed["successful"] and failed["error"] == "this tool always fails"


async def test_memory_is_returned_to_later_searches_of_the_same_user(server: LiveServer) -> None:
    first = server.create_session(user_id="mem_user", toolkits=["demo"])
    async with Client(first["mcp"]["url"]) as client:
        done = await call(client, "COMPOSIO_MULTI_EXECUTE", {
            "tools": [{"tool_slug": "DEMO_ECHO", "arguments": {"text": "x"}}],
            "memory": {"demo": ["the user's favourite word is banana"]}})
        assert done["successful"]
    later = server.create_session(user_id="mem_user", toolkits=["demo"])
    other = server.create_session(user_id="someone_else", toolkits=["demo"])
    query = {"queries": [{"use_case": "echo a word back"}]}
    async with Client(later["mcp"]["url"]) as client:
        found = await call(client, "COMPOSIO_SEARCH_TOOLS", query)
        assert found["data"]["memory"] == {"demo": ["the user's favourite word is banana"]}
        assert "COMPOSIO_MULTI_EXECUTE" not in {t.name for t in (await client.list_tools()).tools}
    async with Client(other["mcp"]["url"]) as client:
        assert (await call(client, "COMPOSIO_SEARCH_TOOLS", query))["data"]["memory"] == {}


async def test_independent_calls_run_in_parallel_and_failures_stay_local(server: LiveServer) -> None:
    session = server.create_session(toolkits=["demo"])
    async with Client(session["mcp"]["url"]) as client:
        started = time.perf_counter()
        done = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [
            *[{"tool_slug": "DEMO_SLEEP", "arguments": {"ms": 400}} for _ in range(8)],
            {"tool_slug": "DEMO_FAIL", "arguments": {}}]})
        elapsed = time.perf_counter() - started
    assert done["data"]["success_count"] == 8 and done["data"]["error_count"] == 1
    assert [r["index"] for r in done["data"]["results"]] == list(range(1, 10))
    assert done["data"]["results"][8]["response"]["error"] == "this tool always fails"
    assert elapsed < 8 * 0.4, f"8 sleeps of 0.4 s took {elapsed:.2f} s: not concurrent"
