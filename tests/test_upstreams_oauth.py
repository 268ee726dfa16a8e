"""Issue 11: an upstream MCP server behind OAuth, per the MCP authorization specification. Concierge
finds the authorization server (RFC 9728, RFC 8414), registers itself (RFC 7591), and each user signs in
through the Connect Link (authorization code + PKCE + RFC 8707 `resource`); an expired sign-in is
refreshed once and the call retried. Real servers on loopback, the authorization server from the `mcp`
SDK's own OAuth routes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.auth_fixtures import follow_oauth_link
from tests.test_upstreams import execute, live, mcp_url, wait_until
from tests.upstream_oauth import AuthorizationServer, ProtectedEchoUpstream

pytestmark = pytest.mark.anyio


async def test_sign_in_per_user_with_discovery_registration_and_refresh(tmp_path: Path) -> None:
    auth = AuthorizationServer().start()
    upstream = ProtectedEchoUpstream(auth).start()
    try:
        config = {"secured": {"url": upstream.mcp_url, "auth": {"type": "oauth"}}}
        with live(tmp_path, upstreams=config) as server:
            clients = list(auth.provider.clients.values())
            assert len(clients) == 1 and [str(u) for u in clients[0].redirect_uris or []] == [
                f"{server.url}/api/v1/auth/callback"], clients
            toolkit = server.api("GET", "/toolkits/secured").json()
            assert toolkit["auth_schemes"] == ["oauth2"] and toolkit["tool_count"] == 0  # lists only to users

            tokens = {}
            for user in ("alice", "bob"):
                session = server.create_session(user_id=user, toolkits=["secured"])
                made = server.api("POST", f"/sessions/{session['id']}/authorize", json={"toolkit": "secured"})
                assert made.status_code == 201, made.text
                assert follow_oauth_link(made.json()["redirect_url"]).status_code == 200
                await wait_until(lambda: server.api("GET", "/tools/SECURED_WHO_AM_I").status_code == 200, 20,
                                 "the upstream's tools, listed as the first signed-in user")
                seen, = await execute(mcp_url(server, session), ("SECURED_WHO_AM_I", {}))
                assert seen["successful"], seen
                tokens[user] = seen["data"]["credential"].removeprefix("Bearer ")
                issued = auth.provider.access[tokens[user]]
                assert issued.resource == upstream.mcp_url  # RFC 8707: the token is for this server only
            assert tokens["alice"] != tokens["bob"]

            # alice's access token dies at the authorization server: the upstream answers 401, Concierge
            # refreshes her sign-in once and retries
            del auth.provider.access[tokens["alice"]]
            alice = server.api("GET", "/sessions", params={"user_id": "alice"}).json()["items"][0]
            again, = await execute(mcp_url(server, alice), ("SECURED_WHO_AM_I", {}))
            assert again["successful"], again
            assert again["data"]["credential"] != f"Bearer {tokens['alice']}" and auth.provider.refreshes == 1

            server.restart()  # registration and endpoints are stored: nothing is registered twice
            assert len(auth.provider.clients) == 1
            after, = await execute(mcp_url(server, alice), ("SECURED_WHO_AM_I", {}))
            assert after["successful"], after
    finally:
        upstream.stop()
        auth.stop()


async def test_an_upstream_without_resource_metadata_is_refused_clearly(tmp_path: Path) -> None:
    auth = AuthorizationServer().start()
    try:
        with live(tmp_path) as server:  # the authorization server is no MCP server and publishes no RFC 9728
            answer = server.api("POST", "/upstreams", json={"name": "nometa", "url": auth.url + "/mcp",
                                                             "auth": {"type": "oauth"}})
            assert answer.status_code == 502, answer.text
            assert "protected-resource metadata" in answer.json()["error"]["message"]
            assert server.api("GET", "/upstreams").json()["items"] == []
        await asyncio.sleep(0)
    finally:
        auth.stop()
