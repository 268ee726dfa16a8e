"""Issue 16, smaller HTTP/MCP defects: each test failed before its fix (OAuth link expiry, Origin guard,
JSON-RPC ids, OpenAPI agreement, shutdown grace)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.auth import connect_flow
from tests.auth_fixtures import ResourceApi, follow_oauth_link, start_oauth, write_toolkits
from tests.live import API_KEY, LiveServer, free_socket
from tests.mcp_helpers import initialize_body, raw_post
from tests.oauth_server import OAuthServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def oauth_server(tmp_path: Path) -> Iterator[LiveServer]:
    oauth = OAuthServer(access_token_lifetime=3600).start()
    api = ResourceApi(oauth.verify).start()
    kits = write_toolkits(tmp_path / "kits", oauth, api.url)
    server = LiveServer(tmp_path / "data", toolkit_paths=[kits], oauth_apps={
        "acme": {"client_id": oauth.client_id, "client_secret": oauth.client_secret}}).start()
    yield server
    server.stop()
    api.stop()
    oauth.stop()


def test_an_opened_oauth_link_expires(oauth_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening the link used to stop its clock: a provider answer arriving days later still connected."""
    session = oauth_server.create_session(user_id="alice", toolkits=["acme"])
    link = oauth_server.api("POST", f"/sessions/{session['id']}/authorize", json={"toolkit": "acme"}).json()
    opened = start_oauth(link["redirect_url"])
    assert opened.status_code == 303, opened.text
    at_provider = httpx.get(opened.headers["location"], timeout=30)
    assert at_provider.status_code in (302, 303) and "code=" in at_provider.headers["location"]
    later = time.time() + connect_flow.OPENED_GRACE_SECONDS + 3600
    monkeypatch.setattr(connect_flow, "now", lambda: later)
    answer = httpx.get(at_provider.headers["location"], timeout=30)
    assert answer.status_code == 410 and "expired" in answer.text
    account = oauth_server.api("GET", f"/connected_accounts/{link['connected_account_id']}").json()
    assert account["status"] == "EXPIRED" and account["credential_preview"] is None


def test_an_opened_oauth_link_still_completes_within_its_window(oauth_server: LiveServer) -> None:
    session = oauth_server.create_session(user_id="bob", toolkits=["acme"])
    link = oauth_server.api("POST", f"/sessions/{session['id']}/authorize", json={"toolkit": "acme"}).json()
    page = follow_oauth_link(link["redirect_url"])
    assert page.status_code == 200 and "connected" in page.text.lower()


def test_origin_must_be_the_servers_own(server: LiveServer) -> None:
    url = f"{server.url}/mcp/{server.create_session()['id']}"
    for foreign in ("http://localhost:3000", "http://127.0.0.1:1", "https://evil.example", "null"):
        refused = raw_post(url, initialize_body(), {"Origin": foreign})
        assert refused.status_code == 403, foreign
        assert refused.json()["error"]["code"] == -32602 and "allowed_origins" in refused.json()["error"]["message"]
    for own in (server.url, f"http://localhost:{server.port}"):
        assert raw_post(url, initialize_body(), {"Origin": own}).status_code == 200, own
    assert raw_post(url, initialize_body()).status_code == 200, "no Origin (a non-browser client) is fine"


def test_configured_origins_are_accepted(tmp_path: Path) -> None:
    live = LiveServer(tmp_path / "data", allowed_origins=["https://app.example.com"]).start()
    try:
        url = f"{live.url}/mcp/{live.create_session()['id']}"
        assert raw_post(url, initialize_body(), {"Origin": "https://app.example.com"}).status_code == 200
        assert raw_post(url, initialize_body(), {"Origin": "https://other.example.com"}).status_code == 403
    finally:
        live.stop()


@pytest.mark.parametrize("bad_id", [{"a": 1}, [1], 1.5, True, None])
def test_invalid_jsonrpc_ids_get_an_error_not_a_silent_202(server: LiveServer, bad_id: object) -> None:
    url = f"{server.url}/mcp/{server.create_session()['id']}"
    answer = raw_post(url, json.dumps({"jsonrpc": "2.0", "id": bad_id, "method": "tools/list"}))
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["error"]["code"] == -32600 and '"id"' in body["error"]["message"] and body["id"] is None


def test_notifications_without_id_are_still_accepted(server: LiveServer) -> None:
    url = f"{server.url}/mcp/{server.create_session()['id']}"
    answer = raw_post(url, json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
    assert answer.status_code == 202


def test_patch_without_a_body_is_refused(server: LiveServer) -> None:
    session = server.create_session()
    answer = server.api("PATCH", f"/sessions/{session['id']}")
    assert answer.status_code == 400 and "body is required" in answer.json()["error"]["message"]
    assert server.api("GET", f"/sessions/{session['id']}").json()["config_version"] == session["config_version"]


def test_wrong_method_lists_every_allowed_one_as_json(server: LiveServer) -> None:
    document = httpx.get(f"{server.url}/api/v1/openapi.json", timeout=30).json()
    for path, operations in document["paths"].items():
        concrete = path.replace("{", "x").replace("}", "")
        answer = httpx.request("OPTIONS", server.url + concrete, headers=server.headers, timeout=30)
        assert answer.status_code == 405, path
        allowed = {m.strip() for m in answer.headers["allow"].split(",")} - {"HEAD"}
        assert allowed == {m.upper() for m in operations}, path
        assert answer.json()["error"]["code"] == "method_not_allowed"


def test_unknown_paths_answer_json(server: LiveServer) -> None:
    for path in ("/api/v1/nope", "/api/v1/sessions/a/b/c/d", "/api/v1/connected_accounts/%0A/revoke", "/nothing"):
        answer = httpx.post(server.url + path, headers=server.headers, timeout=30)
        assert answer.status_code in (404, 405), path
        assert answer.headers["content-type"] == "application/json" and "error" in answer.json(), path
    for path in ("/mcp", "/mcp/"):  # a client given the server's address instead of a session's (or trimming it)
        answer = httpx.post(server.url + path, headers=server.headers, json={}, timeout=30)
        assert answer.status_code == 404, path
        assert "/mcp/<session_id>" in answer.json()["error"]["message"], answer.text


def test_documented_query_parameters_match_the_server(server: LiveServer) -> None:
    document = httpx.get(f"{server.url}/api/v1/openapi.json", timeout=30).json()
    params = {p["name"]: p for p in document["paths"]["/api/v1/sessions"]["get"]["parameters"]}
    assert params["user_id"]["required"] is True
    assert server.api("GET", "/sessions").status_code == 400
    assert server.api("GET", "/sessions", params={"user_id": "u", "limit": 0}).status_code == 400
    assert server.api("GET", "/tools", params={"limit": -1}).status_code == 400
    toolkit = document["components"]["schemas"]["LinkRequest"]["properties"]["toolkit"]
    assert "datetime" not in toolkit.get("enum", []), "toolkits that need no connection are not offered"


def _serve(tmp_path: Path, port: int, grace: float) -> subprocess.Popen[str]:
    config = tmp_path / "concierge.toml"
    config.write_text(f'shutdown_grace_seconds = {grace}\napi_key = "{API_KEY}"\n[search]\nsemantic = "off"\n'
                      '[workbench]\nenable = false\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--config", str(config), "--port", str(port),
                             "--data-dir", str(tmp_path / "data")], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _wait_ready(url: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not become ready")


def test_shutdown_waits_at_most_the_grace_period(tmp_path: Path) -> None:
    """A request that never finishes (here: a body that never ends) used to hold SIGTERM forever."""
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    proc = _serve(tmp_path, port, grace=1)
    try:
        _wait_ready(f"http://127.0.0.1:{port}", proc)
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(f"POST /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {API_KEY}"
                     "\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"user_id\"".encode())
        time.sleep(0.5)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        assert time.monotonic() - started < 10
        slow.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
