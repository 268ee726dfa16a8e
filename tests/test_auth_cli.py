"""Issue 3: `concierge connect`, `accounts`, `auth-configs`, and key rotation end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from mcp import Client

from tests.auth_fixtures import ResourceApi, submit_key_form, write_toolkits
from tests.live import LiveServer
from tests.mcp_helpers import call
from tests.oauth_server import OAuthServer
from tests.test_cli import concierge

pytestmark = pytest.mark.anyio


async def test_cli_connect_accounts_and_key_rotation(tmp_path: Path) -> None:
    oauth = OAuthServer().start()
    api = ResourceApi(oauth.verify).start()
    kits = write_toolkits(tmp_path / "kits", oauth, api.url)
    server = LiveServer(tmp_path / "data", toolkit_paths=[kits]).start()
    try:
        env = {"CONCIERGE_BASE_URL": server.url, "CONCIERGE_API_KEY": server.headers["Authorization"][7:]}
        printed = concierge("connect", "keyed", "--user-id", "alice", "--alias", "main", env=env)
        assert printed.returncode == 0, printed.stderr
        link = printed.stdout.strip().splitlines()[-1]
        assert link.startswith(f"{server.url}/connect/")
        assert submit_key_form(link, api_key="sk_cli_0123456789abcdef").status_code == 200
        listed = json.loads(concierge("accounts", "list", "--user-id", "alice", "--json", env=env).stdout)
        assert [(a["status"], a["alias"]) for a in listed] == [("ACTIVE", "main")]
        account = listed[0]["id"]
        shown = json.loads(concierge("accounts", "show", account, "--json", env=env).stdout)
        assert [e["event"] for e in shown["events"]] == ["initiated", "activated"]
        assert "sk_cli_0123456789abcdef" not in json.dumps(shown)
        assert json.loads(concierge("accounts", "disable", account, "--json", env=env).stdout)["is_disabled"]
        assert not json.loads(concierge("accounts", "enable", account, "--json", env=env).stdout)["is_disabled"]
        made = concierge("auth-configs", "create", "--toolkit", "acme", "--client-id", "cid", "--json",
                         env={**env, "CONCIERGE_CLIENT_SECRET": "cs_from_env_0123"})
        assert made.returncode == 0 and "cs_from_env_0123" not in made.stdout
        assert json.loads(made.stdout)["has_app_credentials"] is True
        configs = json.loads(concierge("auth-configs", "list", "--toolkit", "acme", "--json", env=env).stdout)
        assert [c["type"] for c in configs] == ["custom"]
        session = server.create_session(user_id="alice", toolkits=["keyed"])
    finally:
        server.stop()

    data = tmp_path / "data"
    old = (data / "secret.key").read_text().strip()
    new = Fernet.generate_key().decode()
    rotated = concierge("keys", "rotate", "--data-dir", str(data), env={"CONCIERGE_ENCRYPTION_KEY": f"{new},{old}"})
    assert rotated.returncode == 0 and "re-encrypted" in rotated.stdout, rotated.stderr
    restarted = LiveServer(data, toolkit_paths=[kits], encryption_key=new)
    restarted.port = server.port
    restarted.start()
    try:
        async with Client(session["mcp"]["url"]) as client:
            result = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL",
                                {"tools": [{"tool_slug": "KEYED_WHOAMI", "arguments": {}}]})
        assert result["data"]["results"][0]["response"]["data"]["key_seen"] == "sk_cli_0123456789abcdef"
    finally:
        restarted.stop()
        api.stop()
        oauth.stop()
    stale = concierge("keys", "rotate", "--data-dir", str(data), env={"CONCIERGE_ENCRYPTION_KEY": old})
    assert stale.returncode == 2 and "cannot be decrypted" in stale.stderr
