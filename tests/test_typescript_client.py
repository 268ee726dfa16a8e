"""Issue 15: the TypeScript client's own tests (node's test runner) against a live server.

Installs the client's dev dependencies (`ai` for its Vercel AI SDK check, `typescript` for the
declarations) once into clients/typescript/node_modules, type-checks, then runs `node --test`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live import API_KEY, LiveServer

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "clients" / "typescript"
FIXTURE_TOOLKITS = Path(__file__).parent / "fixtures" / "toolkits"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("typescript") / "data", toolkit_paths=[FIXTURE_TOOLKITS]).start()
    yield server
    server.stop()


def run(*command: str, env: dict[str, str] | None = None, timeout: float = 240) -> str:
    done = subprocess.run(command, cwd=PACKAGE, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed() -> None:
    npm = shutil.which("npm")
    assert npm, "the TypeScript client's tests need node and npm"
    marker = PACKAGE / "node_modules" / ".package-lock.json"  # npm writes it after an install
    if not marker.exists() or marker.stat().st_mtime < (PACKAGE / "package-lock.json").stat().st_mtime:
        run(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")


@pytest.mark.timeout(400)
def test_typescript_client_against_a_live_server(live: LiveServer, installed: None) -> None:
    run(str(PACKAGE / "node_modules" / ".bin" / "tsc"), "-p", "tsconfig.json")
    env = {**os.environ, "CONCIERGE_BASE_URL": live.url, "CONCIERGE_API_KEY": API_KEY}
    out = run("node", "--test", "--test-reporter=tap", "test/", env=env)
    assert "# fail 0" in out and "# pass 6" in out, out[-3000:]
    print(out[out.index("# tests"):])
