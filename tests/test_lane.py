"""The MCP lane (`server/lane.py`): requests to an MCP path skip Starlette's middlewares and router, and
still get what those gave them: the request id, the route's metrics series, the app's error handlers,
and, for a method the route does not take, the router's 405."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from server.errors import NotFound
from server.mcp_app import McpEndpoint
from tests.live import LiveServer
from tests.mcp_helpers import raw_post


def _requests(server: LiveServer, status: str) -> float:
    text = httpx.get(f"{server.url}/metrics", headers=server.headers, timeout=30).text
    series = [f'concierge_http_requests_total{{method="POST",route="{route}",status="{status}"}}'
              for route in ("/mcp/{session_id}", "/s/{session_id}/mcp")]
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(tuple(series)))


def _call(url: str) -> httpx.Response:
    return raw_post(url, json.dumps({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
        "name": "COMPOSIO_SEARCH_TOOLS", "arguments": {"queries": [{"use_case": "x"}]}}}))


def test_an_mcp_request_keeps_its_request_id_metrics_and_405(server: LiveServer) -> None:
    session = server.create_session()
    before = _requests(server, "200")
    for url in (session["mcp"]["url"], f"{server.url}/s/{session['id']}/mcp"):
        answer = _call(url)
        assert answer.status_code == 200, answer.text
        assert answer.json()["id"] == 7 and "result" in answer.json()
        assert answer.headers["x-request-id"].startswith("req_")
    assert _requests(server, "200") == before + 2, "each MCP path counts under its route's series"
    refused = httpx.put(session["mcp"]["url"], timeout=30)
    assert refused.status_code == 405
    assert "allowed" in refused.json()["error"]["message"], refused.text


def test_an_exception_escaping_the_mcp_endpoint_is_answered_logged_and_counted(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    session = server.create_session()
    url = session["mcp"]["url"]

    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(McpEndpoint, "_refusal", broken)
    failures = _requests(server, "500")
    with caplog.at_level(logging.ERROR):
        answer = _call(url)
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "internal_error"
    assert "boom" not in answer.text, "no internals on the wire"
    assert answer.headers["x-request-id"].startswith("req_")
    assert any("unhandled error on POST /mcp/" in r.getMessage() and r.exc_info for r in caplog.records)
    assert _requests(server, "500") == failures + 1

    def not_found(*args: object) -> None:
        raise NotFound("no such thing")

    monkeypatch.setattr(McpEndpoint, "_refusal", not_found)
    answer = _call(url)
    assert answer.status_code == 404, "a ConciergeError gets the app's handler for it, as through the router"
    assert answer.json()["error"]["message"] == "no such thing"

    monkeypatch.undo()
    assert _call(url).status_code == 200, "the server serves on"
