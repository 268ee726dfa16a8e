"""Issue 3 must-shows 3, 4, 5: API-key Connect form, isolation between users, secrets at rest."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from mcp import Client

from tests.auth_fixtures import ResourceApi, follow_oauth_link, hidden_fields, submit_key_form, write_toolkits
from tests.live import LiveServer
from tests.mcp_helpers import call
from tests.oauth_server import OAuthServer
from tests.postgres import both_backends, dump_database

pytestmark = pytest.mark.anyio
KEY_A, KEY_B, KEY_WORK = "sk_live_alice_0123456789abcdef", "sk_live_bob_fedcba9876543210", "sk_live_work_55555555"


TEST_SIDE_LOGGERS = ("authlib.oauth2.rfc6749", "authlib.integrations.flask", "werkzeug")


class Records(logging.Handler):
    """Every log line Concierge writes at any level (the test's own OAuth server's lines excluded)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(TEST_SIDE_LOGGERS):
            self.lines.append(self.format(record))


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, Any]]:
    records = Records()
    root = logging.getLogger()
    level = root.level
    root.addHandler(records)
    root.setLevel(logging.DEBUG)
    oauth = OAuthServer().start()
    api = ResourceApi(oauth.verify).start()
    kits = write_toolkits(tmp_path / "kits", oauth, api.url)
    server = LiveServer(tmp_path / "data", toolkit_paths=[kits], oauth_apps={
        "acme": {"client_id": oauth.client_id, "client_secret": oauth.client_secret}}).start()
    try:
        yield {"server": server, "oauth": oauth, "api": api, "records": records, "kits": kits}
    finally:
        server.stop()
        api.stop()
        oauth.stop()
        root.removeHandler(records)
        root.setLevel(level)


def connect_key(server: LiveServer, session: dict[str, Any], key: str, alias: str | None = None) -> str:
    body = {"toolkit": "keyed"} | ({"alias": alias} if alias else {})
    made = server.api("POST", f"/sessions/{session['id']}/authorize", json=body)
    assert made.status_code == 201, made.text
    done = submit_key_form(made.json()["redirect_url"], api_key=key)
    assert done.status_code == 200 and "connected" in done.text.lower(), done.text
    return made.json()["connected_account_id"]


async def key_seen(url: str, account: str | None = None) -> dict[str, Any]:
    async with Client(url) as client:
        call_ = {"tool_slug": "KEYED_WHOAMI", "arguments": {}} | ({"account": account} if account else {})
        return await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [call_]})


@both_backends
async def test_api_key_form_then_tool_sends_the_key(env: dict[str, Any]) -> None:
    server: LiveServer = env["server"]
    session = server.create_session(user_id="alice", toolkits=["keyed"])
    made = server.api("POST", f"/sessions/{session['id']}/authorize", json={"toolkit": "keyed"}).json()
    empty = submit_key_form(made["redirect_url"], api_key="  ")
    assert empty.status_code == 400 and "API key is required" in empty.text
    assert server.api("GET", f"/connected_accounts/{made['connected_account_id']}").json()["status"] == "INITIATED"
    done = submit_key_form(made["redirect_url"], api_key=KEY_A)
    assert done.status_code == 200
    account = server.api("GET", f"/connected_accounts/{made['connected_account_id']}").json()
    assert account["status"] == "ACTIVE" and account["credential_preview"] == "sk_l…def"
    result = await key_seen(session["mcp"]["url"])
    assert result["data"]["results"][0]["response"]["data"]["key_seen"] == KEY_A
    import httpx

    replay = httpx.get(made["redirect_url"])
    assert replay.status_code == 410 and "already used" in replay.text


async def test_form_with_forged_state_is_refused(env: dict[str, Any]) -> None:
    import httpx

    server: LiveServer = env["server"]
    session = server.create_session(user_id="alice", toolkits=["keyed"])
    made = server.api("POST", f"/sessions/{session['id']}/authorize", json={"toolkit": "keyed"}).json()
    async with httpx.AsyncClient(timeout=30) as browser:  # the page's own CSRF token, a forged form state
        hidden = hidden_fields((await browser.get(made["redirect_url"])).text)
        forged = await browser.post(made["redirect_url"], data={**hidden, "state": "forged", "api_key": KEY_A})
    assert forged.status_code == 400 and "tampered" in forged.text
    no_csrf = httpx.post(made["redirect_url"], data={"state": hidden["state"], "api_key": KEY_A})
    assert no_csrf.status_code == 403 and "Nothing was changed" in no_csrf.text
    assert server.api("GET", f"/connected_accounts/{made['connected_account_id']}").json()["status"] == "INITIATED"


async def test_users_are_isolated(env: dict[str, Any]) -> None:
    server: LiveServer = env["server"]
    a = server.create_session(user_id="alice", toolkits=["keyed"], multi_account={"enable": True})
    b = server.create_session(user_id="bob", toolkits=["keyed"])
    b_account = connect_key(server, b, KEY_B)

    listed = server.api("GET", f"/sessions/{a['id']}/connected_accounts").json()["items"]
    assert listed == []
    assert server.api("POST", f"/sessions/{a['id']}/connected_accounts/{b_account}/revoke").status_code == 404
    pinned = server.api("PATCH", f"/sessions/{a['id']}", json={"connected_accounts": {"keyed": b_account}})
    assert pinned.status_code == 403 and "not an account of user 'alice'" in pinned.json()["error"]["message"]
    created = server.api("POST", "/sessions", json={"user_id": "alice", "connected_accounts": {"keyed": b_account}})
    assert created.status_code == 403

    used = await key_seen(a["mcp"]["url"], account=b_account)
    assert not used["successful"] and "no keyed account" in used["data"]["results"][0]["error"]
    plain = await key_seen(a["mcp"]["url"])
    assert plain["data"]["results"][0]["response"]["error_details"]["code"] == "connection_required"
    assert server.api("GET", f"/connected_accounts/{b_account}").json()["status"] == "ACTIVE"
    mine = await key_seen(b["mcp"]["url"])
    assert mine["data"]["results"][0]["response"]["data"]["key_seen"] == KEY_B


@both_backends
async def test_two_accounts_of_one_user_selected_by_id_and_alias(env: dict[str, Any]) -> None:
    server: LiveServer = env["server"]
    s = server.create_session(user_id="alice", toolkits=["keyed"], multi_account={"enable": True})
    personal = connect_key(server, s, KEY_A, alias="personal")
    work = connect_key(server, s, KEY_WORK, alias="work")
    dup = server.api("POST", f"/sessions/{s['id']}/authorize", json={"toolkit": "keyed", "alias": "work"})
    assert dup.status_code == 409 and "alias" in dup.json()["error"]["message"]

    def seen(result: dict[str, Any]) -> str:
        return result["data"]["results"][0]["response"]["data"]["key_seen"]

    assert seen(await key_seen(s["mcp"]["url"], account="personal")) == KEY_A
    assert seen(await key_seen(s["mcp"]["url"], account=work)) == KEY_WORK
    assert seen(await key_seen(s["mcp"]["url"])) == KEY_WORK, "most recently connected wins by default"
    pinned = server.api("PATCH", f"/sessions/{s['id']}", json={"connected_accounts": {"keyed": personal}})
    assert pinned.status_code == 200
    assert seen(await key_seen(s["mcp"]["url"])) == KEY_A

    strict = server.create_session(user_id="alice", toolkits=["keyed"],
                                   multi_account={"enable": True, "require_explicit_selection": True})
    refused = await key_seen(strict["mcp"]["url"])
    assert "pass `account`" in refused["data"]["results"][0]["error"]
    async with Client(strict["mcp"]["url"]) as client:
        found = await call(client, "COMPOSIO_SEARCH_TOOLS", {"queries": [{"use_case": "check which key keyed sees"}]})
    accounts = found["data"]["toolkit_connection_statuses"][0]["connection_details"]["accounts"]
    assert {a["alias"] for a in accounts} == {"personal", "work"}


@both_backends
async def test_secrets_never_at_rest_in_clear_nor_logged_nor_returned(env: dict[str, Any]) -> None:
    server: LiveServer = env["server"]
    oauth: OAuthServer = env["oauth"]
    session = server.create_session(user_id="alice", toolkits=["keyed", "acme"])
    key_account = connect_key(server, session, KEY_A)
    client_secret = "cs_custom_app_secret_9876543210"
    config = server.api("POST", "/auth_configs", json={
        "toolkit": "acme", "credentials": {"client_id": oauth.client_id, "client_secret": client_secret}})
    assert config.status_code == 201 and client_secret not in config.text
    async with Client(session["mcp"]["url"]) as client:
        link = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS", {"toolkits": ["acme"]}))["data"]["results"]["acme"]
        assert follow_oauth_link(link["redirect_url"]).status_code == 200
        assert (await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL",
                           {"tools": [{"tool_slug": "ACME_WHOAMI", "arguments": {}}]}))["successful"]
    secrets = [KEY_A, client_secret, oauth.client_secret, *oauth.issued]
    assert len(secrets) >= 4
    responses = [server.api("GET", f"/connected_accounts/{key_account}").text,
                 server.api("GET", "/connected_accounts", params={"user_id": "alice"}).text,
                 server.api("GET", "/auth_configs").text, server.api("GET", f"/sessions/{session['id']}").text]
    server.stop()
    database_url = server.overrides.get("database_url")
    stored = (dump_database(database_url) if database_url
              else b"".join(p.read_bytes() for p in (server.data_dir).glob("concierge.db*")))
    logged = "\n".join(env["records"].lines)
    for secret in secrets:
        assert secret.encode() not in stored, "a secret is stored in clear"
        assert secret not in logged, "a secret was logged"
        assert all(secret not in text for text in responses), "a secret was returned by the API"
    assert (server.data_dir / "secret.key").stat().st_mode & 0o777 == 0o600

    refused = subprocess.run([sys.executable, "-m", "server.cli", "serve", "--data-dir", str(server.data_dir),
                              "--port", "0"], capture_output=True, text=True, timeout=60,
                             env={**os.environ, "CONCIERGE_SEARCH__SEMANTIC": "off",
                                  "CONCIERGE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
                                  **({"CONCIERGE_DATABASE_URL": database_url} if database_url else {})})
    assert refused.returncode == 2 and "encryption key does not match" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) <= 2


@both_backends
async def test_revoke_and_disable(env: dict[str, Any]) -> None:
    server: LiveServer = env["server"]
    session = server.create_session(user_id="alice", toolkits=["keyed"])
    account = connect_key(server, session, KEY_A)
    assert server.api("POST", f"/connected_accounts/{account}/disable").json()["is_disabled"] is True
    assert server.api("POST", f"/connected_accounts/{account}/disable").json()["is_disabled"] is True  # no event
    blocked = await key_seen(session["mcp"]["url"])
    assert blocked["data"]["results"][0]["response"]["error_details"]["code"] == "connection_required"
    assert server.api("POST", f"/connected_accounts/{account}/enable").json()["is_disabled"] is False
    assert (await key_seen(session["mcp"]["url"]))["successful"]
    revoked = server.api("POST", f"/sessions/{session['id']}/connected_accounts/{account}/revoke").json()
    assert revoked["account"]["status"] == "REVOKED" and revoked["account"]["credential_preview"] is None
    assert not (await key_seen(session["mcp"]["url"]))["successful"]
    again = server.api("POST", f"/connected_accounts/{account}/enable")
    assert again.status_code == 409 and "was revoked" in again.json()["error"]["message"]
    events = [e["event"] for e in server.api("GET", f"/connected_accounts/{account}/events").json()["items"]]
    assert events == ["initiated", "activated", "disabled", "enabled", "revoked"]
