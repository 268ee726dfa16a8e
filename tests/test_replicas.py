"""#12 Must-show 3 and 5 across replicas: two real `concierge serve` processes on one database, behind
nginx round-robin (`bench/cluster.py`, the docs/replicas.md configuration).

Parametrised over the shared database: one SQLite file on disk, and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from bench.cluster import ROOT, Cluster, Replica
from tests.auth_fixtures import ResourceApi, follow_oauth_link, write_toolkits
from tests.live import LiveServer
from tests.mcp_helpers import JSONRPC_HEADERS, call
from tests.oauth_server import OAuthServer
from tests.postgres import new_database
from tests.test_session_lifecycle import _processes_using, _wait_until

pytestmark = pytest.mark.anyio
DATABASES: dict[str, Callable[[Path], str]] = {
    "sqlite": lambda work: f"sqlite:///{work / 'shared.db'}",  # one file on disk, two processes
    "postgres": lambda work: new_database(),
}
CALLS = 25  # per client in the kill test; the kill comes after the first CALLS answers
WHOAMI = {"tools": [{"tool_slug": "ACME_WHOAMI", "arguments": {}}]}


class World:
    def __init__(self, work: Path, database_url: str) -> None:
        self.oauth = OAuthServer(access_token_lifetime=3600).start()
        self.api = ResourceApi(self.oauth.verify).start()
        kits = write_toolkits(work / "kits", self.oauth, self.api.url)
        for builtin in ("math", "text"):  # only what the tests use: a replica starts faster
            shutil.copytree(ROOT / "toolkits" / builtin, kits / builtin)
        self.cluster = Cluster(work, database_url, 2, {
            "toolkit_paths": [str(kits)],
            "builtin_toolkits": False,
            "oauth_apps": {"acme": {"client_id": self.oauth.client_id, "client_secret": self.oauth.client_secret}},
            "replica": {"heartbeat_seconds": 0.5, "dead_after_seconds": 3},
        })
        self.cluster.start()
        self.a, self.b = self.cluster.replicas
        self.http = httpx.Client(base_url=self.cluster.url, headers=self.cluster.headers, timeout=60)

    def close(self) -> None:
        self.http.close()
        self.cluster.stop()
        self.api.stop()
        self.oauth.stop()

    def session(self, **body: Any) -> dict[str, Any]:
        made = self.http.post("/api/v1/sessions", json={"user_id": "u_replicas", "toolkits": ["math"]} | body)
        assert made.status_code == 201, made.text
        assert made.json()["mcp"]["url"].startswith(self.cluster.url)
        return made.json()


@pytest.fixture(scope="module",
                params=[pytest.param(name, marks=getattr(pytest.mark, name)) for name in sorted(DATABASES)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    work = tmp_path_factory.mktemp("replicas")
    w = World(work, DATABASES[request.param](work))
    yield w
    w.close()


def mcp_calls_served(replica: Replica) -> float:
    """MCP requests this replica answered, from its own /metrics."""
    text = httpx.get(f"{replica.url}/metrics", headers={"Authorization": "Bearer ck_test_admin_key_0123456789"},
                     timeout=30).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("concierge_http_requests_total{") and 'route="/mcp/{session_id}"' in line)


def rpc(url: str, name: str, arguments: dict[str, Any], client_id: str | None = None, n: int = 1) -> httpx.Response:
    headers = JSONRPC_HEADERS | ({"Mcp-Session-Id": client_id} if client_id else {})
    body = {"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": {"name": name, "arguments": arguments}}
    return httpx.post(url, content=json.dumps(body), headers=headers, timeout=60)


def envelope(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()["result"]["structuredContent"]


def owner_folder(world: World, session_id: str) -> list[Replica]:
    name = hashlib.sha256(session_id.encode()).hexdigest()[:32]
    return [r for r in (world.a, world.b) if (r.data_dir / "workbench" / name).exists()]


async def test_calls_alternate_between_replicas_with_workbench_state_and_updates_seen_at_once(world: World) -> None:
    session = world.session()
    sid, url = session["id"], session["mcp"]["url"]
    served = [mcp_calls_served(r) for r in (world.a, world.b)]
    async with Client(url) as client:  # initialize on one replica, every later call wherever nginx sends it
        first = await call(client, "COMPOSIO_REMOTE_WORKBENCH", {"code_to_execute": "counter = 0\ncounter"})
        assert first["successful"], first
        for n in range(1, 9):
            run = await call(client, "COMPOSIO_REMOTE_WORKBENCH",
                             {"code_to_execute": "counter += 1\nopen('n.txt', 'w').write(str(counter))\ncounter"})
            assert run["successful"] and run["data"]["results"] == str(n), run
            assert not run["data"]["fresh_process"], "the variables must live on, whichever replica got the call"
            math = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL",
                              {"tools": [{"tool_slug": "MATH_EVALUATE", "arguments": {"expression": f"{n} * 3"}}]})
            assert math["successful"], math
        shell = await call(client, "COMPOSIO_REMOTE_BASH_TOOL", {"command": "cat n.txt"})
        assert shell["data"]["stdout"] == "8", shell
    after = [mcp_calls_served(r) for r in (world.a, world.b)]
    assert all(a - b >= 10 for a, b in zip(after, served, strict=True)), (served, after)
    owners = owner_folder(world, sid)
    assert len(owners) == 1, "the workbench lives on one replica; the other forwards to it"
    for replica in (world.a, world.b):  # files through either replica's REST API
        listed = httpx.get(f"{replica.url}/api/v1/sessions/{sid}/files", headers=world.cluster.headers, timeout=30)
        assert listed.status_code == 200 and "n.txt" in [f["path"] for f in listed.json()["items"]], listed.text
        got = httpx.get(f"{replica.url}/api/v1/sessions/{sid}/files/n.txt", headers=world.cluster.headers, timeout=30)
        assert got.content == b"8"

    # a change through one replica is seen through the other on the very next call
    for writer, reader in ((world.a, world.b), (world.b, world.a)):
        allowed = envelope(rpc(f"{reader.url}/mcp/{sid}", "COMPOSIO_MULTI_EXECUTE_TOOL",
                               {"tools": [{"tool_slug": "MATH_EVALUATE", "arguments": {"expression": "1+1"}}]}))
        assert allowed["successful"], allowed
        changed = httpx.patch(f"{writer.url}/api/v1/sessions/{sid}", json={"toolkits": ["text"]},
                              headers=world.cluster.headers, timeout=30)
        assert changed.status_code == 200
        refused = envelope(rpc(f"{reader.url}/mcp/{sid}", "COMPOSIO_MULTI_EXECUTE_TOOL",
                               {"tools": [{"tool_slug": "MATH_EVALUATE", "arguments": {"expression": "1+1"}}]}))
        assert not refused["successful"] and "MATH_EVALUATE" in json.dumps(refused), refused
        httpx.patch(f"{writer.url}/api/v1/sessions/{sid}", json={"toolkits": ["math"]},
                    headers=world.cluster.headers, timeout=30).raise_for_status()

    # an MCP client id ended through one replica is refused by the other at once
    init = httpx.post(f"{world.a.url}/mcp/{sid}", headers=JSONRPC_HEADERS, timeout=30, content=json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}))
    client_id = init.headers["mcp-session-id"]
    math = {"tools": [{"tool_slug": "MATH_EVALUATE", "arguments": {"expression": "2"}}]}
    assert envelope(rpc(f"{world.b.url}/mcp/{sid}", "COMPOSIO_MULTI_EXECUTE_TOOL", math, client_id))["successful"]
    ended = httpx.delete(f"{world.a.url}/mcp/{sid}", headers={"Mcp-Session-Id": client_id}, timeout=30)
    assert ended.status_code == 200
    assert rpc(f"{world.b.url}/mcp/{sid}", "COMPOSIO_MULTI_EXECUTE_TOOL", math, client_id).status_code == 404

    # Must-show 5, forwarded: deleting through the replica that does not run the workbench stops it there
    owner = owners[0]
    other = world.b if owner is world.a else world.a
    marker = hashlib.sha256(sid.encode()).hexdigest()[:32]
    assert _processes_using(marker), "the session's sandboxed Python process should be running on its owner"
    deleted = httpx.delete(f"{other.url}/api/v1/sessions/{sid}", headers=world.cluster.headers, timeout=60)
    assert deleted.status_code == 204
    assert _wait_until(lambda: not _processes_using(marker)), _processes_using(marker)
    assert owner_folder(world, sid) == []
    for replica in (world.a, world.b):
        assert rpc(f"{replica.url}/mcp/{sid}", "COMPOSIO_MULTI_EXECUTE_TOOL", math).status_code == 404
    assert owner_folder(world, sid) == [], "a refused request must not create the folder again"


async def test_concurrent_refresh_over_both_replicas_refreshes_once(world: World) -> None:
    session = world.session(toolkits=["acme"])
    managed = envelope(rpc(session["mcp"]["url"], "COMPOSIO_MANAGE_CONNECTIONS", {"toolkits": ["acme"]}))
    page = follow_oauth_link(managed["data"]["results"]["acme"]["redirect_url"])  # callback on either replica
    assert page.status_code == 200 and "connected" in page.text.lower(), page.text
    assert envelope(rpc(session["mcp"]["url"], "COMPOSIO_MULTI_EXECUTE_TOOL", WHOAMI))["successful"]
    world.oauth.expire_all_access_tokens()  # every call now gets a 401 and must refresh first
    refreshes = world.oauth.counts["token_refresh"]
    served = [mcp_calls_served(r) for r in (world.a, world.b)]

    async def one(n: int) -> dict[str, Any]:
        body = {"jsonrpc": "2.0", "id": n, "method": "tools/call",
                "params": {"name": "COMPOSIO_MULTI_EXECUTE_TOOL", "arguments": WHOAMI}}
        async with httpx.AsyncClient(timeout=60) as http:
            answer = await http.post(session["mcp"]["url"], content=json.dumps(body), headers=JSONRPC_HEADERS)
        return envelope(answer)

    results = await asyncio.gather(*(one(n) for n in range(20)))
    assert all(r["successful"] for r in results), [r for r in results if not r["successful"]][:1]
    assert world.oauth.counts["token_refresh"] - refreshes == 1, "20 calls over two replicas: exactly one refresh"
    after = [mcp_calls_served(r) for r in (world.a, world.b)]
    assert all(a - b >= 5 for a, b in zip(after, served, strict=True)), (served, after)


async def test_the_forwarding_endpoint_answers_only_replicas_and_only_for_its_own_workbenches(world: World) -> None:
    sid = world.session()["id"]
    forward = f"{world.a.url}/internal/v1/workbench"
    call_body = {"op": "run_bash", "session_id": sid, "args": {"command": "touch owned.txt"}}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {world.cluster.secret}x"}):
        refused = httpx.post(forward, json=call_body, headers=headers, timeout=30)
        assert refused.status_code == 403 and refused.json()["error"]["kind"] == "Forbidden", refused.text
    replica_auth = {"Authorization": f"Bearer {world.cluster.secret}"}
    outside = httpx.post(f"{world.cluster.url}/internal/v1/workbench", json=call_body, headers=replica_auth, timeout=30)
    assert outside.status_code == 404, "the proxy keeps the replicas' own endpoint unreachable from outside"
    not_owner = httpx.post(forward, json=call_body, headers=replica_auth, timeout=30)
    assert not_owner.status_code == 409 and not_owner.json()["error"]["kind"] == "NotOwner", not_owner.text
    for bad in ({"op": "run_bash"}, {"op": "format_disk", "session_id": sid, "args": {}}, [1, 2]):
        answer = httpx.post(forward, json=bad, headers=replica_auth, timeout=30)
        assert answer.status_code == 400 and answer.json()["error"]["kind"] == "InvalidInput", answer.text
    gone = httpx.post(forward, json=call_body | {"session_id": "sess_" + "x" * 32}, headers=replica_auth, timeout=30)
    assert gone.status_code == 404 and gone.json()["error"]["kind"] == "NotFound", gone.text
    assert owner_folder(world, sid) == [], "no refused call created a workbench anywhere"


async def test_kill_minus_nine_mid_load_loses_nothing_acknowledged(world: World) -> None:
    """Runs last in the module: it leaves one replica dead."""
    sessions = [world.session()["id"] for _ in range(4)]
    bench = world.session()
    victim, survivor = world.a, world.b
    # a workbench owned by the replica about to die (the call goes to it directly, so it claims it)
    made = envelope(rpc(f"{victim.url}/mcp/{bench['id']}", "COMPOSIO_REMOTE_WORKBENCH",
                        {"code_to_execute": "x = 41\nx"}))
    assert made["successful"] and owner_folder(world, bench["id"]) == [victim]
    acked: list[str] = []
    failures: list[str] = []
    loaded = asyncio.Event()
    stop_at = time.monotonic() + 60

    async def worker(sid: str, calls: int) -> None:
        done = 0
        async with httpx.AsyncClient(timeout=60) as http:
            while done < calls and time.monotonic() < stop_at:
                body = {"jsonrpc": "2.0", "id": done, "method": "tools/call", "params": {
                    "name": "COMPOSIO_MULTI_EXECUTE_TOOL",
                    "arguments": {"tools": [{"tool_slug": "MATH_EVALUATE", "arguments": {"expression": f"{done}+1"}}]}}}
                try:
                    answer = await http.post(f"{world.cluster.url}/mcp/{sid}", content=json.dumps(body),
                                             headers=JSONRPC_HEADERS)
                except httpx.TransportError as exc:
                    failures.append(repr(exc))
                    continue
                if answer.status_code != 200:  # the request in flight on the killed replica: not acknowledged
                    failures.append(f"{answer.status_code} {answer.text[:200]}")
                    continue
                result = answer.json()["result"]["structuredContent"]
                assert result["successful"], result
                acked.extend(r["response"]["log_id"] for r in result["data"]["results"])
                done += 1
                if len(acked) >= CALLS:
                    loaded.set()

    async def killer() -> None:
        await loaded.wait()
        await asyncio.to_thread(victim.kill)

    await asyncio.gather(killer(), *(worker(sid, CALLS) for sid in sessions))
    assert len(acked) == len(sessions) * CALLS, f"clients finish on the survivor ({len(acked)} acked)"
    assert len(failures) <= len(sessions), f"only requests in flight at the kill may fail: {failures}"
    async with httpx.AsyncClient(base_url=survivor.url, headers=world.cluster.headers, timeout=30) as http:
        missing = [log_id for log_id in acked if (await http.get(f"/api/v1/executions/{log_id}")).status_code != 200]
    assert missing == [], f"{len(missing)} acknowledged executions lost"

    # the dead replica's workbench is taken over, and the result says its state was lost
    taken = envelope(rpc(f"{survivor.url}/mcp/{bench['id']}", "COMPOSIO_REMOTE_WORKBENCH",
                         {"code_to_execute": "'x' in globals()"}))
    assert taken["successful"] and taken["data"]["results"] == "False", taken
    assert re.search(r"previous workbench state was lost", taken["data"]["notice"]), taken["data"]["notice"]
    again = envelope(rpc(f"{survivor.url}/mcp/{bench['id']}", "COMPOSIO_REMOTE_WORKBENCH",
                         {"code_to_execute": "x = 1\nx"}))
    assert again["data"]["notice"] is None and owner_folder(world, bench["id"]) == [victim, survivor]


async def test_a_restarted_single_server_keeps_its_workbench_claims_and_files(tmp_path: Path) -> None:
    """Without `replica.advertise_url` a server's replica id comes from its host and data folder, so after a
    restart it still owns its sessions' workbenches: variables reset (a new process), files kept, no takeover."""
    server = LiveServer(tmp_path / "data").start()
    try:
        session = server.create_session(toolkits=["math"])
        first = envelope(rpc(session["mcp"]["url"], "COMPOSIO_REMOTE_WORKBENCH",
                             {"code_to_execute": "open('kept.txt', 'w').write('yes'); v = 1"}))
        assert first["successful"], first
        server.restart()
        again = envelope(rpc(session["mcp"]["url"], "COMPOSIO_REMOTE_WORKBENCH",
                             {"code_to_execute": "('v' in globals(), open('kept.txt').read())"}))
        assert again["data"]["results"] == "(False, 'yes')", again
        assert again["data"]["fresh_reason"] == "first_use" and "lost" not in again["data"]["notice"], again
    finally:
        server.stop()
