"""`concierge db copy`: a real server's SQLite data to PostgreSQL and back, through the CLI; a server on
each copy serves the same sessions and accounts, and decrypts the stored credentials."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from server.store import open_store, sqlite_url
from server.store.sql.migrations import TABLES
from tests.auth_fixtures import ResourceApi, submit_key_form, write_toolkits
from tests.live import LiveServer
from tests.mcp_helpers import call
from tests.oauth_server import OAuthServer
from tests.postgres import new_database

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]
KEY = "sk_live_copy_0123456789abcdef"


def db_copy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server.cli", "db", "copy", *args], capture_output=True, text=True,
                          timeout=120, env=os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])})


@pytest.fixture
def kits(tmp_path: Path) -> Iterator[Path]:
    oauth = OAuthServer().start()
    api = ResourceApi(oauth.verify).start()
    try:
        yield write_toolkits(tmp_path / "kits", oauth, api.url)
    finally:
        api.stop()
        oauth.stop()


async def key_seen(server: LiveServer, session_id: str) -> Any:
    async with Client(f"{server.url}/mcp/{session_id}") as client:
        done = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL",
                          {"tools": [{"tool_slug": "KEYED_WHOAMI", "arguments": {}}]})
    return done["data"]["results"][0]["response"]


def same_data(server: LiveServer, session_id: str, account_id: str, log_id: str) -> None:
    session = server.api("GET", f"/sessions/{session_id}").json()
    assert session["user_id"] == "alice" and session["config_version"] == 2
    account = server.api("GET", f"/connected_accounts/{account_id}").json()
    assert account["status"] == "ACTIVE" and account["credential_preview"] == "sk_l…def"
    assert server.api("GET", f"/executions/{log_id}").json()["tool_slug"] == "KEYED_WHOAMI"


async def test_sqlite_to_postgres_and_back(tmp_path: Path, kits: Path) -> None:
    source = LiveServer(tmp_path / "a", toolkit_paths=[kits]).start()
    session = source.create_session(user_id="alice", toolkits=["keyed"])
    assert source.api("PATCH", f"/sessions/{session['id']}", json={"toolkits": ["keyed", "math"],
                                                                   "expected_config_version": 1}).status_code == 200
    made = source.api("POST", f"/sessions/{session['id']}/authorize", json={"toolkit": "keyed"}).json()
    assert submit_key_form(made["redirect_url"], api_key=KEY).status_code == 200
    first = await key_seen(source, session["id"])
    assert first["data"]["key_seen"] == KEY
    source.stop()

    postgres = new_database()
    forward = db_copy("--from", sqlite_url(tmp_path / "a" / "concierge.db"), "--to", postgres)
    assert forward.returncode == 0, forward.stderr
    lines = forward.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[1:-1]] == list(TABLES), "one progress line per table, in order"
    assert "sessions: 1 rows" in lines and "connected_accounts: 1 rows" in lines and "executions: 1 rows" in lines
    assert lines[-1].startswith("verified: ")

    typo = tmp_path / "typo" / "concierge.db"
    missing = db_copy("--from", sqlite_url(typo), "--to", postgres, "--force")
    assert missing.returncode == 2 and f"there is no database at {typo}" in missing.stderr
    assert not typo.parent.exists(), "nothing is created where the source was expected"
    empty = new_database()
    refused = db_copy("--from", empty, "--to", postgres, "--force")
    assert refused.returncode == 2 and "holds no rows; nothing to copy" in refused.stderr
    wrong = db_copy("--from", "mysql://db/concierge", "--to", postgres)
    assert wrong.returncode == 2 and "unsupported database URL scheme 'mysql'" in wrong.stderr
    again = db_copy("--from", sqlite_url(tmp_path / "a" / "concierge.db"), "--to", postgres)
    assert again.returncode == 2 and "already holds rows" in again.stderr and "--force" in again.stderr

    back = sqlite_url(tmp_path / "b" / "concierge.db")
    (tmp_path / "b").mkdir()
    assert db_copy("--from", postgres, "--to", back).returncode == 0
    assert db_copy("--from", postgres, "--to", back, "--force").returncode == 0, "--force replaces the rows"

    for data_dir, overrides in ((tmp_path / "on-pg", {"database_url": postgres}), (tmp_path / "b", {})):
        data_dir.mkdir(exist_ok=True)
        shutil.copy(tmp_path / "a" / "secret.key", data_dir / "secret.key")  # the key the secrets are sealed with
        copy = LiveServer(data_dir, toolkit_paths=[kits], **overrides).start()
        try:
            same_data(copy, session["id"], made["connected_account_id"], first["log_id"])
            assert (await key_seen(copy, session["id"]))["data"]["key_seen"] == KEY, "the credential decrypts"
        finally:
            copy.stop()
    for url in (postgres, back):
        store = await open_store(url)
        try:
            history = await store.sessions.history(session["id"])
            assert [h["config_version"] for h in history] == [1, 2], "history copied, not rewritten by triggers"
            assert await store.integrity_problems() == []
        finally:
            await store.aclose()
