"""Issue 2, must-show 6: bad input gets a clear, structured error and the server keeps serving."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from mcp import Client

from server.sessions import clients
from tests.live import LiveServer
from tests.mcp_helpers import call, initialize_body, raw_post

pytestmark = pytest.mark.anyio


async def still_serving(server: LiveServer, url: str) -> None:
    async with Client(url) as client:
        found = await call(client, "COMPOSIO_SEARCH_TOOLS", {"queries": [{"use_case": "add 2 and 3"}]})
        assert found["successful"]
    assert server.api("GET", "/toolkits").status_code == 200


async def test_malformed_jsonrpc(server: LiveServer) -> None:
    url = server.create_session()["mcp"]["url"]
    for body in (b"{not json", b'{"jsonrpc": "2.0", "id": 1}', b"[]", b'"just a string"'):
        response = raw_post(url, body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["code"] in (-32700, -32600)
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):  # answered in JSON-RPC too
        response = raw_post(url, b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}', {"content-type": content_type})
        assert response.status_code == 400 and response.headers["content-type"] == "application/json"
        assert "Content-Type: application/json" in response.json()["error"]["message"]
    typed = raw_post(url, b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}',
                     {"content-type": "Application/JSON; charset=utf-8"})
    assert typed.status_code == 200, typed.text
    await still_serving(server, url)


async def test_malformed_params_are_named_with_the_request_id_and_mint_no_client(server: LiveServer) -> None:
    """The SDK answers these with a pydantic dump or a bare "Invalid request parameters" (and an initialize
    without params still got an Mcp-Session-Id, stored); each gets one line saying what is wrong instead."""
    session = server.create_session()
    cases = [
        ({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": [1]}, -32600, '"params" must be an object'),
        ({"jsonrpc": "2.0", "id": 7, "method": "initialize"}, -32602, "initialize needs params.protocolVersion"),
        ({"jsonrpc": "2.0", "id": 8, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}}, -32602,
         "params.capabilities (an object)"),
        ({"jsonrpc": "2.0", "id": "a", "method": "tools/call", "params": {"name": 5}}, -32602,
         "tools/call needs params.name"),
        ({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "COMPOSIO_SEARCH_TOOLS",
                                                                         "arguments": "x"}}, -32602,
         "params.arguments of 'COMPOSIO_SEARCH_TOOLS' must be an object (name: value), not a string"),
    ]
    for body, code, reason in cases:
        response = raw_post(session["mcp"]["url"], json.dumps(body))
        assert response.status_code == (400 if code == -32600 else 200), response.text  # as the SDK, by era
        answer = response.json()
        assert answer["id"] == body["id"] and answer["error"]["code"] == code, answer
        assert reason in answer["error"]["message"] and "validation error" not in answer["error"]["message"].lower()
        assert "mcp-session-id" not in response.headers
    await still_serving(server, session["mcp"]["url"])


async def test_unknown_and_deleted_session(server: LiveServer) -> None:
    response = raw_post(f"{server.url}/mcp/sess_doesnotexist", initialize_body())
    assert response.status_code == 404
    assert "not found" in response.json()["error"]["message"]
    session = server.create_session()
    assert server.api("DELETE", f"/sessions/{session['id']}").status_code == 204
    response = raw_post(session["mcp"]["url"], initialize_body())
    assert response.status_code == 404 and "deleted" in response.json()["error"]["message"]
    with pytest.raises(Exception):  # noqa: B017 - the SDK raises its own transport error type
        async with Client(session["mcp"]["url"]) as client:
            await client.list_tools()
    await still_serving(server, server.create_session()["mcp"]["url"])


async def test_invalid_arguments_unknown_tools_and_slugs(server: LiveServer) -> None:
    url = server.create_session()["mcp"]["url"]
    async with Client(url) as client:
        wrong_type = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [
            {"tool_slug": "DATETIME_CONVERT_TIMEZONE", "arguments": {"to_timezone": 42}},
            {"tool_slug": "DATETIME_NOW", "arguments": {}}]})
        assert not wrong_type["successful"]
        first, second = wrong_type["data"]["results"]
        assert first["error_details"]["code"] == "invalid_input" and "to_timezone" in first["error"]
        assert second["response"] is None and "not run" in second["error"]

        missing = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL",
                             {"tools": [{"tool_slug": "DATETIME_CONVERT_TIMEZONE", "arguments": {}}]})
        assert "'to_timezone' is a required property" in missing["data"]["results"][0]["error"]

        unknown = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL",
                             {"tools": [{"tool_slug": "DATETIME_CONVERT_TIMEZONES", "arguments": {}}]})
        details = unknown["data"]["results"][0]["error_details"]
        assert details["code"] == "not_found" and "DATETIME_CONVERT_TIMEZONE" in details["details"]["suggestions"]

        bad_meta = await call(client, "COMPOSIO_SEARCH_TOOLS", {"querys": [{"use_case": "x"}]})
        assert not bad_meta["successful"] and "did you mean 'queries'" in bad_meta["error"]

        empty = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": []})
        assert not empty["successful"] and "tools" in empty["error"]

        no_such_tool = await call(client, "NOT_A_TOOL", {})
        assert not no_such_tool["successful"] and "COMPOSIO_SEARCH_TOOLS" in no_such_tool["error"]
    await still_serving(server, url)


async def test_oversize_body_is_refused(server: LiveServer) -> None:
    url = server.create_session()["mcp"]["url"]
    big = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "COMPOSIO_SEARCH_TOOLS", "arguments": {"queries": [{"use_case": "x" * (10 * 1024 * 1024)}]}}})
    response = raw_post(url, big)
    assert response.status_code == 413 and "larger than" in response.json()["error"]["message"]
    rest = server.api("POST", "/sessions", content=b'{"user_id": "' + b"u" * (10 * 1024 * 1024) + b'"}')
    assert rest.status_code == 413 and rest.json()["error"]["code"] == "payload_too_large"
    await still_serving(server, url)


async def test_client_id_is_bound_to_its_session_and_ends_on_delete(server: LiveServer) -> None:
    a, b = server.create_session(), server.create_session()
    init = raw_post(a["mcp"]["url"], initialize_body("bound-client"))
    client_id = init.headers["mcp-session-id"]
    assert len(client_id) >= 32
    listing = json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    assert raw_post(a["mcp"]["url"], listing, {"mcp-session-id": client_id}).status_code == 200
    refused = raw_post(b["mcp"]["url"], listing, {"mcp-session-id": client_id})
    assert refused.status_code == 404 and "another session" in refused.json()["error"]["message"]
    assert raw_post(a["mcp"]["url"], listing, {"mcp-session-id": "forged"}).status_code == 404
    clients = server.api("GET", f"/sessions/{a['id']}").json()["clients"]
    assert clients[0]["client_name"] == "bound-client" and clients[0]["protocol_version"] == "2025-06-18"
    assert httpx.delete(a["mcp"]["url"], headers={"mcp-session-id": client_id}).status_code == 200
    assert raw_post(a["mcp"]["url"], listing, {"mcp-session-id": client_id}).status_code == 404


async def test_client_ids_evicted_from_memory_are_read_back_and_stay_bound(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clients, "KNOWN_CLIENTS", 1)
    server = LiveServer(tmp_path / "data").start()  # its own: no other test's clients in its memory
    a, b = server.create_session(), server.create_session()
    listing = json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    first, second = (raw_post(a["mcp"]["url"], initialize_body(name)).headers["mcp-session-id"]
                     for name in ("first", "second"))  # the second pushes the first out of memory
    known = server._server.config.app.state.mcp.clients._known
    assert list(known) == [second]
    assert raw_post(a["mcp"]["url"], listing, {"mcp-session-id": first}).status_code == 200
    assert list(known) == [first]
    assert raw_post(b["mcp"]["url"], listing, {"mcp-session-id": second}).status_code == 404
    assert raw_post(a["mcp"]["url"], listing, {"mcp-session-id": second}).status_code == 200
    server.stop()


async def test_dns_rebinding_host_is_refused(server: LiveServer) -> None:
    url = server.create_session()["mcp"]["url"]
    response = raw_post(url, initialize_body(), {"Host": "evil.example.com"})
    assert response.status_code == 421
    response = raw_post(url, initialize_body(), {"Origin": "http://evil.example.com"})
    assert response.status_code == 403
