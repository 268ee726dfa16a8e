"""Issue 4 through the real server: the workbench meta tools, tool calls from the sandbox through the
session's executor, large results offloaded to files, and the REST file endpoints."""

from __future__ import annotations

import json
import time
from pathlib import Path

import anyio
import pytest
from mcp import Client

from tests.live import LiveServer
from tests.mcp_helpers import call

pytestmark = pytest.mark.anyio
FIXTURES = Path(__file__).parent / "fixtures" / "toolkits"


@pytest.fixture
def server(tmp_path: Path):  # noqa: ANN201 - a generator fixture
    live = LiveServer(tmp_path / "data", toolkit_paths=[FIXTURES]).start()
    yield live
    live.stop()


async def test_state_persists_and_tools_run_in_bulk_through_the_session(server: LiveServer) -> None:
    session = server.create_session(user_id="wb_user", toolkits=["demo", "math"])
    async with Client(session["mcp"]["url"]) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"COMPOSIO_REMOTE_WORKBENCH", "COMPOSIO_REMOTE_BASH_TOOL"} <= names
        first = await call(client, "COMPOSIO_REMOTE_WORKBENCH", {"code_to_execute": "x = 41\ndef double(v):\n"
                                                                                    "    return v * 2"})
        assert first["successful"] and first["data"]["fresh_process"] is True
        second = await call(client, "COMPOSIO_REMOTE_WORKBENCH", {"code_to_execute": "double(x + 1) // 2"})
        assert second["data"]["results"] == "42" and second["data"]["fresh_process"] is False

        bulk = await call(client, "COMPOSIO_REMOTE_WORKBENCH", {"code_to_execute": (
            "ok = 0\n"
            "for i in range(200):\n"
            "    result, error = run_composio_tool('DEMO_ECHO', {'text': str(i)})\n"
            "    ok += error is None and result['data']['text'] == str(i)\n"
            "refused, why = run_composio_tool('DATETIME_NOW', {})\n"
            "(ok, refused['successful'], why)")})
        assert bulk["successful"], bulk
        assert bulk["data"]["results"].startswith("(200, False, ") and "not available in this session" in \
            bulk["data"]["results"]
    logs = server.api("GET", f"/sessions/{session['id']}/executions", params={"limit": 1000}).json()["items"]
    from_workbench = [entry for entry in logs if entry["source"] == "workbench"]
    assert len(from_workbench) == 200 and {e["user_id"] for e in from_workbench} == {"wb_user"}
    assert all(e["tool_slug"] == "DEMO_ECHO" for e in from_workbench)


async def test_a_cancelled_run_is_interrupted_and_the_workbench_keeps_its_state(server: LiveServer) -> None:
    """A client that gives up on a run (a 2026-07-28 client closes the request) stops that cell, as a
    time limit would, instead of it running on for nobody; the Python process and its variables stay."""
    session = server.create_session(toolkits=["demo"])
    async with Client(session["mcp"]["url"]) as client:
        first = await call(client, "COMPOSIO_REMOTE_WORKBENCH", {"code_to_execute": "x = 41"})
        assert first["successful"] and first["data"]["fresh_process"] is True
        started = time.monotonic()
        with anyio.move_on_after(2):
            await client.call_tool("COMPOSIO_REMOTE_WORKBENCH", {"code_to_execute": (
                "import time\nfor i in range(600):\n    time.sleep(0.05)\n    open('ticks.txt', 'w').write(str(i))")})
        ticks = await call(client, "COMPOSIO_REMOTE_BASH_TOOL", {"command": "sleep 1; cat ticks.txt; echo; sleep 1;"
                                                                            " cat ticks.txt"})
        counted = [int(n) for n in ticks["data"]["stdout"].split()]
        assert len(counted) == 2 and counted[0] == counted[1] < 599, ticks  # it stopped, long before its end
        after = await call(client, "COMPOSIO_REMOTE_WORKBENCH", {"code_to_execute": "x + 1"})
        assert after["data"]["results"] == "42" and after["data"]["fresh_process"] is False, after
        assert time.monotonic() - started < 20


async def test_large_result_offloaded_then_processed(server: LiveServer) -> None:
    session = server.create_session(toolkits=["demo"])
    async with Client(session["mcp"]["url"]) as client:
        big = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL",
                         {"tools": [{"tool_slug": "DEMO_BIG", "arguments": {"rows": 20000}}]})
        assert big["successful"]
        shown = big["data"]["results"][0]["response"]["data"]
        assert shown["offloaded_to_workbench"] and shown["size_chars"] > 900_000
        assert len(json.dumps(big)) < 20_000
        assert shown["preview"]["fields"]["records"]["length"] == 20000
        path = shown["file_path"]
        assert big["data"]["remote_file_info"][0]["file_path"] == path
        total = await call(client, "COMPOSIO_REMOTE_WORKBENCH", {"code_to_execute": (
            f"data = load_result('{path}')\n"
            "sum(r['value'] for r in data['records'])")})
        assert float(total["data"]["results"]) == sum(i * 1.5 for i in range(20000))

        small = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", {
            "tools": [{"tool_slug": "DEMO_ECHO", "arguments": {"text": "hi"}}], "sync_response_to_workbench": True})
        forced = small["data"]["results"][0]["response"]["data"]
        assert forced["offloaded_to_workbench"] and forced["file_path"].startswith("results/")
        listing = await call(client, "COMPOSIO_REMOTE_BASH_TOOL", {"command": "ls results | wc -l"})
        assert listing["data"]["stdout"].strip() == "2"


async def test_a_result_that_cannot_be_saved_comes_back_inline_and_is_not_lost(server: LiveServer) -> None:
    """The tools have run by the time their results are saved: a `results` the agent made a file of must not
    turn the batch into an error (an agent would run the calls again)."""
    session = server.create_session(toolkits=["demo"])
    async with Client(session["mcp"]["url"]) as client:
        made = await call(client, "COMPOSIO_REMOTE_BASH_TOOL", {"command": "echo notes > results"})
        assert made["successful"], made
        batch = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [
            {"tool_slug": "DEMO_BIG", "arguments": {"rows": 2000}},
            {"tool_slug": "DEMO_ECHO", "arguments": {"text": "hi"}}], "sync_response_to_workbench": True})
        assert batch["successful"] and batch["data"]["success_count"] == 2, batch
        big, echo = (r["response"] for r in batch["data"]["results"])
        assert len(big["data"]["records"]) == 2000 and big["log_id"]
        assert "offloaded_to_workbench" not in echo["data"]
        unsaved = batch["data"]["remote_file_info"]
        assert [(f["index"], f["tool_slug"], f["file_path"]) for f in unsaved] == [
            (1, "DEMO_BIG", None), (2, "DEMO_ECHO", None)]
        assert all("not a directory" in f["error"] and "inline" in f["error"] for f in unsaved)
        again = await call(client, "COMPOSIO_REMOTE_BASH_TOOL", {"command": "cat results"})
        assert again["data"]["stdout"] == "notes\n"  # the agent's file is left as it was


async def test_workbench_tool_arguments_have_the_same_nesting_limit_as_mcp_ones(server: LiveServer) -> None:
    session = server.create_session(toolkits=["demo"])
    async with Client(session["mcp"]["url"]) as client:
        run = await call(client, "COMPOSIO_REMOTE_WORKBENCH", {"code_to_execute": (
            "deep = {}\n"
            "node = deep\n"
            "for _ in range(200):\n"
            "    node['x'] = {}\n"
            "    node = node['x']\n"
            "run_composio_tool('DEMO_ECHO', {'text': 'hi', 'extra': deep})")})
        assert run["successful"], run
        assert "max_json_depth" in run["data"]["results"], run["data"]


async def test_files_over_rest(server: LiveServer) -> None:
    session = server.create_session(toolkits=["demo"])
    sid = session["id"]
    up = server.api("PUT", f"/sessions/{sid}/files/inputs/data.csv", content=b"a,b\n1,2\n3,4\n")
    assert up.status_code == 200 and up.json() == {"path": "inputs/data.csv", "size": 12}
    async with Client(session["mcp"]["url"]) as client:
        made = await call(client, "COMPOSIO_REMOTE_WORKBENCH", {"code_to_execute": (
            "import pandas as pd\n"
            "df = pd.read_csv('inputs/data.csv')\n"
            "df.sum().to_json('outputs.json')\n"
            "int(df['b'].sum())")})
        assert made["data"]["results"] == "6" and "outputs.json" in made["data"]["files"]
    down = server.api("GET", f"/sessions/{sid}/files/outputs.json")
    assert down.status_code == 200 and json.loads(down.content) == {"a": 4, "b": 6}
    listed = {f["path"] for f in server.api("GET", f"/sessions/{sid}/files").json()["items"]}
    assert {"inputs/data.csv", "outputs.json"} <= listed
    for bad in ("../../concierge.db", "..%2F..%2Fsecret.key", "/etc/passwd"):
        response = server.api("GET", f"/sessions/{sid}/files/{bad}")
        assert response.status_code in (400, 404), (bad, response.status_code)
        assert b"SQLite" not in response.content
    assert server.api("GET", f"/sessions/{sid}/files/missing.txt").status_code == 404


async def test_workbench_off_for_a_session(server: LiveServer) -> None:
    session = server.create_session(toolkits=["demo"], workbench={"enable": False})
    async with Client(session["mcp"]["url"]) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert "COMPOSIO_REMOTE_WORKBENCH" not in names
        refused = await call(client, "COMPOSIO_REMOTE_WORKBENCH", {"code_to_execute": "1"})
        assert not refused["successful"]
        big = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL",
                         {"tools": [{"tool_slug": "DEMO_BIG", "arguments": {"rows": 2000}}]})
        assert len(big["data"]["results"][0]["response"]["data"]["records"]) == 2000
