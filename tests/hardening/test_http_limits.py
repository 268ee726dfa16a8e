"""Request size, JSON depth and tool-argument size: configurable, enforced while reading (a huge body is
refused before it is all sent), answered with a clear 413/400 or JSON-RPC error, and nothing changes."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live import API_KEY, LiveServer
from tests.mcp_helpers import initialize_body, raw_post

LIMITS = {"max_request_bytes": 64 * 1024, "max_json_depth": 16, "max_tool_argument_bytes": 4096}


@pytest.fixture
def small(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path / "data", **LIMITS).start()
    yield live
    live.stop()


def nested(levels: int) -> object:
    value: object = "x"
    for _ in range(levels):
        value = {"a": [value]} if isinstance(value, str) else {"a": value}
    return value


def _chunked_post(live: LiveServer, path: str, total: int) -> bytes:
    """Streams a chunked body of `total` bytes without ever ending it; returns what the server answered."""
    with socket.create_connection(("127.0.0.1", live.port), timeout=30) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{live.port}\r\nAuthorization: Bearer {API_KEY}\r\n"
                     "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n".encode())
        chunk = b"[" * 8192
        sent = 0
        try:
            while sent < total:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: what we want
        return sock.recv(65536)


def test_rest_body_over_the_cap_is_refused_while_streaming(small: LiveServer) -> None:
    answer = _chunked_post(small, "/api/v1/sessions", 4 * 1024 * 1024)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert json.loads(body)["error"]["details"]["limit_bytes"] == 64 * 1024
    assert small.api("GET", "/sessions", params={"user_id": "user_123"}).json()["items"] == []


def test_rest_declared_length_over_the_cap_is_refused_before_reading(small: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", small.port), timeout=30) as sock:
        sock.sendall(f"POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_KEY}\r\n"
                     "Content-Length: 1000000000\r\n\r\n".encode())
        assert sock.recv(65536).startswith(b"HTTP/1.1 413")


def test_mcp_body_over_the_cap_is_a_jsonrpc_error(small: LiveServer) -> None:
    session = small.create_session()
    answer = _chunked_post(small, f"/mcp/{session['id']}", 4 * 1024 * 1024)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    error = json.loads(body)["error"]
    assert error["code"] == -32600 and "max_request_bytes" in error["message"]


def test_rest_json_deeper_than_the_limit_is_refused(small: LiveServer) -> None:
    answer = small.api("POST", "/sessions", json={"user_id": "u", "toolkits": nested(20)})
    assert answer.status_code == 400 and "max_json_depth" in answer.json()["error"]["message"]
    too_deep_to_parse = "[" * 5000 + "]" * 5000
    answer = small.api("POST", "/sessions", content=too_deep_to_parse)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_input"
    assert small.api("GET", "/sessions", params={"user_id": "u"}).json()["items"] == []


def test_mcp_json_deeper_than_the_limit_is_a_jsonrpc_error(small: LiveServer) -> None:
    url = f"{small.url}/mcp/{small.create_session()['id']}"
    call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": {"name": "COMPOSIO_SEARCH_TOOLS", "arguments": nested(20)}}
    answer = raw_post(url, json.dumps(call))
    assert answer.status_code == 400
    assert answer.json()["id"] == 7 and "max_json_depth" in answer.json()["error"]["message"]
    answer = raw_post(url, "[" * 5000 + "]" * 5000)
    assert answer.status_code == 400 and answer.json()["error"]["code"] in (-32700, -32600)
    assert raw_post(url, initialize_body()).status_code == 200, "the server is fine afterwards"


def test_tool_arguments_over_the_limit_are_refused(small: LiveServer) -> None:
    session = small.create_session()
    big = {"queries": [{"use_case": "x" * 8000}]}
    answer = small.api("POST", f"/sessions/{session['id']}/tools/COMPOSIO_SEARCH_TOOLS", json={"arguments": big})
    assert answer.status_code == 413 and "max_tool_argument_bytes" in answer.json()["error"]["message"]
    call = {"jsonrpc": "2.0", "id": "big-1", "method": "tools/call",
            "params": {"name": "COMPOSIO_SEARCH_TOOLS", "arguments": big}}
    answer = raw_post(f"{small.url}/mcp/{session['id']}", json.dumps(call))
    assert answer.status_code == 413
    assert answer.json()["id"] == "big-1" and answer.json()["error"]["data"]["limit_bytes"] == 4096
    assert small.api("GET", f"/sessions/{session['id']}/executions").json()["items"] == []
    fine = small.api("POST", f"/sessions/{session['id']}/tools/COMPOSIO_SEARCH_TOOLS",
                     json={"arguments": {"queries": [{"use_case": "add numbers"}]}})
    assert fine.status_code == 200 and fine.json()["successful"]
