"""#16 "Nothing acknowledged is lost": `kill -9` a real `concierge serve` under mixed load, 20 times.

Each cycle starts the server on the same data folder, runs sessions (create, update), tool calls over
REST and MCP, and API-key connections through the Connect form, kills the process at a random moment,
and, after the next start, checks every write the server had acknowledged: sessions and their config
versions, every returned `log_id`, every connected account. The database must pass SQLite's own
integrity check, no account may be ACTIVE without a credential, and no answer may be a 5xx.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.auth_fixtures import hidden_fields, write_keyed_toolkit
from tests.live import API_KEY, free_socket
from tests.mcp_helpers import JSONRPC_HEADERS

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]
CYCLES = 20
HEADERS = {"Authorization": f"Bearer {API_KEY}"}


@dataclass
class Acked:
    """Everything the server answered with success, so it must survive any crash after the answer."""

    sessions: dict[str, int] = field(default_factory=dict)  # id -> highest acknowledged config_version
    log_ids: list[str] = field(default_factory=list)
    accounts: dict[str, str] = field(default_factory=dict)  # id -> acknowledged status
    server_errors: list[str] = field(default_factory=list)
    answered: int = 0


class Server:
    def __init__(self, data_dir: Path, kits: Path) -> None:
        sock = free_socket()
        self.port = sock.getsockname()[1]
        sock.close()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cmd = [sys.executable, "-m", "server.cli", "serve", "--port", str(self.port),
                    "--data-dir", str(data_dir)]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CONCIERGE_")} | {
            "CONCIERGE_API_KEY": API_KEY, "CONCIERGE_SEARCH__SEMANTIC": "off", "CONCIERGE_LOG_LEVEL": "warning",
            "CONCIERGE_WORKBENCH__ENABLE": "false", "CONCIERGE_TOOLKIT_PATHS": json.dumps([str(kits)])}
        self.proc: subprocess.Popen[bytes] | None = None
        self.probe = httpx.Client(timeout=1)

    def start(self) -> None:
        self.proc = subprocess.Popen(self.cmd, env=self.env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "concierge serve exited on start"
            try:
                if self.probe.get(f"{self.url}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.02)
        raise AssertionError("concierge serve did not start within 60 s")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


def _check(response: httpx.Response, acked: Acked) -> bool:
    acked.answered += 1
    if response.status_code >= 500:
        acked.server_errors.append(f"{response.request.method} {response.request.url.path}: "
                                   f"{response.status_code} {response.text[:300]}")
    return response.status_code < 300


async def _sessions(http: httpx.AsyncClient, acked: Acked) -> None:
    while True:
        made = await http.post("/api/v1/sessions", json={"user_id": "crash_user", "toolkits": ["math", "keyed"]})
        if not _check(made, acked):
            continue
        sid = made.json()["id"]
        acked.sessions[sid] = 1
        for toolkits in (["math"], ["math", "text"]):
            changed = await http.patch(f"/api/v1/sessions/{sid}", json={"toolkits": toolkits})
            if _check(changed, acked):
                acked.sessions[sid] = max(acked.sessions[sid], changed.json()["config_version"])


def _multi_execute(a: int) -> dict[str, Any]:
    return {"tools": [{"tool_slug": "MATH_EVALUATE", "arguments": {"expression": f"{a} + 1"}},
                      {"tool_slug": "MATH_EVALUATE", "arguments": {"expression": f"{a} * 2"}}]}


def _log_ids(envelope: dict[str, Any]) -> list[str]:
    return [r["response"]["log_id"] for r in envelope["data"]["results"] if r.get("response")]


async def _rest_calls(http: httpx.AsyncClient, sid: str, acked: Acked) -> None:
    n = 0
    while True:
        n += 1
        answer = await http.post(f"/api/v1/sessions/{sid}/tools/COMPOSIO_MULTI_EXECUTE_TOOL",
                                 json={"arguments": _multi_execute(n)})
        if _check(answer, acked):
            assert answer.json()["successful"], answer.text
            acked.log_ids += _log_ids(answer.json())


async def _mcp_calls(http: httpx.AsyncClient, sid: str, acked: Acked) -> None:
    n = 0
    while True:
        n += 1
        body = {"jsonrpc": "2.0", "id": n, "method": "tools/call",
                "params": {"name": "COMPOSIO_MULTI_EXECUTE_TOOL", "arguments": _multi_execute(n)}}
        answer = await http.post(f"/mcp/{sid}", content=json.dumps(body), headers=JSONRPC_HEADERS)
        if _check(answer, acked):
            result = answer.json()["result"]
            assert not result.get("isError"), result
            acked.log_ids += _log_ids(result["structuredContent"])


async def _connections(http: httpx.AsyncClient, sid: str, acked: Acked) -> None:
    n = 0
    while True:
        n += 1
        made = await http.post(f"/api/v1/sessions/{sid}/authorize", json={"toolkit": "keyed"})
        if not _check(made, acked):
            continue
        account = made.json()["connected_account_id"]
        acked.accounts[account] = "INITIATED"
        page = await http.get(made.json()["redirect_url"])
        if not _check(page, acked):
            continue
        done = await http.post(made.json()["redirect_url"],  # the client keeps the page's CSRF cookie
                               data={**hidden_fields(page.text), "api_key": f"key-{n:08d}"})
        if _check(done, acked):
            acked.accounts[account] = "ACTIVE"


async def _load(url: str, pool: list[str], acked: Acked) -> None:
    """Runs the workers until the server dies under them (a dropped connection ends a worker)."""
    async def until_killed(worker: Any) -> None:
        try:
            await worker
        except httpx.TransportError:
            return

    async with httpx.AsyncClient(base_url=url, headers=HEADERS, timeout=30) as http:
        workers = [_sessions(http, acked), _connections(http, pool[0], acked)]
        workers += [_rest_calls(http, sid, acked) for sid in pool[:2]]
        workers += [_mcp_calls(http, sid, acked) for sid in pool[2:4]]
        await asyncio.wait_for(asyncio.gather(*(until_killed(w) for w in workers)), 60)


async def _verify(url: str, acked: Acked, db: Path, since: Acked | None = None) -> None:
    """Checks the acknowledged writes (only those newer than `since`, when given)."""
    sessions = {k: v for k, v in acked.sessions.items() if since is None or since.sessions.get(k) != v}
    log_ids = acked.log_ids[len(since.log_ids) if since else 0:]
    accounts = {k: v for k, v in acked.accounts.items() if since is None or since.accounts.get(k) != v}
    async with httpx.AsyncClient(base_url=url, headers=HEADERS, timeout=30) as http:
        for sid, version in sessions.items():
            got = await http.get(f"/api/v1/sessions/{sid}")
            assert got.status_code == 200, f"acknowledged session {sid} lost: {got.status_code}"
            assert got.json()["config_version"] >= version, (sid, got.json()["config_version"], version)
        missing = []
        for log_id in log_ids:
            got = await http.get(f"/api/v1/executions/{log_id}")
            if got.status_code != 200:
                missing.append((log_id, got.status_code))
        assert missing == [], f"{len(missing)} of {len(log_ids)} acknowledged executions missing"
        for account, status in accounts.items():
            got = await http.get(f"/api/v1/connected_accounts/{account}")
            assert got.status_code == 200, f"acknowledged account {account} lost"
            if status == "ACTIVE":
                assert got.json()["status"] == "ACTIVE", got.json()
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:  # test-only look at the file itself
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        half = conn.execute("SELECT COUNT(*) FROM connected_accounts WHERE status = 'ACTIVE' AND credential IS NULL")
        assert half.fetchone()[0] == 0


@pytest.mark.timeout(900)  # 21 server starts: ~1 minute on a quiet machine, several under heavy load
async def test_kill_9_under_mixed_load_loses_no_acknowledged_write(tmp_path: Path) -> None:
    kits = write_keyed_toolkit(tmp_path / "kits", "http://127.0.0.1:9")  # never called: only accounts are made
    server = Server(tmp_path / "data", kits)
    acked = Acked()
    rng = random.Random(16)
    server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, headers=HEADERS, timeout=30) as http:
            pool = []
            for _ in range(4):
                made = await http.post("/api/v1/sessions",
                                       json={"user_id": "crash_user", "toolkits": ["math", "keyed"]})
                assert made.status_code == 201
                pool.append(made.json()["id"])
                acked.sessions[pool[-1]] = 1
        for _ in range(CYCLES):
            before = Acked(dict(acked.sessions), list(acked.log_ids), dict(acked.accounts))
            killer = asyncio.get_running_loop().run_in_executor(None, _kill_after, server, rng.uniform(0.3, 1.0))
            await _load(server.url, pool, acked)
            await killer
            server.start()
            await _verify(server.url, acked, tmp_path / "data" / "concierge.db", since=before)
        await _verify(server.url, acked, tmp_path / "data" / "concierge.db")
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.kill()
    assert acked.server_errors == []
    assert len(acked.log_ids) > 200 and len(acked.sessions) > 20 and \
        list(acked.accounts.values()).count("ACTIVE") > 5, (len(acked.log_ids), len(acked.sessions), acked.accounts)


def _kill_after(server: Server, seconds: float) -> None:
    time.sleep(seconds)
    server.kill()
