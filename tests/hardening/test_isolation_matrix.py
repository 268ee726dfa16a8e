"""Isolation matrix (issue 16): every REST route and every meta tool, called with no key, a wrong key,
another user's session, another user's account id, a deleted session and a guessed session id: all
refused, and the refusal changes nothing. Plus: the admin key is compared in constant time."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client

from server.api import admin_key
from server.api.routes import API_ROUTES
from server.meta_tools.registry import CORE_META_TOOLS
from tests.auth_fixtures import ResourceApi, submit_key_form, write_toolkits
from tests.live import LiveServer
from tests.mcp_helpers import initialize_body, raw_post
from tests.oauth_server import OAuthServer

BOB_KEY = "bob-secret-key-0123456789"
META_TOOLS = [t.name for t in CORE_META_TOOLS]


@dataclass
class World:
    server: LiveServer
    api: ResourceApi
    alice: dict[str, Any]
    bob: dict[str, Any]
    deleted: str
    bob_account: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("isolation")
    oauth = OAuthServer(access_token_lifetime=3600).start()
    api = ResourceApi(oauth.verify).start()
    kits = write_toolkits(root / "kits", oauth, api.url)
    server = LiveServer(root / "data", toolkit_paths=[kits], oauth_apps={
        "acme": {"client_id": oauth.client_id, "client_secret": oauth.client_secret}}).start()
    link = server.api("POST", "/connected_accounts/link", json={"toolkit": "keyed", "user_id": "bob"}).json()
    assert submit_key_form(link["redirect_url"], api_key=BOB_KEY).status_code == 200
    alice = server.create_session(user_id="alice", toolkits=["keyed", "math"],
                                  multi_account={"enable": True})
    bob = server.create_session(user_id="bob", toolkits=["keyed", "math"])
    gone = server.create_session(user_id="alice")["id"]
    assert server.api("DELETE", f"/sessions/{gone}").status_code == 204
    yield World(server, api, alice, bob, gone, link["connected_account_id"])
    server.stop()
    api.stop()
    oauth.stop()


def _fill(path: str, world: World, session_id: str) -> str:
    values = {"session_id": session_id, "account_id": world.bob_account, "config_id": "ac_nothing",
              "log_id": "log_nothing", "slug": "math", "name": "COMPOSIO_SEARCH_TOOLS", "path": "notes.txt"}
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m.group(1)], path)


def _request(world: World, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    body = {"PUT": {"content": b"x"}, "POST": {"json": {}}, "PATCH": {"json": {"tags": ["x"]}}}.get(method, {})
    return httpx.request(method, f"{world.server.url}/api/v1{path}", headers=headers, timeout=30, **body)


def _bob_state(world: World) -> tuple[Any, ...]:
    account = world.server.api("GET", f"/connected_accounts/{world.bob_account}").json()
    session = world.server.api("GET", f"/sessions/{world.bob['id']}").json()
    return account["status"], account["is_disabled"], session["config_version"], session["config"]


@pytest.mark.parametrize("route", API_ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_every_rest_route_needs_the_admin_key(world: World, route: Any) -> None:
    before = _bob_state(world)
    path = _fill(route.path, world, world.bob["id"])
    for headers in ({}, {"Authorization": "Bearer ck_wrong"}, {"x-api-key": "ck_wrong"},
                    {"Authorization": "Basic " + "x" * 20}, {"Authorization": "Bearer"}):
        answer = _request(world, route.method, path, headers)
        assert answer.status_code == 401, (route.path, headers, answer.text)
        assert answer.json()["error"]["code"] == "unauthorized" and answer.headers["www-authenticate"] == "Bearer"
    assert _bob_state(world) == before


SESSION_ROUTES = [r for r in API_ROUTES if "{session_id}" in r.path]


@pytest.mark.parametrize("route", SESSION_ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_every_session_route_refuses_deleted_and_guessed_sessions(world: World, route: Any) -> None:
    for session_id in (world.deleted, "sess_" + secrets.token_urlsafe(16), "sess_", "../" + world.bob["id"]):
        answer = _request(world, route.method, _fill(route.path, world, session_id), world.server.headers)
        assert answer.status_code == 404, (route.path, session_id, answer.text)
        assert answer.json()["error"]["code"] == "not_found"


def test_a_session_cannot_reach_another_users_account(world: World) -> None:
    server, alice = world.server, world.alice
    before = _bob_state(world)
    revoke = server.api("POST", f"/sessions/{alice['id']}/connected_accounts/{world.bob_account}/revoke")
    assert revoke.status_code == 404
    listed = server.api("GET", f"/sessions/{alice['id']}/connected_accounts").json()["items"]
    assert world.bob_account not in {a["id"] for a in listed}
    pinned = server.api("PATCH", f"/sessions/{alice['id']}", json={"connected_accounts": {"keyed": world.bob_account}})
    assert pinned.status_code == 403 and pinned.json()["error"]["code"] == "forbidden"
    created = server.api("POST", "/sessions", json={"user_id": "alice",
                                                    "connected_accounts": {"keyed": world.bob_account}})
    assert created.status_code == 403
    toolkits = server.api("GET", f"/sessions/{alice['id']}/toolkits").json()["items"]
    keyed = next(t for t in toolkits if t["slug"] == "keyed")
    assert keyed["connection"]["is_active"] is False
    assert _bob_state(world) == before


async def _call(url: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    async with Client(url) as client:
        result = await client.call_tool(name, arguments)
    return json.loads(result.content[0].text)


ARGUMENTS: dict[str, dict[str, Any]] = {
    "COMPOSIO_SEARCH_TOOLS": {"queries": [{"use_case": "check my keyed api key"}]},
    "COMPOSIO_GET_TOOL_SCHEMAS": {"tool_slugs": ["KEYED_WHOAMI"]},
    "COMPOSIO_MANAGE_CONNECTIONS": {"toolkits": ["keyed"]},
    "COMPOSIO_WAIT_FOR_CONNECTIONS": {"toolkits": ["keyed"], "timeout_seconds": 1},
    "COMPOSIO_MULTI_EXECUTE_TOOL": {"tools": [{"tool_slug": "KEYED_WHOAMI", "arguments": {},
                                               "account": "BOB_ACCOUNT"}]},
    "COMPOSIO_REMOTE_WORKBENCH": {"code_to_execute": "import glob, os\nfor p in glob.glob('../*/*') + glob.glob("
                                                     "'../../*/*/*'):\n    print(p)\n    if os.path.basename(p) == "
                                                     "'bob-notes.txt' and os.path.isfile(p): print(open(p).read())"},
    "COMPOSIO_REMOTE_BASH_TOOL": {"command": "cat ../*/bob-notes.txt ../../*/*/bob-notes.txt; ls -a .. ../.."},
}


@pytest.mark.anyio
@pytest.mark.parametrize("tool", META_TOOLS)
async def test_every_meta_tool_stays_inside_its_session(world: World, tool: str) -> None:
    """Called from alice's session with bob's account id and files around: nothing of bob's comes back."""
    server = world.server
    assert server.api("PUT", f"/sessions/{world.bob['id']}/files/bob-notes.txt",
                      content=b"BOB-PRIVATE-NOTE").status_code == 200
    arguments = json.loads(json.dumps(ARGUMENTS[tool]).replace("BOB_ACCOUNT", world.bob_account))
    envelope = await _call(world.alice["mcp"]["url"], tool, arguments)
    text = json.dumps(envelope)
    assert BOB_KEY not in text and "BOB-PRIVATE-NOTE" not in text and world.bob["id"] not in text
    assert world.bob_account not in text or tool == "COMPOSIO_MULTI_EXECUTE_TOOL"
    if tool == "COMPOSIO_MULTI_EXECUTE_TOOL":
        result = envelope["data"]["results"][0]
        assert result["response"]["successful"] is False, result


@pytest.mark.anyio
@pytest.mark.parametrize("tool", META_TOOLS)
async def test_every_meta_tool_refuses_deleted_and_guessed_sessions(world: World, tool: str) -> None:
    call = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                       "params": {"name": tool, "arguments": ARGUMENTS[tool]}})
    for session_id in (world.deleted, "sess_" + secrets.token_urlsafe(16)):
        answer = await anyio.to_thread.run_sync(raw_post, f"{world.server.url}/mcp/{session_id}", call)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == -32004, answer.text
    assert not world.server.api("GET", f"/sessions/{world.deleted}").is_success


def test_an_mcp_session_id_does_not_cross_sessions(world: World) -> None:
    server = world.server
    init = raw_post(world.alice["mcp"]["url"], initialize_body())
    client_id = init.headers["mcp-session-id"]
    tools_list = json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    crossed = raw_post(world.bob["mcp"]["url"], tools_list, {"Mcp-Session-Id": client_id})
    assert crossed.status_code == 404
    guessed = raw_post(world.alice["mcp"]["url"], tools_list, {"Mcp-Session-Id": secrets.token_urlsafe(24)})
    assert guessed.status_code == 404
    assert raw_post(world.alice["mcp"]["url"], tools_list, {"Mcp-Session-Id": client_id}).status_code == 200
    assert server.api("GET", f"/sessions/{world.bob['id']}").json()["clients"] == []


def test_the_admin_key_is_compared_in_constant_time(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[str, str]] = []
    real = admin_key.hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(admin_key.hmac, "compare_digest", spy)
    assert world.server.api("GET", "/toolkits", headers={"x-api-key": "ck_wrong"}).status_code == 401
    assert world.server.api("GET", "/toolkits").status_code == 200
    assert len(compared) == 2 and all(len(a) == len(b) == 64 for a, b in compared), "digests of equal length"
