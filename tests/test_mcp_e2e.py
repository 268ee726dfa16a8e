"""Issue 2, must-show 2-4: a real server, the SDK's own client in both protocol eras."""

from __future__ import annotations

import json

import pytest
from mcp import Client

from tests.live import LiveServer
from tests.mcp_helpers import call
from tests.postgres import both_backends

pytestmark = pytest.mark.anyio
CONVERT = {"time": "2026-11-27 09:00", "from_timezone": "New York", "to_timezone": "Tokyo"}


@both_backends
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_search_then_execute_datetime(server: LiveServer, mode: str) -> None:
    session = server.create_session(user_id="user_123")
    async with Client(session["mcp"]["url"], mode=mode) as client:
        listed = (await client.list_tools()).tools
        by_name = {t.name: t for t in listed}
        assert {"COMPOSIO_SEARCH_TOOLS", "COMPOSIO_GET_TOOL_SCHEMAS", "COMPOSIO_MULTI_EXECUTE_TOOL"} <= set(by_name)
        search = by_name["COMPOSIO_SEARCH_TOOLS"]
        assert search.annotations.read_only_hint is True and "queries" in search.input_schema["properties"]
        assert by_name["COMPOSIO_MULTI_EXECUTE_TOOL"].annotations.destructive_hint is True
        assert by_name["COMPOSIO_MULTI_EXECUTE_TOOL"].annotations.open_world_hint is True
        assert len(search.description) > 200

        found = await call(client, "COMPOSIO_SEARCH_TOOLS",
                           {"queries": [{"use_case": "convert 9am New York time to Tokyo"}]})
        result = found["data"]["results"][0]
        assert result["primary_tool_slugs"][0] == "DATETIME_CONVERT_TIMEZONE"
        schema = found["data"]["tool_schemas"]["DATETIME_CONVERT_TIMEZONE"]
        assert "to_timezone" in schema["input_schema"]["properties"]
        statuses = {s["toolkit"]: s for s in found["data"]["toolkit_connection_statuses"]}
        assert statuses["datetime"]["has_active_connection"] is True

        done = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL",
                          {"tools": [{"tool_slug": "DATETIME_CONVERT_TIMEZONE", "arguments": CONVERT}]})
        assert done["successful"] and done["data"]["success_count"] == 1
        response = done["data"]["results"][0]["response"]
        assert "2026-11-27T23:00:00+09:00" in json.dumps(response["data"])
        assert response["log_id"].startswith("log_")
    log = server.api("GET", f"/executions/{response['log_id']}").json()
    assert log["tool_slug"] == "DATETIME_CONVERT_TIMEZONE" and log["status"] == "success"
    assert log["user_id"] == "user_123" and log["arguments_digest"].startswith("sha256:")
    assert "Tokyo" not in json.dumps(log)


async def test_filtered_session_never_reaches_other_toolkits(server: LiveServer) -> None:
    session = server.create_session(toolkits=["math"])
    async with Client(session["mcp"]["url"]) as client:
        found = await call(client, "COMPOSIO_SEARCH_TOOLS",
                           {"queries": [{"use_case": "convert 9am New York time to Tokyo"},
                                        {"use_case": "what time is it in London"}]})
        slugs = json.dumps(found["data"]["results"]) + json.dumps(found["data"]["tool_schemas"])
        assert "DATETIME_" not in slugs
        schemas = await call(client, "COMPOSIO_GET_TOOL_SCHEMAS", {"tool_slugs": ["DATETIME_CONVERT_TIMEZONE"]})
        assert schemas["data"]["not_found"] == ["DATETIME_CONVERT_TIMEZONE"]
        assert schemas["data"]["tool_schemas"] == {}
        assert all(s.startswith("MATH_") for s in schemas["data"]["suggestions"]["DATETIME_CONVERT_TIMEZONE"])
        run = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL",
                         {"tools": [{"tool_slug": "DATETIME_CONVERT_TIMEZONE", "arguments": CONVERT}]})
        assert not run["successful"]
        assert run["data"]["results"][0]["error_details"]["code"] == "tool_not_allowed"
        assert "not available in this session" in run["data"]["results"][0]["error"]
    assert server.api("GET", f"/sessions/{session['id']}/executions").json()["items"] == []


async def test_restart_keeps_sessions_logs_and_connected_clients(server: LiveServer) -> None:
    session = server.create_session(toolkits=["datetime"], tags=["readOnlyHint"])
    async with Client(session["mcp"]["url"], mode="legacy") as legacy, Client(session["mcp"]["url"]) as modern:
        first = await call(legacy, "COMPOSIO_MULTI_EXECUTE_TOOL",
                           {"tools": [{"tool_slug": "DATETIME_CONVERT_TIMEZONE", "arguments": CONVERT}]})
        assert first["successful"]
        server.restart()
        for client in (legacy, modern):
            again = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL",
                               {"tools": [{"tool_slug": "DATETIME_CONVERT_TIMEZONE", "arguments": CONVERT}]})
            assert again["successful"], again
    after = server.api("GET", f"/sessions/{session['id']}").json()
    assert after["config"]["toolkits"] == {"enable": ["datetime"]} and after["config"]["tags"]["enable"] == [
        "readOnlyHint"]
    assert [c["client_name"] for c in after["clients"]] == ["mcp"]
    logs = server.api("GET", f"/sessions/{session['id']}/executions").json()["items"]
    assert len(logs) == 3 and {entry["status"] for entry in logs} == {"success"}


async def test_multi_step_use_case_gets_a_tool_and_a_plan_step_per_intent(server: LiveServer) -> None:
    session = server.create_session()
    async with Client(session["mcp"]["url"]) as client:
        found = await call(client, "COMPOSIO_SEARCH_TOOLS", {"queries": [{
            "use_case": "convert 9am New York time to Tokyo, then work out what 15 percent of 240 is"}]})
    result = found["data"]["results"][0]
    assert len(result["sub_queries"]) == 2 and result["task_difficulty"] == "medium"
    assert result["sub_queries"][0]["tool_slugs"][0] == "DATETIME_CONVERT_TIMEZONE"
    assert result["sub_queries"][1]["tool_slugs"][0].startswith("MATH_")
    assert result["primary_tool_slugs"][:2] == [result["sub_queries"][0]["tool_slugs"][0],
                                                result["sub_queries"][1]["tool_slugs"][0]]
    steps = result["recommended_plan_steps"]
    assert steps[0].startswith("1. ") and "DATETIME_CONVERT_TIMEZONE" in steps[0] and steps[1].startswith("2. ")
    assert set(result["primary_tool_slugs"]) <= set(found["data"]["tool_schemas"])
