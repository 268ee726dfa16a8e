"""Declarative `http:` tools on the wire: a real local API under uvicorn, the executor's own client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from server.catalog.loader import load_toolkit_folder
from server.catalog.model import Toolkit
from server.errors import ToolError, UpstreamError
from server.execute import http_tool
from server.execute.credentials import Credential
from tests.live import LiveServer, ThreadedServer, free_socket

SEEN: list[dict[str, Any]] = []


async def echo(request: Request) -> JSONResponse:
    body = (await request.body()).decode()
    seen = {"path": request.url.path, "query": dict(request.query_params), "headers": dict(request.headers),
            "body": body}
    SEEN.append(seen)
    return JSONResponse({"data": seen})


async def big(request: Request) -> Response:
    return PlainTextResponse("x" * 300_000)


async def set_cookie(request: Request) -> Response:
    response = JSONResponse({"data": "ok"})
    response.set_cookie("sid", "abc123")
    return response


async def paged(request: Request) -> Response:
    return JSONResponse({"data": [1, 2]}, headers={"Link": f'<{request.base_url}paged?page=3>; rel="next"'})


async def moved(request: Request) -> Response:
    return RedirectResponse("/echo", status_code=302)


async def limited(request: Request) -> Response:
    return JSONResponse({"message": "API rate limit exceeded"}, status_code=403,
                        headers={"Retry-After": "30", "X-RateLimit-Remaining": "0"})


@pytest.fixture(scope="module")
def api() -> Iterator[ThreadedServer]:
    server = ThreadedServer()
    server.serve(lambda: Starlette(routes=[
        Route("/echo", echo, methods=["GET", "POST"]), Route("/big", big), Route("/cookie", set_cookie),
        Route("/paged", paged), Route("/moved", moved), Route("/limited", limited)]))
    yield server
    server.stop()


def _toolkit(root: Path, base_url: str) -> Toolkit:
    def tool(slug: str, http: dict[str, Any], props: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"slug": f"WIRE_{slug}", "name": slug.title(), "description": f"{slug} on the local API",
                "http": http, "input_schema": {"type": "object", "properties": props or {}}}
    spec = {"slug": "wire", "name": "Wire", "description": "A local API.", "base_url": base_url,
            "default_headers": {"X-Default": "yes"}, "tools": [
                tool("QUERY", {"method": "GET", "path": "/echo", "query": ["flag", "tags"]},
                     {"flag": {"type": "boolean"}, "tags": {"type": "array"}}),
                tool("FORM", {"method": "POST", "path": "/echo", "body": "*", "body_format": "form"},
                     {"title": {"type": "string"}}),
                tool("JSON", {"method": "POST", "path": "/echo", "body": "*"}, {"title": {"type": "string"}}),
                tool("BIG", {"method": "GET", "path": "/big"}),
                tool("COOKIE", {"method": "GET", "path": "/cookie"}),
                tool("PAGED", {"method": "GET", "path": "/paged", "result_path": "data", "paginate": "link_header"}),
                tool("MOVED", {"method": "GET", "path": "/moved"}),
                tool("LIMITED", {"method": "GET", "path": "/limited"}),
            ]}
    (root / "wire").mkdir()
    (root / "wire" / "toolkit.yaml").write_text(yaml.safe_dump(spec))
    return load_toolkit_folder(root / "wire")


async def _call(toolkit: Toolkit, slug: str, arguments: dict[str, Any], max_bytes: int = 100_000,
                credential: Credential | None = None) -> Any:
    tool = toolkit.tools[f"WIRE_{slug}"]
    client = http_tool.new_client(10)

    async def exchange(args: dict[str, Any], url: str | None) -> http_tool.HttpResponse:
        request = http_tool.build_request(tool, toolkit, args, credential or Credential(None), url)
        return await http_tool.send(client, request, max_bytes)

    try:
        return await http_tool.run(tool, toolkit, arguments, exchange)
    finally:
        await client.close()


@pytest.mark.anyio
async def test_arguments_reach_the_api_as_query_form_and_json_with_credentials(api: ThreadedServer,
                                                                               tmp_path: Path) -> None:
    toolkit = _toolkit(tmp_path, api.url)
    secret = Credential("ca_1", headers={"Authorization": "Bearer t0ken"}, query={"key": "k1"})
    got = (await _call(toolkit, "QUERY", {"flag": True, "tags": ["a", "b"]}, credential=secret))["data"]
    assert got["query"] == {"flag": "true", "tags": "a,b", "key": "k1"}
    assert got["headers"]["authorization"] == "Bearer t0ken" and got["headers"]["x-default"] == "yes"
    assert got["headers"]["user-agent"] == "concierge/0.1"
    form = (await _call(toolkit, "FORM", {"title": "a b&c"}))["data"]
    assert form["body"] == "title=a+b%26c"
    assert (await _call(toolkit, "JSON", {"title": "héllo"}))["data"]["body"] == '{"title": "h\\u00e9llo"}'


@pytest.mark.anyio
async def test_a_response_over_the_limit_is_refused_not_truncated(api: ThreadedServer, tmp_path: Path) -> None:
    with pytest.raises(UpstreamError, match="larger than 100000 bytes"):
        await _call(_toolkit(tmp_path, api.url), "BIG", {})


@pytest.mark.anyio
async def test_no_cookie_is_kept_between_calls_and_redirects_are_not_followed(api: ThreadedServer,
                                                                             tmp_path: Path) -> None:
    toolkit = _toolkit(tmp_path, api.url)
    tool = toolkit.tools["WIRE_COOKIE"]
    client = http_tool.new_client(10)
    try:
        await http_tool.send(client, http_tool.build_request(tool, toolkit, {}, Credential(None)), 10_000)
        echo_tool = toolkit.tools["WIRE_QUERY"]
        response = await http_tool.send(client, http_tool.build_request(echo_tool, toolkit, {}, Credential(None)),
                                        10_000)
        assert "cookie" not in orjson.loads(response.body)["data"]["headers"]
        SEEN.clear()
        moved = await http_tool.send(client, http_tool.build_request(toolkit.tools["WIRE_MOVED"], toolkit, {},
                                                                     Credential(None)), 10_000)
        assert moved.status == 302 and SEEN == []
    finally:
        await client.close()


@pytest.mark.anyio
async def test_link_header_pages_and_rate_limits_are_named(api: ThreadedServer, tmp_path: Path) -> None:
    toolkit = _toolkit(tmp_path, api.url)
    assert await _call(toolkit, "PAGED", {}) == {"items": [1, 2], "has_more": True, "next_cursor": "3",
                                                 "next_page": 3}
    with pytest.raises(UpstreamError, match=r"rate limiting WIRE_LIMITED \(HTTP 403: API rate limit exceeded\)") \
            as raised:
        await _call(toolkit, "LIMITED", {})
    assert raised.value.details["retry_after"] == "30"


@pytest.mark.anyio
async def test_an_unreachable_provider_is_a_transport_error(tmp_path: Path) -> None:
    closed = free_socket()
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(http_tool.TRANSPORT_ERRORS):
        await _call(_toolkit(tmp_path, f"http://127.0.0.1:{port}"), "QUERY", {})


def test_through_the_server_an_unreachable_provider_is_a_logged_tool_error(tmp_path: Path) -> None:
    closed = free_socket()
    port = closed.getsockname()[1]
    closed.close()
    _toolkit(tmp_path, f"http://127.0.0.1:{port}")
    server = LiveServer(tmp_path / "data", toolkit_paths=[tmp_path], builtin_toolkits=False).start()
    try:
        session = server.create_session(toolkits=["wire"])
        done = server.api("POST", f"/sessions/{session['id']}/tools/COMPOSIO_MULTI_EXECUTE_TOOL",
                          json={"arguments": {"tools": [{"tool_slug": "WIRE_QUERY", "arguments": {}}]}}).json()
        result = done["data"]["results"][0]
        assert done["data"]["error_count"] == 1 and "WIRE_QUERY: request failed" in result["error"]
        log = server.api("GET", f"/executions/{result['response']['log_id']}").json()
        assert log["status"] == "error" and "request failed" in log["error"]
    finally:
        server.stop()


@pytest.mark.parametrize("subdomain", ["127.0.0.1:9/x?", "evil.test/#", "a@b", "acme corp", ""])
def test_account_fields_cannot_move_a_request_to_another_host(tmp_path: Path, subdomain: str) -> None:
    toolkit = _toolkit(tmp_path, "https://{subdomain}.example.com/api")
    tool = toolkit.tools["WIRE_QUERY"]
    with pytest.raises(ToolError, match="not a valid host name part"):
        http_tool.build_request(tool, toolkit, {}, Credential("ca_1", fields={"subdomain": subdomain}))
    with pytest.raises(ToolError, match="lacks the field 'subdomain'"):
        http_tool.build_request(tool, toolkit, {}, Credential("ca_1"))
    good = http_tool.build_request(tool, toolkit, {}, Credential("ca_1", fields={"subdomain": "acme-eu.prod"}))
    assert good.url == "https://acme-eu.prod.example.com/api/echo"
