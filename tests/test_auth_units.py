"""Issue 3: where each scheme puts its secret, the refresh margin, and auth-config CRUD rules."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from server.auth.credentials import build_credential, needs_refresh
from server.catalog.toolkit_file import AuthSchemeFile
from server.store.records import AccountRow
from tests.auth_fixtures import ResourceApi, submit_key_form, write_toolkits
from tests.live import LiveServer
from tests.mcp_helpers import call
from tests.oauth_server import OAuthServer

ACCOUNT = AccountRow("ca_x", "u", "t", "ac_x", None, "ACTIVE", None, 0, None, None, None, None, 0.0, 0.0)


@pytest.mark.parametrize(("scheme", "secret", "headers", "query"), [
    ({"type": "oauth2", "oauth2": {"authorize_url": "a", "token_url": "t"}},
     {"access_token": "at", "token_type": "bearer"}, {"Authorization": "Bearer at"}, {}),
    ({"type": "bearer_token"}, {"token": "tok"}, {"Authorization": "Bearer tok"}, {}),
    ({"type": "basic"}, {"username": "ann", "password": "pw"},
     {"Authorization": "Basic " + base64.b64encode(b"ann:pw").decode()}, {}),
    ({"type": "api_key", "api_key_name": "Authorization", "api_key_prefix": "Token "}, {"api_key": "k1"},
     {"Authorization": "Token k1"}, {}),
    ({"type": "api_key", "api_key_in": "query", "api_key_name": "key"}, {"api_key": "k2", "subdomain": "acme"},
     {}, {"key": "k2"}),
])
def test_each_scheme_puts_the_secret_where_it_belongs(scheme: dict[str, Any], secret: dict[str, str],
                                                       headers: dict[str, str], query: dict[str, str]) -> None:
    credential = build_credential(ACCOUNT, AuthSchemeFile.model_validate(scheme), secret)
    assert credential.headers == headers and credential.query == query and credential.account_id == "ca_x"
    assert "k2" not in repr(credential) and "pw" not in repr(credential)
    if "subdomain" in secret:
        assert credential.fields == {"subdomain": "acme"}


def test_refresh_margin() -> None:
    now = time.time()
    assert not needs_refresh(None, None)
    assert needs_refresh(now + 30, now - 3570)
    assert not needs_refresh(now + 300, now - 3300)
    assert not needs_refresh(now + 1.5, now - 0.5), "a 2 s token is fresh for its first second"
    assert needs_refresh(now + 0.5, now - 1.5)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[LiveServer, OAuthServer]]:
    oauth = OAuthServer().start()
    api = ResourceApi(oauth.verify).start()
    kits = write_toolkits(tmp_path / "kits", oauth, api.url)
    server = LiveServer(tmp_path / "data", toolkit_paths=[kits]).start()
    yield server, oauth
    server.stop()
    api.stop()
    oauth.stop()


def test_auth_config_crud_and_session_selection(env: tuple[LiveServer, OAuthServer]) -> None:
    server, oauth = env
    made = server.api("POST", "/auth_configs", json={
        "toolkit": "acme", "name": "Acme (ours)", "scopes": ["profile", "email"],
        "credentials": {"client_id": oauth.client_id, "client_secret": oauth.client_secret}}).json()
    assert made["id"].startswith("ac_") and made["scopes"] == ["profile", "email"] and made["type"] == "custom"
    for body, needle in (({"toolkit": "acme", "auth_scheme": "basic"}, "auth_scheme: 'basic' is not one of"),
                         ({"toolkit": "acme", "scopez": []}, "did you mean 'scopes'"),
                         ({"toolkit": "nope"}, "toolkit: 'nope' is not one of"),
                         ({"toolkit": "acme", "scopes": ["profile", ""]}, "'' is not an OAuth scope")):
        response = server.api("POST", "/auth_configs", json=body)
        assert response.status_code in (400, 404) and needle in response.json()["error"]["message"]
    patched = server.api("PATCH", f"/auth_configs/{made['id']}", json={"status": "DISABLED"}).json()
    assert patched["is_disabled"] is True
    session = server.create_session(toolkits=["acme"], auth_configs={"acme": made["id"]})
    refused = server.api("POST", f"/sessions/{session['id']}/authorize", json={"toolkit": "acme"})
    assert refused.status_code == 409 and "disabled" in refused.json()["error"]["message"]
    server.api("PATCH", f"/auth_configs/{made['id']}", json={"status": "ENABLED"})
    link = server.api("POST", f"/sessions/{session['id']}/authorize", json={"toolkit": "acme"}).json()
    account = server.api("GET", f"/connected_accounts/{link['connected_account_id']}").json()
    assert account["auth_config_id"] == made["id"]
    held = server.api("DELETE", f"/auth_configs/{made['id']}")  # by a link nobody finished: said so
    assert held.status_code == 409 and "1 connected account(s)" in held.text and "not finished" in held.text
    wrong = server.api("POST", "/sessions", json={"user_id": "u", "auth_configs": {"keyed": made["id"]}})
    assert wrong.status_code == 422 and "belongs to toolkit acme" in wrong.json()["error"]["message"]
    server.api("DELETE", f"/connected_accounts/{link['connected_account_id']}")
    assert server.api("DELETE", f"/auth_configs/{made['id']}").status_code == 204
    assert server.api("GET", f"/auth_configs/{made['id']}").status_code == 404


@pytest.mark.anyio
async def test_wait_for_connections(env: tuple[LiveServer, OAuthServer]) -> None:
    server, _ = env
    session = server.create_session(toolkits=["keyed", "math"],
                                    manage_connections={"wait_for_connections": True})
    async with Client(session["mcp"]["url"]) as client:
        assert "COMPOSIO_WAIT_FOR_CONNECTIONS" in {t.name for t in (await client.list_tools()).tools}
        none_yet = await call(client, "COMPOSIO_WAIT_FOR_CONNECTIONS", {"toolkits": ["keyed", "math"],
                                                                        "timeout_seconds": 1})
        assert none_yet["data"]["results"]["keyed"]["status"] == "NOT_FOUND"
        assert none_yet["data"]["results"]["math"]["status"] == "ACTIVE"
        link = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS", {"toolkits": ["keyed"]}))["data"]["results"]
        waiting = await call(client, "COMPOSIO_WAIT_FOR_CONNECTIONS", {"toolkits": ["keyed"], "timeout_seconds": 1})
        assert waiting["data"]["results"]["keyed"]["status"] == "INITIATED" and waiting["data"]["timed_out"]
        assert submit_key_form(link["keyed"]["redirect_url"], api_key="sk_wait_0123456789").status_code == 200
        done = await call(client, "COMPOSIO_WAIT_FOR_CONNECTIONS", {"toolkits": ["keyed"], "mode": "any"})
        assert done["data"]["results"]["keyed"]["status"] == "ACTIVE" and done["data"]["completed"]
    plain = server.create_session(toolkits=["keyed"])
    async with Client(plain["mcp"]["url"]) as client:
        assert "COMPOSIO_WAIT_FOR_CONNECTIONS" not in {t.name for t in (await client.list_tools()).tools}
