"""Issue 15, protocol polish: a JSON-RPC batch is answered as the request's protocol version says.

2025-03-26 (and a request without `MCP-Protocol-Version`, which the spec takes to be 2025-03-26)
has batches: every request gets its answer in one array. 2025-06-18 removed them: one clear
JSON-RPC error, not the SDK's validation dump."""

from __future__ import annotations

import json

import pytest

from tests.live import LiveServer
from tests.mcp_helpers import raw_post

pytestmark = pytest.mark.anyio

SEARCH = {"name": "COMPOSIO_SEARCH_TOOLS", "arguments": {"queries": [{"use_case": "add 2 and 3"}]}}
BATCH = [
    {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": "two", "method": "tools/call", "params": SEARCH},
    {"jsonrpc": "2.0", "id": 3, "method": 7},
]


async def test_batch_in_the_2025_03_26_era_answers_every_request(server: LiveServer) -> None:
    url = server.create_session(toolkits=["math"])["mcp"]["url"]
    for headers in ({"MCP-Protocol-Version": "2025-03-26"}, {}):
        response = raw_post(url, json.dumps(BATCH), headers)
        assert response.status_code == 200, response.text
        answers = {answer["id"]: answer for answer in response.json()}
        assert set(answers) == {1, "two", 3}  # the notification gets no answer
        assert "COMPOSIO_SEARCH_TOOLS" in {t["name"] for t in answers[1]["result"]["tools"]}
        assert answers["two"]["result"]["structuredContent"]["successful"] is True
        assert answers[3]["error"] == {"code": -32600, "message": 'Invalid Request: "method" must be a string'}
    only_notifications = raw_post(url, json.dumps([BATCH[1]]), {"MCP-Protocol-Version": "2025-03-26"})
    assert only_notifications.status_code == 202 and only_notifications.content == b""


@pytest.mark.parametrize("version", ["2025-06-18", "2025-11-25", "2026-07-28"])
async def test_batch_after_2025_03_26_is_one_clear_error(server: LiveServer, version: str) -> None:
    session = server.create_session(toolkits=["math"])
    run = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "COMPOSIO_MULTI_EXECUTE_TOOL",
           "arguments": {"tools": [{"tool_slug": "MATH_EVALUATE", "arguments": {"expression": "1 + 1"}}]}}}
    response = raw_post(session["mcp"]["url"], json.dumps([BATCH[0], run]), {"MCP-Protocol-Version": version})
    assert response.status_code == 400
    body = response.json()
    assert body["jsonrpc"] == "2.0" and body["id"] is None and body["error"]["code"] == -32600
    message = body["error"]["message"]
    assert f"version {version} has no JSON-RPC batches" in message and "one message per HTTP request" in message
    assert "validation error" not in message.lower()
    executions = server.api("GET", f"/sessions/{session['id']}/executions").json()["items"]
    assert executions == []  # nothing in the refused batch ran


async def test_initialize_inside_a_batch_is_refused(server: LiveServer) -> None:
    url = server.create_session()["mcp"]["url"]
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    response = raw_post(url, json.dumps([initialize, BATCH[0]]))
    assert response.status_code == 400
    assert "initialize must not be part of a JSON-RPC batch" in response.json()["error"]["message"]
