"""Observability (issue 16): JSON logs with request and session ids and no secret in them after a run
through every error path; /healthz and /readyz; Prometheus metrics at /metrics."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client

from server.observability.scrub import scrub
from tests.auth_fixtures import ResourceApi, hidden_fields, start_oauth, write_toolkits
from tests.live import API_KEY, LiveServer, free_socket
from tests.mcp_helpers import initialize_body, raw_post
from tests.oauth_server import OAuthServer
from tests.test_auth_oauth import WHOAMI, World

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("text", "secret"), [
    ("GET /api/v1/auth/callback?code=SplxlOBeZQQYbYS6WxSbIA&state=af0ifjsldkj", "SplxlOBeZQQYbYS6WxSbIA"),
    ("GET /api/v1/auth/callback?code=SplxlOBeZQQYbYS6WxSbIA&state=af0ifjsldkj", "af0ifjsldkj"),
    ("HTTP Request: GET http://h/keyed?key=QuErYsEcReT123 \"HTTP/1.1 200 OK\"", "QuErYsEcReT123"),
    ("POST body client_id=abc&client_secret=s3cr3t-value&grant_type=refresh_token", "s3cr3t-value"),
    ('{"access_token": "gho_16C7e42F292c6912E7710c838347Ae178B4a", "token_type": "bearer"}',
     "gho_16C7e42F292c6912E7710c838347Ae178B4a"),
    ("{'refresh_token': 'r1.abcdefghijkl', 'x': 1}", "r1.abcdefghijkl"),
    ("headers: Authorization: Bearer ck_abcdefghijklmnop0123", "ck_abcdefghijklmnop0123"),
    ("x-api-key: whatever-key-here", "whatever-key-here"),
    ("open http://127.0.0.1:8000/connect/Zm9vYmFyYmF6cXV4cXV1eGZvb2Jhcg now", "Zm9vYmFyYmF6cXV4cXV1eGZvb2Jhcg"),
    ("ValueError: bad token ya29.a0AfH6SMBxyzxyzxyzxyz", "ya29.a0AfH6SMBxyzxyzxyzxyz"),
    ('{"message": "{\\"password\\": \\"hunter2hunter2\\"}"}', "hunter2hunter2"),
])
def test_scrub_removes_secrets(text: str, secret: str) -> None:
    assert secret not in scrub(text)


def test_scrub_keeps_ordinary_text() -> None:
    line = "GET /api/v1/sessions/sess_abc/tools 200 in 3.1 ms; toolkit=github; status=ACTIVE"
    assert scrub(line) == line


def _write_query_key_toolkit(root: Path, api_url: str) -> None:
    (root / "querykey").mkdir(parents=True)
    (root / "querykey" / "toolkit.yaml").write_text(f"""
slug: querykey
name: Query key
description: A test service that takes its API key in the query string.
base_url: {api_url}
auth_schemes:
  - type: api_key
    api_key_in: query
    api_key_name: key
tools:
  - slug: QUERYKEY_WHOAMI
    name: Key check
    description: Return which API key the service received.
    tags: [readOnlyHint]
    input_schema: {{type: object, properties: {{}}}}
    http: {{method: GET, path: /keyed}}
""")


class JsonLogServer:
    """`concierge serve` as a subprocess with JSON logs to a file (what an operator would run)."""

    def __init__(self, tmp: Path, oauth: OAuthServer, api: ResourceApi) -> None:
        kits = write_toolkits(tmp / "kits", oauth, api.url)
        _write_query_key_toolkit(kits, api.url)
        sock = free_socket()
        self.port = sock.getsockname()[1]
        sock.close()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / "server.log"
        config = tmp / "concierge.toml"
        config.write_text(f'api_key = "{API_KEY}"\nlog_format = "json"\nlog_level = "debug"\n'
                          f'mcp_session_tokens = true\ntoolkit_paths = ["{kits}"]\n[search]\nsemantic = "off"\n'
                          f'[workbench]\nenable = false\n[oauth_apps.acme]\nclient_id = "{oauth.client_id}"\n'
                          f'client_secret = "{oauth.client_secret}"\n')
        self.log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--config", str(config), "--port", str(self.port),
             "--data-dir", str(tmp / "data")], env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None and time.monotonic() < deadline, self.log_path.read_text()
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)

    def api(self, method: str, path: str, key: str = API_KEY, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"{self.url}/api/v1{path}", headers={"x-api-key": key}, timeout=30, **kwargs)

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        self.log.close()
        return self.log_path.read_text()


@pytest.fixture
def json_server(tmp_path: Path) -> Iterator[tuple[JsonLogServer, OAuthServer]]:
    oauth = OAuthServer(access_token_lifetime=3600).start()
    api = ResourceApi(oauth.verify).start()
    server = JsonLogServer(tmp_path, oauth, api)
    yield server, oauth
    if server.proc.poll() is None:
        server.stop()
    api.stop()
    oauth.stop()


def _drive_every_error_path(server: JsonLogServer, oauth: OAuthServer) -> list[str]:
    """Returns every secret that went over the wire."""
    used = [API_KEY, oauth.client_secret]
    wrong_key = "ck_" + secrets.token_urlsafe(24)
    used.append(wrong_key)
    assert server.api("GET", "/toolkits", key=wrong_key).status_code == 401
    httpx.get(f"{server.url}/api/v1/toolkits", headers={"Authorization": f"Bearer {wrong_key}"}, timeout=30)
    # an auth config whose client secret the server must never echo or log, on good and bad paths
    app_secret = "cs_" + secrets.token_urlsafe(24)
    used.append(app_secret)
    for toolkit in ("acme", "datetime", "nope"):
        server.api("POST", "/auth_configs", json={"toolkit": toolkit, "credentials": {
            "client_id": "x", "client_secret": app_secret}})
    session = server.api("POST", "/sessions",
                         json={"user_id": "alice", "toolkits": ["acme", "keyed", "querykey"]}).json()
    bearer = session["mcp"]["headers"]["Authorization"]
    used.append(bearer.split()[1])
    # API-key form links: good submit, replay, unknown token
    for toolkit in ("keyed", "querykey"):
        link = server.api("POST", f"/sessions/{session['id']}/authorize", json={"toolkit": toolkit}).json()
        token = link["redirect_url"].rsplit("/", 1)[1]
        key = f"{toolkit}_" + secrets.token_urlsafe(24)
        used += [token, key]
        with httpx.Client(timeout=30) as browser:
            page = browser.get(link["redirect_url"])
            hidden = hidden_fields(page.text)
            used += list(hidden.values())
            assert browser.post(link["redirect_url"], data={**hidden, "api_key": key}).status_code == 200
            assert browser.post(link["redirect_url"], data={**hidden, "api_key": key}).status_code == 410
    unknown = secrets.token_urlsafe(32)
    used.append(unknown)
    assert httpx.get(f"{server.url}/connect/{unknown}", timeout=30).status_code == 404
    # OAuth: a full round trip, a replayed callback, a provider error with a forged state
    link = server.api("POST", f"/sessions/{session['id']}/authorize", json={"toolkit": "acme"}).json()
    used.append(link["redirect_url"].rsplit("/", 1)[1])
    to_provider = start_oauth(link["redirect_url"]).headers["location"]
    back = httpx.get(to_provider, timeout=30).headers["location"]
    query = dict(part.split("=", 1) for part in back.split("?", 1)[1].split("&"))
    used += [query["code"], query["state"]]
    assert httpx.get(back, timeout=30).status_code == 200
    assert httpx.get(back, timeout=30).status_code in (400, 410)
    httpx.get(f"{server.url}/api/v1/auth/callback?error=access_denied&state={secrets.token_urlsafe(16)}", timeout=30)
    # MCP: wrong bearer tokens, then tool calls that send the keys upstream and refresh the OAuth token
    wrong_bearer = "mt_" + secrets.token_urlsafe(32)
    used.append(wrong_bearer)
    assert raw_post(session["mcp"]["url"], initialize_body(), {"Authorization": f"Bearer {wrong_bearer}"}).status_code \
        == 401
    calls = {"tools": [{"tool_slug": s, "arguments": {}} for s in ("KEYED_WHOAMI", "QUERYKEY_WHOAMI", "ACME_WHOAMI")]}
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                       "params": {"name": "COMPOSIO_MULTI_EXECUTE_TOOL", "arguments": calls}})
    first = raw_post(session["mcp"]["url"], body, {"Authorization": bearer}).json()
    assert first["result"]["structuredContent"]["data"]["success_count"] == 3, first
    oauth.expire_all_access_tokens()
    raw_post(session["mcp"]["url"], body, {"Authorization": bearer})
    oauth.revoke_all_refresh_tokens()
    oauth.expire_all_access_tokens()
    raw_post(session["mcp"]["url"], body, {"Authorization": bearer})
    accounts = server.api("GET", f"/sessions/{session['id']}/connected_accounts").json()["items"]
    for account in accounts:
        server.api("POST", f"/connected_accounts/{account['id']}/revoke")
    return used


def test_json_logs_carry_ids_and_no_secret(json_server: tuple[JsonLogServer, OAuthServer]) -> None:
    server, oauth = json_server
    used = _drive_every_error_path(server, oauth)
    text = server.stop()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    plain = [line for line in text.splitlines() if line.strip() and not line.startswith("{")]
    assert len(lines) > 20 and all(line.startswith("Concierge listening on") for line in plain), plain
    access = [entry for entry in lines if entry["logger"] == "concierge.access"]
    assert access and all(re.match(r"^[A-Za-z0-9._-]+$", entry["request_id"]) for entry in access)
    assert any(entry.get("session_id", "").startswith("sess_") and entry["path"].startswith("/mcp/")
               for entry in access)
    assert any(entry.get("path") == "/connect/[redacted]" for entry in access), "link tokens were logged, scrubbed"
    leaked = [secret for secret in used if secret in text]
    assert leaked == [], f"secrets in the log: {leaked}"


def test_request_id_is_echoed(server: LiveServer) -> None:
    given = httpx.get(f"{server.url}/healthz", headers={"X-Request-Id": "trace-42"}, timeout=30)
    assert given.headers["x-request-id"] == "trace-42"
    made = httpx.get(f"{server.url}/healthz", headers={"X-Request-Id": "bad id\twith spaces"}, timeout=30)
    assert made.headers["x-request-id"].startswith("req_")


def test_health_and_readiness(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    assert httpx.get(f"{server.url}/healthz", timeout=30).json() == {"status": "ok"}
    ready = httpx.get(f"{server.url}/readyz", timeout=30)
    assert ready.status_code == 200 and ready.json()["checks"] == {"catalog": True, "database": True}
    runtime = server._server.config.app.state.api.runtime  # type: ignore[union-attr]

    async def broken(key: str) -> None:
        raise OSError("database is locked")

    monkeypatch.setattr(runtime.meta, "get", broken)
    not_ready = httpx.get(f"{server.url}/readyz", timeout=30)
    assert not_ready.status_code == 503 and not_ready.json()["checks"]["database"] is False
    assert httpx.get(f"{server.url}/healthz", timeout=30).status_code == 200, "alive, just not ready"


def _sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith((name + "{", name + " ")) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.anyio
async def test_metrics(tmp_path: Path) -> None:
    w = World(tmp_path, lifetime=3600)
    try:
        server = w.server
        assert httpx.get(f"{server.url}/metrics", timeout=30).status_code == 401, "admin key needed by default"
        session = server.create_session(user_id="m", toolkits=["acme", "math"])
        await w.connect(session["mcp"]["url"])
        async with Client(session["mcp"]["url"]) as client:
            await client.call_tool("COMPOSIO_SEARCH_TOOLS", {"queries": [{"use_case": "add numbers"}]})
            await client.call_tool("COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [
                {"tool_slug": "MATH_EVALUATE", "arguments": {"expression": "1+1"}},
                {"tool_slug": "MATH_EVALUATE", "arguments": {"expression": "1/"}}]})
            w.oauth.expire_all_access_tokens()
            await client.call_tool("COMPOSIO_MULTI_EXECUTE_TOOL", WHOAMI)
        await anyio.sleep(0.2)
        text = httpx.get(f"{server.url}/metrics", headers=server.headers, timeout=30).text
        assert _sample(text, "concierge_http_requests_total", route="/mcp/{session_id}", status="200") >= 3
        assert _sample(text, "concierge_meta_tool_duration_seconds_count", tool="COMPOSIO_SEARCH_TOOLS") == 1
        assert _sample(text, "concierge_meta_tool_duration_seconds_count", tool="COMPOSIO_MULTI_EXECUTE_TOOL") == 2
        assert _sample(text, "concierge_executions_total", status="success", source="mcp") >= 2
        statuses = set(re.findall(r'concierge_executions_total\{source="mcp",status="(\w+)"\}', text))
        assert "success" in statuses and len(statuses) >= 2, statuses
        assert _sample(text, "concierge_token_refreshes_total", outcome="ok") == 1
        assert "concierge_workbench_processes " in text
        assert "sess_" not in text, "one series per route template, not per session"
    finally:
        w.close()


def test_metrics_public_or_off(tmp_path: Path) -> None:
    for mode, status in (("public", 200), ("off", 404)):
        live = LiveServer(tmp_path / mode, metrics=mode).start()
        try:
            assert httpx.get(f"{live.url}/metrics", timeout=30).status_code == status
        finally:
            live.stop()
