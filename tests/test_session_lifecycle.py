"""A session's end is final: deleting it stops and removes its workbench, forgets its MCP clients, and a
PATCH or an MCP initialize racing the DELETE can neither bring it back nor turn into a 500."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from pathlib import Path

import httpx
import pytest
from mcp import Client

from tests.live import LiveServer
from tests.mcp_helpers import JSONRPC_HEADERS, call, initialize_body

pytestmark = pytest.mark.anyio
RACES = 40


@pytest.fixture
def server(tmp_path: Path):  # noqa: ANN201 - a generator fixture
    live = LiveServer(tmp_path / "data", workbench={"isolation": "bwrap"}).start()
    yield live
    live.stop()


def _processes_using(marker: str) -> list[int]:
    """Pids whose command line mentions `marker` (a session's workbench folder)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker in (proc / "cmdline").read_bytes().decode(errors="replace"):
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


def _wait_until(predicate, seconds: float = 10) -> bool:  # noqa: ANN001 - any zero-argument callable
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


async def test_deleting_a_session_leaves_no_workbench_process_or_folder(server: LiveServer) -> None:
    session = server.create_session(toolkits=["math"])
    folder_name = hashlib.sha256(session["id"].encode()).hexdigest()[:32]
    folder = server.data_dir / "workbench" / folder_name
    async with Client(session["mcp"]["url"]) as client:
        made = await call(client, "COMPOSIO_REMOTE_WORKBENCH",
                          {"code_to_execute": "open('kept.txt', 'w').write('x'); import os; os.makedirs('d/e')"})
        assert made["successful"], made
        assert (folder / "kept.txt").is_file()
        assert _processes_using(folder_name), "the session's sandboxed Python process should be running"

        busy = asyncio.create_task(client.call_tool("COMPOSIO_REMOTE_WORKBENCH",
                                                    {"code_to_execute": "import time; time.sleep(60)"}))
        await asyncio.sleep(1.0)
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=30) as http:
            deleted = await http.delete(f"{server.url}/api/v1/sessions/{session['id']}", headers=server.headers)
        assert deleted.status_code == 204
        assert time.monotonic() - started < 20, "a running cell must not hold the delete until its time limit"
        await asyncio.wait_for(asyncio.gather(busy, return_exceptions=True), 30)

    assert _wait_until(lambda: not _processes_using(folder_name)), _processes_using(folder_name)
    assert not folder.exists()
    assert server.api("GET", f"/sessions/{session['id']}").status_code == 404
    mcp = httpx.post(session["mcp"]["url"], content=initialize_body(), headers=JSONRPC_HEADERS, timeout=30)
    assert mcp.status_code == 404
    assert not folder.exists(), "a refused request must not create the folder again"


async def test_patch_racing_delete_never_brings_the_session_back(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=f"{server.url}/api/v1", headers=server.headers, timeout=30) as http:
        for i in range(RACES):
            session = server.create_session(toolkits=["math"])
            sid = session["id"]
            patches = [http.patch(f"/sessions/{sid}", json={"toolkits": ["math", "text"] if n % 2 else ["math"]})
                       for n in range(3)]
            answers = await asyncio.gather(*patches[:i % 3], http.delete(f"/sessions/{sid}"), *patches[i % 3:])
            statuses = [a.status_code for a in answers]
            assert all(s < 500 for s in statuses), statuses
            assert statuses[i % 3] == 204
            assert all(s in (200, 404, 409) for n, s in enumerate(statuses) if n != i % 3), statuses
            assert (await http.get(f"/sessions/{sid}")).status_code == 404
            called = await http.post(f"/sessions/{sid}/tools/COMPOSIO_MULTI_EXECUTE_TOOL", json={"arguments": {
                "tools": [{"tool_slug": "MATH_EVALUATE", "arguments": {"expression": "1 + 2"}}]}})
            assert called.status_code == 404 and "deleted" in called.json()["error"]["message"]
            assert (await http.get(f"/sessions/{sid}/executions")).status_code == 404
            listed = await http.post(session["mcp"]["url"], content=json.dumps(
                {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}), headers=JSONRPC_HEADERS)
            assert listed.status_code == 404


async def test_initialize_racing_delete_answers_404_never_500(server: LiveServer) -> None:
    async with httpx.AsyncClient(headers=server.headers, timeout=30) as http:
        seen: set[int] = set()
        for i in range(RACES):
            session = server.create_session(toolkits=["math"])
            url = session["mcp"]["url"]
            inits = [http.post(url, content=initialize_body(f"racer-{n}"), headers=JSONRPC_HEADERS) for n in range(3)]
            answers = await asyncio.gather(*inits[:i % 4], http.delete(f"{server.url}/api/v1/sessions/"
                                                                        f"{session['id']}"), *inits[i % 4:])
            statuses = [a.status_code for n, a in enumerate(answers) if n != i % 4]
            assert answers[i % 4].status_code == 204
            assert set(statuses) <= {200, 404}, statuses
            seen.update(statuses)
            for answer in answers:
                client_id = answer.headers.get("mcp-session-id")
                if client_id:  # initialized before the delete: the id died with the session
                    again = await http.post(url, content=json.dumps({"jsonrpc": "2.0", "id": 3, "method": "ping"}),
                                            headers={**JSONRPC_HEADERS, "Mcp-Session-Id": client_id})
                    assert again.status_code == 404
        assert 404 in seen
