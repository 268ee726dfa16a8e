"""Issue 3 must-shows 1, 2, 6, 7: real OAuth2 (code + PKCE + refresh) against a local authorization server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client

from tests.auth_fixtures import ResourceApi, follow_oauth_link, start_oauth, write_toolkits
from tests.live import LiveServer
from tests.mcp_helpers import call
from tests.oauth_server import OAuthServer
from tests.postgres import both_backends

pytestmark = pytest.mark.anyio
WHOAMI = {"tools": [{"tool_slug": "ACME_WHOAMI", "arguments": {}}]}


class World:
    def __init__(self, tmp_path: Path, lifetime: int, **server_overrides: Any) -> None:
        self.oauth = OAuthServer(access_token_lifetime=lifetime).start()
        self.api = ResourceApi(self.oauth.verify).start()
        kits = write_toolkits(tmp_path / "kits", self.oauth, self.api.url)
        self.server = LiveServer(tmp_path / "data", toolkit_paths=[kits], oauth_apps={
            "acme": {"client_id": self.oauth.client_id, "client_secret": self.oauth.client_secret}},
            **server_overrides).start()

    def close(self) -> None:
        self.server.stop()
        self.api.stop()
        self.oauth.stop()

    def account(self, account_id: str) -> dict[str, Any]:
        return self.server.api("GET", f"/connected_accounts/{account_id}").json()

    async def connect(self, url: str) -> str:
        async with Client(url) as client:
            managed = await call(client, "COMPOSIO_MANAGE_CONNECTIONS", {"toolkits": ["acme"]})
        result = managed["data"]["results"]["acme"]
        assert result["status"] == "initiated" and result["redirect_url"] in result["instruction"]
        page = follow_oauth_link(result["redirect_url"])
        assert page.status_code == 200 and "connected" in page.text.lower(), page.text
        return result["connected_account_id"]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, lifetime=3600)
    yield w
    w.close()


@pytest.fixture
def short_world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, lifetime=2)
    yield w
    w.close()


@both_backends
async def test_full_round_trip_and_reuse_by_later_sessions(world: World) -> None:
    session = world.server.create_session(user_id="alice", toolkits=["acme"])
    async with Client(session["mcp"]["url"]) as client:
        before = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", WHOAMI)
        error = before["data"]["results"][0]["response"]["error_details"]
        assert error["code"] == "connection_required" and "/connect/" in error["details"]["redirect_url"]
        found = await call(client, "COMPOSIO_SEARCH_TOOLS", {"queries": [{"use_case": "who am i on acme"}]})
        assert found["data"]["toolkit_connection_statuses"][0]["has_active_connection"] is False
    account_id = await world.connect(session["mcp"]["url"])
    assert account_id == error["details"]["connected_account_id"], "the pending link is reused, not duplicated"
    account = world.account(account_id)
    assert account["status"] == "ACTIVE" and account["user_id"] == "alice" and account["scopes"] == ["profile"]
    assert world.oauth.counts["authorize"] == 1 and world.oauth.counts["token_authorization_code"] == 1
    async with Client(session["mcp"]["url"]) as client:
        done = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", WHOAMI)
        assert done["successful"], done
        assert done["data"]["results"][0]["response"]["data"]["scope"] == "profile"

    later = world.server.create_session(user_id="alice", toolkits=["acme"])
    async with Client(later["mcp"]["url"], mode="legacy") as client:
        again = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", WHOAMI)
        assert again["successful"]
        status = await call(client, "COMPOSIO_MANAGE_CONNECTIONS", {"toolkits": ["acme"]})
        assert status["data"]["results"]["acme"]["status"] == "active"
    assert world.oauth.counts["authorize"] == 1, "no new authorization for a later session of the same user"
    log = world.server.api("GET", f"/sessions/{later['id']}/executions").json()["items"][0]
    assert log["account_id"] == account_id
    events = [e["event"] for e in world.server.api("GET", f"/connected_accounts/{account_id}/events").json()["items"]]
    assert events == ["initiated", "activated"]


@both_backends
async def test_refresh_is_transparent_and_single_under_concurrency(short_world: World) -> None:
    w = short_world
    session = w.server.create_session(user_id="bob", toolkits=["acme"])
    account_id = await w.connect(session["mcp"]["url"])
    await anyio.sleep(2.5)
    async with Client(session["mcp"]["url"]) as client:
        first = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", WHOAMI)
        assert first["successful"], first
        assert w.oauth.counts["token_refresh"] == 1
        await anyio.sleep(2.5)
        batch = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": WHOAMI["tools"] * 20})
        assert batch["data"]["success_count"] == 20, batch
    assert w.oauth.counts["token_refresh"] == 2, "20 concurrent calls on an expired token refresh once"

    await anyio.sleep(2.5)
    results: list[dict[str, Any]] = []

    async def one() -> None:
        async with Client(session["mcp"]["url"]) as client:
            results.append(await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", WHOAMI))

    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(one)
    assert all(r["successful"] for r in results) and w.oauth.counts["token_refresh"] == 3

    w.oauth.revoke_all_refresh_tokens()
    await anyio.sleep(2.5)
    async with Client(session["mcp"]["url"]) as client:
        failed = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", WHOAMI)
    error = failed["data"]["results"][0]["response"]["error_details"]
    assert error["code"] == "connection_required" and "/connect/" in error["details"]["redirect_url"]
    assert "reconnected" in failed["data"]["results"][0]["error"]
    account = w.account(account_id)
    assert account["status"] == "EXPIRED" and account["credential_preview"] is None
    events = [e["event"] for e in w.server.api("GET", f"/connected_accounts/{account_id}/events").json()["items"]]
    assert events.count("refreshed") == 3 and events[-1] == "expired"


async def test_unauthorized_answer_triggers_one_refresh_and_retry(world: World) -> None:
    session = world.server.create_session(user_id="carol", toolkits=["acme"])
    await world.connect(session["mcp"]["url"])
    world.oauth.expire_all_access_tokens()
    calls_before = world.api.calls
    async with Client(session["mcp"]["url"]) as client:
        done = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", WHOAMI)
    assert done["successful"], done
    assert world.oauth.counts["token_refresh"] == 1 and world.api.calls == calls_before + 2


async def test_connect_link_single_use_expiry_state_and_denial(tmp_path: Path) -> None:
    w = World(tmp_path, lifetime=3600, connect_link_ttl_seconds=1)
    try:
        session = w.server.create_session(user_id="dana", toolkits=["acme"])
        sid = session["id"]

        def authorize() -> dict[str, Any]:
            response = w.server.api("POST", f"/sessions/{sid}/authorize", json={"toolkit": "acme"})
            assert response.status_code == 201, response.text
            return response.json()

        expired = authorize()
        await anyio.sleep(1.3)
        page = httpx.get(expired["redirect_url"])
        assert page.status_code == 410 and "expired" in page.text
        assert w.account(expired["connected_account_id"])["status"] == "EXPIRED"

        w.oauth.deny_next()
        denied = authorize()
        page = follow_oauth_link(denied["redirect_url"])
        assert page.status_code == 400 and "access_denied" in page.text
        assert w.account(denied["connected_account_id"])["status"] == "FAILED"
        assert "access_denied" in w.account(denied["connected_account_id"])["status_reason"]

        tampered = authorize()
        first = start_oauth(tampered["redirect_url"])
        assert first.status_code == 303
        provider = httpx.get(first.headers["location"])
        callback = provider.headers["location"].replace("state=", "state=x")
        page = httpx.get(callback)
        assert page.status_code == 400 and "tampered" in page.text
        assert w.account(tampered["connected_account_id"])["status"] == "INITIATED"
        replay = httpx.get(tampered["redirect_url"])
        assert replay.status_code == 410 and "already used" in replay.text

        good = authorize()
        done = follow_oauth_link(good["redirect_url"])
        assert done.status_code == 200
        again = httpx.get(done.url)
        assert again.status_code in (400, 410) and w.account(good["connected_account_id"])["status"] == "ACTIVE"
        assert httpx.get(f"{w.server.url}/connect/not-a-real-token").status_code == 404
    finally:
        w.close()


async def test_callback_url_gets_status_and_account(world: World) -> None:
    session = world.server.create_session(user_id="erin", toolkits=["acme"])
    made = world.server.api("POST", f"/sessions/{session['id']}/authorize",
                            json={"toolkit": "acme", "callback_url": "http://127.0.0.1:9/done?x=1"}).json()
    step = start_oauth(made["redirect_url"])
    step = httpx.get(step.headers["location"])
    final = httpx.get(step.headers["location"])
    assert final.status_code == 303
    assert final.headers["location"] == (f"http://127.0.0.1:9/done?x=1&status=success&connected_account_id="
                                         f"{made['connected_account_id']}")


async def test_missing_oauth_app_is_explained(tmp_path: Path) -> None:
    oauth = OAuthServer().start()
    try:
        kits = write_toolkits(tmp_path / "kits", oauth, "http://127.0.0.1:9")
        server = LiveServer(tmp_path / "data", toolkit_paths=[kits]).start()
        try:
            session = server.create_session(toolkits=["acme"])
            async with Client(session["mcp"]["url"]) as client:
                managed = await call(client, "COMPOSIO_MANAGE_CONNECTIONS", {"toolkits": ["acme", "nope"]})
            results = managed["data"]["results"]
            assert results["acme"]["status"] == "failed" and "[oauth_apps.acme]" in results["acme"]["error_message"]
            assert results["nope"]["status"] == "failed" and managed["data"]["summary"]["failed_connections"] == 2
        finally:
            server.stop()
    finally:
        oauth.stop()
