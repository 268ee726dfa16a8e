"""PostgreSQL for the tests: the server named by `CONCIERGE_TEST_POSTGRES_URL` (`.ci/run` starts one), else a
throwaway cluster this process starts (initdb in a temp folder, unix socket only, as the `postgres` user
when running as root) and removes at exit. Every test gets its own fresh database on it.

No PostgreSQL binaries and no URL: the tests that need it fail, naming the install command.
"""

from __future__ import annotations

import asyncio
import atexit
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest

ENV = "CONCIERGE_TEST_POSTGRES_URL"
INSTALL = "apt-get install postgresql"
T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Runs a coroutine to the end from sync code, also while this thread already runs an event loop."""
    out: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            out.append(asyncio.run(coro))
        except BaseException as exc:  # handed to the caller
            failure.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return out[0]


def _bindir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(versions[-1]).parent if versions else None


class Cluster:
    """A private PostgreSQL: no TCP port (a unix socket in its own folder), no fsync (test data only)."""

    def __init__(self) -> None:
        bindir = _bindir()
        if bindir is None:
            pytest.fail(f"PostgreSQL is not installed: run `{INSTALL}` (or set {ENV} to a server's URL); "
                        "deselect with `-m 'not postgres'` to run without it", pytrace=False)
        self.bindir = bindir
        self.folder = Path(tempfile.mkdtemp(prefix="concierge-pg-"))
        self.user: list[str] = []
        if os.geteuid() == 0:  # postgres refuses to run as root
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                pytest.fail("running as root needs the `postgres` OS user (the Debian package creates it: "
                            f"`{INSTALL}`)", pytrace=False)
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self.user = ["runuser", "-u", "postgres", "--"]
        self.data = self.folder / "data"
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        options = (f"-k {self.folder} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"), "-w", "start")
        self.url = f"postgresql://postgres@/postgres?host={self.folder}"

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run([*self.user, str(self.bindir / program), *args], capture_output=True, text=True,
                              cwd=self.folder)
        if done.returncode:
            raise RuntimeError(f"{program} failed: {done.stdout}{done.stderr}")

    def stop(self) -> None:
        subprocess.run([*self.user, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                       capture_output=True, cwd=self.folder)
        shutil.rmtree(self.folder, ignore_errors=True)


_cluster: Cluster | None = None
_lock = threading.Lock()
_created: list[str] = []


def server_url() -> str:
    """The URL of a database to administer (create and drop test databases) on the tests' PostgreSQL."""
    global _cluster
    if os.environ.get(ENV):
        return os.environ[ENV]
    with _lock:
        if _cluster is None:
            _cluster = Cluster()
            atexit.register(shutdown)  # in case the session ends without pytest_sessionfinish
        return _cluster.url


def shutdown() -> None:
    """At the end of a test session (each xdist worker's): the throwaway cluster stops and its folder goes;
    on a server named by the environment, the databases this process created are dropped."""
    global _cluster
    with _lock:
        cluster, _cluster = _cluster, None
        created = list(_created)
        _created.clear()
    if cluster is not None:
        cluster.stop()
    elif created:
        for url in created:
            drop_database(url)


def _with_database(url: str, name: str) -> str:
    head, sep, query = url.partition("?")
    return f"{head.rsplit('/', 1)[0]}/{name}{sep}{query}"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(server_url())
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def new_database() -> str:
    """A fresh, empty database's URL (named uniquely, so tests on several workers never share one).
    Dropped by `shutdown()` (a throwaway cluster goes away whole)."""
    name = f"concierge_test_{uuid.uuid4().hex[:16]}"
    run_sync(_admin(f"CREATE DATABASE {name}"))
    url = _with_database(server_url(), name)
    _created.append(url)
    return url


async def _dump(url: str) -> bytes:
    conn = await asyncpg.connect(url)
    try:
        tables = [r[0] for r in await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")]
        out = []
        for table in tables:
            for row in await conn.fetch(f"SELECT * FROM {table}"):
                out += [v if isinstance(v, bytes) else str(v).encode() for v in row.values()]
        return b"\n".join(out)
    finally:
        await conn.close()


def dump_database(url: str) -> bytes:
    """Every value of every table, as stored (bytea raw), for checking what is at rest."""
    return run_sync(_dump(url))


def drop_database(url: str) -> None:
    name = url.partition("?")[0].rsplit("/", 1)[1]
    run_sync(_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


# A test so marked runs twice: on SQLite, and with each LiveServer on its own PostgreSQL database
# (the `store_backend` fixture in tests/conftest.py).
both_backends = pytest.mark.usefixtures("store_backend")
