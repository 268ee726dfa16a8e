from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import tests.live
from tests.live import LiveServer
from tests.postgres import new_database, shutdown

# fixtures shared by several test modules, registered here so no module imports them by name
pytest_plugins = ["tests.standins.google", "tests.browser", "tests.console_fixtures"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutdown()  # the PostgreSQL this process started or the databases it created there (tests/postgres.py)


@pytest.fixture(params=[pytest.param("sqlite", marks=pytest.mark.sqlite),
                        pytest.param("postgres", marks=pytest.mark.postgres)])
def store_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """A module that says `pytestmark = pytest.mark.usefixtures("store_backend")` runs every test twice:
    on SQLite, and with each `LiveServer` on its own fresh PostgreSQL database (one per data dir)."""
    if request.param == "sqlite":
        yield "sqlite"
        return
    databases: dict[Path, str] = {}
    tests.live.DATABASE_FOR = lambda data_dir: databases.get(data_dir) or databases.setdefault(data_dir,
                                                                                                new_database())
    try:
        yield "postgres"
    finally:
        tests.live.DATABASE_FOR = None
    assert databases, "no LiveServer of this test ran on PostgreSQL (was it started before `store_backend`?)"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path / "data").start()
    yield live
    live.stop()
