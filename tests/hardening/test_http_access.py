"""Rate limits per API key and per session (429 + Retry-After, or a JSON-RPC error on MCP), and the
optional per-session bearer token on MCP URLs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.live import LiveServer
from tests.mcp_helpers import initialize_body, raw_post

TOOLS_LIST = json.dumps({"jsonrpc": "2.0", "id": 3, "method": "tools/list"})


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path / "data", rate_limits={"per_session": 1, "per_api_key": 1000, "burst": 3}).start()
    yield live
    live.stop()


def test_per_session_limit_answers_429_with_retry_after(limited: LiveServer) -> None:
    busy, quiet = limited.create_session()["id"], limited.create_session()["id"]
    answers = [limited.api("GET", f"/sessions/{busy}") for _ in range(6)]
    codes = [a.status_code for a in answers]
    assert codes[:3] == [200, 200, 200] and 429 in codes[3:], codes
    refused = next(a for a in answers if a.status_code == 429)
    assert int(refused.headers["retry-after"]) >= 1
    error = refused.json()["error"]
    assert error["code"] == "rate_limited" and error["details"]["scope"] == "session"
    assert limited.api("GET", f"/sessions/{quiet}").status_code == 200, "another session is not slowed down"
    mcp = [raw_post(f"{limited.url}/mcp/{busy}", TOOLS_LIST) for _ in range(3)]
    throttled = next(a for a in mcp if a.status_code == 429)
    assert throttled.json()["error"]["code"] == -32029 and "retry-after" in throttled.headers
    time.sleep(float(throttled.headers["retry-after"]) + 0.2)
    assert raw_post(f"{limited.url}/mcp/{busy}", initialize_body()).status_code == 200, "the bucket refills"
    metrics = httpx.get(f"{limited.url}/metrics", headers=limited.headers, timeout=30)
    assert 'concierge_rate_limit_refusals_total{scope="session"}' in metrics.text


def test_per_api_key_limit(tmp_path: Path) -> None:
    live = LiveServer(tmp_path / "data", rate_limits={"per_api_key": 0.5, "burst": 2}).start()
    try:
        codes = [live.api("GET", "/toolkits").status_code for _ in range(4)]
        assert codes[:2] == [200, 200] and codes[2:] == [429, 429], codes
        assert live.api("GET", "/toolkits", headers={"x-api-key": "wrong"}).status_code == 401, \
            "a wrong key is refused as such, and does not spend the real key's tokens"
    finally:
        live.stop()


def test_no_limits_by_default(server: LiveServer) -> None:
    session = server.create_session()["id"]
    assert all(server.api("GET", f"/sessions/{session}").status_code == 200 for _ in range(80))


@pytest.fixture
def tokened(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path / "data", mcp_session_tokens=True).start()
    yield live
    live.stop()


def test_session_token_is_required_on_the_mcp_url(tokened: LiveServer) -> None:
    alice, bob = tokened.create_session(user_id="alice"), tokened.create_session(user_id="bob")
    header = alice["mcp"]["headers"]["Authorization"]
    assert header.startswith("Bearer mt_") and header != bob["mcp"]["headers"]["Authorization"]
    assert tokened.api("GET", f"/sessions/{alice['id']}").json()["mcp"]["headers"]["Authorization"] == header
    url = alice["mcp"]["url"]
    for headers in ({}, {"Authorization": "Bearer mt_wrong"}, {"Authorization": bob["mcp"]["headers"]["Authorization"]},
                    {"Authorization": header.replace("Bearer ", "Basic ")}):
        refused = raw_post(url, initialize_body(), headers)
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer", headers
        assert "mcp.headers" in refused.json()["error"]["message"]
    assert raw_post(url, initialize_body(), {"Authorization": header}).status_code == 200


@pytest.mark.anyio
async def test_a_real_client_with_the_token_works(tokened: LiveServer) -> None:
    session = tokened.create_session()
    async with httpx2.AsyncClient(headers=session["mcp"]["headers"], timeout=30) as http, \
            Client(streamable_http_client(session["mcp"]["url"], http_client=http)) as client:
        tools = await client.list_tools()
        assert "COMPOSIO_SEARCH_TOOLS" in [t.name for t in tools.tools]


def test_tokens_survive_a_restart_and_die_with_the_session(tokened: LiveServer) -> None:
    session = tokened.create_session()
    header = {"Authorization": session["mcp"]["headers"]["Authorization"]}
    tokened.restart()
    assert raw_post(session["mcp"]["url"], initialize_body(), header).status_code == 200
    assert tokened.api("DELETE", f"/sessions/{session['id']}").status_code == 204
    assert raw_post(session["mcp"]["url"], initialize_body(), header).status_code == 404
