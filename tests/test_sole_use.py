"""Sole use of a SQLite database (server/store/sqlite/sole_use.py): a process that is the database's
only user skips the per-call session check; the kernel's locks decide, across real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from server.store import open_store, sqlite_url
from server.store.sqlite.sole_use import PROBE_SECONDS, SoleUse
from tests.live import LiveServer

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[1]
WAIT_SECONDS = 10


def other_process(script: str) -> subprocess.Popen[str]:
    """Python in a process of its own (POSIX locks are per process), printing what it reports."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})


def holder(database: Path) -> subprocess.Popen[str]:
    """Another process that opens the database, says "in" once it may use it, and stays until killed."""
    return other_process(f"""
        import asyncio
        from pathlib import Path
        from server.store.sqlite.sole_use import SoleUse

        async def main():
            use = await SoleUse.for_database(Path({str(database)!r}))
            print("in", use.held, flush=True)
            await asyncio.sleep(3600)

        asyncio.run(main())
    """)


async def until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await anyio.sleep(0.05)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


async def test_a_newcomer_gets_in_only_after_the_sole_user_stepped_down(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    database = tmp_path / "db.sqlite"
    mine = await SoleUse.for_database(database)
    try:
        assert mine.held
        first = mine.generation
        other = holder(database)
        processes.append(other)
        assert other.stdout is not None
        line = (await anyio.to_thread.run_sync(other.stdout.readline)).split()  # once the other process got in
        assert line == ["in", "False"], other.stderr.read() if other.stderr else line
        assert not mine.held  # it stepped down before the other could use the database
        await until(lambda: not mine.held)  # and stays shared while the other lives
        await anyio.sleep(3 * PROBE_SECONDS)
        assert not mine.held
        other.send_signal(signal.SIGKILL)  # the kernel drops a killed process's locks
        other.wait(10)
        await until(lambda: mine.held)
        assert mine.generation == first + 1  # what was cached while shared is known to be stale
    finally:
        await mine.release()


async def test_two_databases_of_one_process_on_one_file_are_never_sole(tmp_path: Path) -> None:
    first = await open_store(sqlite_url(tmp_path / "db.sqlite"))
    assert first.sole_use.held
    second = await open_store(sqlite_url(tmp_path / "db.sqlite"))
    try:
        assert not first.sole_use.held and not second.sole_use.held
        await anyio.sleep(3 * PROBE_SECONDS)
        assert not first.sole_use.held
    finally:
        await second.db.close()
    await until(lambda: first.sole_use.held)  # alone again once the other closed
    await first.db.close()


def _change_session(database: Path, session_id: str, statement: str) -> subprocess.Popen[str]:
    """Another process changing the session through the store, as a second server would."""
    return other_process(f"""
        import asyncio
        from pathlib import Path
        from server.store import open_store, sqlite_url

        async def main():
            store = await open_store(sqlite_url(Path({str(database)!r})))
            row = await store.sessions.get({session_id!r})
            {statement}
            await store.db.close()
            print("done", flush=True)

        asyncio.run(main())
    """)


def _sole_use(live: LiveServer) -> SoleUse:
    assert live._server is not None
    use = live._server.config.app.state.api.runtime.store.sole_use
    assert isinstance(use, SoleUse)
    return use


@pytest.mark.parametrize("change", ["update", "delete"])
async def test_a_change_made_by_another_process_is_seen_once_the_server_is_sole_again(
    tmp_path: Path, change: str
) -> None:
    live = LiveServer(tmp_path / "data").start()
    try:
        session = live.create_session(toolkits=["math"])
        use = _sole_use(live)
        assert use.held
        cached = live.api("GET", f"/sessions/{session['id']}").json()  # now in the server's cache
        assert cached["config"]["toolkits"]["enable"] == ["math"]
        statement = (
            "await store.sessions.update(row.id, {**row.config, 'toolkits': {'enable': ['datetime']}}, "
            "row.config_version)"
            if change == "update"
            else "await store.sessions.delete(row.id)"
        )
        other = _change_session(live.data_dir / "concierge.db", session["id"], statement)
        out, err = other.communicate(timeout=60)
        assert other.returncode == 0 and out.strip() == "done", err
        await until(lambda: use.held)  # sole again: calls no longer read the session from the database
        response = live.api("GET", f"/sessions/{session['id']}")
        if change == "update":
            assert response.json()["config"]["toolkits"]["enable"] == ["datetime"]
        else:
            assert response.status_code == 404
        mcp = httpx.post(session["mcp"]["url"], json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                         headers={"accept": "application/json", "mcp-protocol-version": "2025-06-18"}, timeout=30)
        assert mcp.status_code == (200 if change == "update" else 404), mcp.text
    finally:
        live.stop()
