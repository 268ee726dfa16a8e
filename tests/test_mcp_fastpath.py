"""The `tools/call` fast path (server/mcp_fastpath.py) answers exactly as the SDK would.

Each request goes once through the whole app (where the fast path takes it) and once straight to the
SDK's manager (the path it replaced), and the two answers are compared: status, content type and
JSON body, with only the per-call log ids and the search's clock (seconds, so two calls can straddle a
tick) made equal. Requests the fast path must leave to the SDK
are checked to be declined, and answered as the SDK answers them.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.types import Message

from server import jsontext
from server.app import build_app
from server.config import Settings
from server.mcp_fastpath import _version
from tests.live import API_KEY

pytestmark = pytest.mark.anyio

MODERN = "2026-07-28"
HANDSHAKE = [None, "2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]
CLIENT_META = {"io.modelcontextprotocol/protocolVersion": MODERN,
               "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "0"},
               "io.modelcontextprotocol/clientCapabilities": {}}
CALLS: list[tuple[str, dict[str, Any] | None]] = [
    ("COMPOSIO_SEARCH_TOOLS", {"queries": [{"use_case": "add two numbers"}]}),
    ("COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [{"tool_slug": "MATH_EVALUATE", "arguments": {"expression": "2+3"}}]}),
    ("COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [{"tool_slug": "MATH_EVALUATE", "arguments": {"expr": 2}}]}),
    ("COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": []}),
    ("COMPOSIO_MULTI_EXECUTE_TOOL", None),
    ("NO_SUCH_TOOL", {}),
]
LOG_ID = re.compile(rb"log_[0-9a-f]{20}")
CLOCK = re.compile(rb'(current_time_utc\\?":\\?")[^"\\]+|(epoch\\?":)[0-9]+')


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[tuple[Starlette, str]]:
    settings = Settings.model_validate({"host": "127.0.0.1", "port": 8000, "data_dir": tmp_path / "data",
                                        "api_key": API_KEY, "search": {"semantic": "off"}})
    app = build_app(settings, announce=lambda line: None)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
            created = await http.post("/api/v1/sessions", json={"user_id": "u1", "toolkits": ["math"]},
                                      headers={"Authorization": f"Bearer {API_KEY}"})
        yield app, created.json()["id"]


def request(name: str, arguments: dict[str, Any] | None, version: str | None,
            request_id: int | str = 7) -> tuple[dict[str, Any], dict[str, str]]:
    params: dict[str, Any] = {"name": name}
    if arguments is not None:
        params["arguments"] = arguments
    headers = {"host": "127.0.0.1:8000", "accept": "application/json, text/event-stream",
               "content-type": "application/json"}
    if version == MODERN:
        params["_meta"] = CLIENT_META
        headers |= {"mcp-method": "tools/call", "mcp-name": name}
    if version is not None:
        headers["mcp-protocol-version"] = version
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}, headers


async def asgi(handler: Any, session_id: str, message: Any, headers: dict[str, str]) -> tuple[int, str, bytes]:
    body = jsontext.dumps_bytes(message)
    raw = [(k.encode(), v.encode()) for k, v in headers.items()] + [(b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": f"/mcp/{session_id}", "raw_path": f"/mcp/{session_id}".encode(), "query_string": b"",
             "root_path": "", "headers": raw, "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
             "path_params": {"session_id": session_id}, "state": {}}
    sent = False
    answered = asyncio.Event()

    async def receive() -> Message:
        """As a server does for a client that stays: the body, then a disconnect once it is answered."""
        nonlocal sent
        if sent:
            await answered.wait()
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    status, content_type, chunks = 0, "", []

    async def send(event: Message) -> None:
        nonlocal status, content_type
        if event["type"] == "http.response.start":
            status = event["status"]
            content_type = dict(event.get("headers", [])).get(b"content-type", b"").decode()
        elif event["type"] == "http.response.body":
            chunks.append(event.get("body", b""))
            if not event.get("more_body"):
                answered.set()

    await handler(scope, receive, send)
    body = LOG_ID.sub(b"log_0", b"".join(chunks))
    return status, content_type, CLOCK.sub(lambda m: (m[1] or m[2]) + b"0", body)


async def both(app: Starlette, session_id: str, message: Any, headers: dict[str, str]) -> tuple[Any, Any]:
    ours = await asgi(app, session_id, message, headers)
    sdk = await asgi(app.state.mcp.manager.handle_request, session_id, message, headers)
    return (ours[0], ours[1], jsontext.loads(ours[2])), (sdk[0], sdk[1], jsontext.loads(sdk[2]))


@pytest.mark.parametrize("version", [*HANDSHAKE, MODERN])
async def test_every_call_is_answered_as_the_sdk_answers_it(app: tuple[Starlette, str], version: str | None) -> None:
    starlette_app, session_id = app
    for name, arguments in CALLS:
        for request_id in (7, "req-7"):
            message, headers = request(name, arguments, version, request_id)
            raw = [(k.encode(), v.encode()) for k, v in headers.items()]
            assert _version(raw, message) is not None, (name, version)  # the fast path takes it
            ours, sdk = await both(starlette_app, session_id, message, headers)
            assert ours == sdk, (name, arguments, version)
            assert ours[0] == 200 and ours[2]["id"] == request_id
    message, headers = request(*CALLS[1], version)
    _, _, answer = (await both(starlette_app, session_id, message, headers))[0]
    envelope = jsontext.loads(answer["result"]["content"][0]["text"])
    assert envelope["successful"] and envelope["data"]["results"][0]["response"]["data"]["result"] == 5
    assert ("_meta" in answer["result"]) == (version == MODERN)  # the 2026 server-info stamp, as the SDK adds


def declined() -> list[tuple[str, dict[str, Any], dict[str, str]]]:
    """Requests the SDK refuses or treats specially: the fast path must leave every one to it."""
    cases = []
    message, headers = request("COMPOSIO_SEARCH_TOOLS", {"queries": [{"use_case": "x"}]}, MODERN)
    cases.append(("modern without _meta", {**message, "params": {"name": "COMPOSIO_SEARCH_TOOLS"}}, headers))
    cases.append(("Mcp-Name not the tool", message, {**headers, "mcp-name": "OTHER"}))
    cases.append(("Mcp-Method not the method", message, {**headers, "mcp-method": "tools/list"}))
    cases.append(("unknown protocol version", message, {**headers, "mcp-protocol-version": "2030-01-01"}))
    cases.append(("an Mcp-Param header", message, {**headers, "mcp-param-x": "1"}))
    for version in (MODERN, "2025-06-18"):
        message, headers = request("COMPOSIO_SEARCH_TOOLS", {"queries": [{"use_case": "x"}]}, version)
        cases.append((f"{version}: JSON not accepted", message, {**headers, "accept": "text/event-stream"}))
        cases.append((f"{version}: progress token", {**message, "params": {
            **message["params"], "_meta": {**message["params"].get("_meta", {}), "progressToken": ["x"]}}}, headers))
        cases.append((f"{version}: tools/list", {**message, "method": "tools/list", "params": {
            k: v for k, v in message["params"].items() if k == "_meta"}}, headers))
    return cases


def malformed() -> list[tuple[str, dict[str, Any], dict[str, str], str]]:
    """tools/call params the SDK refuses without saying why: refused before either path, with the reason."""
    cases = []
    for version in (MODERN, "2025-06-18"):
        message, headers = request("COMPOSIO_SEARCH_TOOLS", {"queries": [{"use_case": "x"}]}, version)
        cases.append((f"{version}: arguments a list", {**message, "params": {**message["params"], "arguments": [1]}},
                      headers, "must be an object (name: value), not an array"))
        cases.append((f"{version}: name a number", {**message, "params": {**message["params"], "name": 5}}, headers,
                      "needs params.name"))
        cases.append((f"{version}: no params", {k: v for k, v in message.items() if k != "params"}, headers,
                      "needs params.name"))
    return cases


@pytest.mark.parametrize("case", malformed(), ids=lambda case: case[0])
async def test_malformed_call_params_are_refused_with_their_reason(
    app: tuple[Starlette, str], case: tuple[str, dict[str, Any], dict[str, str], str]
) -> None:
    starlette_app, session_id = app
    _, message, headers, reason = case
    assert _version([(k.encode(), v.encode()) for k, v in headers.items()], message) is None
    status, content_type, body = await asgi(starlette_app, session_id, message, headers)
    sdk = await asgi(starlette_app.state.mcp.manager.handle_request, session_id, message, headers)
    assert (status, content_type) == sdk[:2]  # 400 in the 2026 era, an error in a 200 in the handshake era
    answer = jsontext.loads(body)
    assert answer["id"] == message["id"] and answer["error"]["code"] == -32602 and reason in answer["error"]["message"]
    assert jsontext.loads(sdk[2])["error"]["message"] != answer["error"]["message"]  # the SDK's says less


@pytest.mark.parametrize("case", declined(), ids=lambda case: case[0])
async def test_what_the_fast_path_declines_the_sdk_answers(
    app: tuple[Starlette, str], case: tuple[str, dict[str, Any], dict[str, str]]
) -> None:
    starlette_app, session_id = app
    _, message, headers = case
    assert _version([(k.encode(), v.encode()) for k, v in headers.items()], message) is None
    ours = await asgi(starlette_app, session_id, message, headers)
    sdk = await asgi(starlette_app.state.mcp.manager.handle_request, session_id, message, headers)
    assert ours[:2] == sdk[:2]
    if "json" in ours[1]:
        assert jsontext.loads(ours[2]) == jsontext.loads(sdk[2])
    else:
        assert ours[2] == sdk[2]
