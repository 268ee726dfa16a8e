"""Issue 15, must-show 1: the wheel carries the built-in toolkits, and `pip install` of it (not
editable) gives a `concierge` that starts and serves a search, from a fresh virtual environment."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx

from tests.test_cli_serve import LISTENING, Serve

ROOT = Path(__file__).resolve().parents[1]
PACKAGED = "server/builtin_toolkits/"
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "server", "toolkits")


def run(*cmd: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=180, cwd=cwd, env=env)
    assert result.returncode == 0, f"{cmd}: {result.stdout}\n{result.stderr}"
    return result.stdout


def outside_env() -> dict[str, str]:
    """No PYTHONPATH pointing at a checkout, no CONCIERGE_* settings: only what the venv installed."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("CONCIERGE_")} | {
        "CONCIERGE_SEARCH__SEMANTIC": "off"}


def test_wheel_installs_into_a_fresh_venv_and_serves_a_search(tmp_path: Path) -> None:
    # Build from a copy, so the checkout gets no build/ or egg-info/ folders.
    source = tmp_path / "src"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, source / name)
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp_path / "dist",
        source, cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("concierge-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.split("/")[2] for p in names if p.startswith(PACKAGED) and p.endswith("/toolkit.yaml")}
    assert shipped == {p.parent.name for p in (ROOT / "toolkits").glob("*/toolkit.yaml")}
    assert all(f"{PACKAGED}{p.parent.name}/tools.py" in names for p in (ROOT / "toolkits").glob("*/tools.py"))
    assert not any("__pycache__" in p for p in names)
    web = ROOT / "server" / "web"
    pages = {f"server/web/{p.relative_to(web)}" for p in web.rglob("*") if p.suffix in (".html", ".css")}
    assert pages and pages <= names, f"templates or stylesheet missing from the wheel: {pages - names}"

    # A fresh venv; the dependencies come from the system site (nothing to download), Concierge from the wheel.
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    env = outside_env()
    run(python, "-m", "pip", "install", "--no-deps", "-q", wheel, cwd=tmp_path, env=env)
    located = run(python, "-c", "import server.catalog.loader as l; print(l.__file__); print(l.BUILTIN_TOOLKITS)",
                  cwd=tmp_path, env=env).split()
    assert all(Path(p).is_relative_to(venv) for p in located), located
    assert Path(located[1]).name == "builtin_toolkits"
    version = run(venv / "bin" / "concierge", "--version", cwd=tmp_path, env=env)
    assert re.fullmatch(r"concierge \d+\.\d+\.\d+\S*\n", version)

    with Serve(tmp_path / "data", cwd=tmp_path, env=env, command=[str(venv / "bin" / "concierge")]) as serve:
        assert any(LISTENING in line for line in serve.lines)
        headers = {"Authorization": f"Bearer {serve.new_key}"}
        session = httpx.post(f"{serve.url}/api/v1/sessions", headers=headers,
                             json={"user_id": "pip_user", "toolkits": ["datetime", "math"]}).json()
        found = httpx.post(f"{serve.url}/api/v1/sessions/{session['id']}/tools/COMPOSIO_SEARCH_TOOLS",
                           headers=headers, json={"arguments": {"queries": [{"use_case": "what time is it in Tokyo"}]}})
        assert found.status_code == 200, found.text
        assert found.json()["data"]["results"][0]["primary_tool_slugs"][0].startswith("DATETIME_")
        page = httpx.get(f"{serve.url}/connect/not-a-link")  # a page rendered from the wheel's templates
        assert page.status_code == 404 and "This link is not valid" in page.text
        assert httpx.get(f"{serve.url}/static/style.css").status_code == 200
        console = httpx.get(f"{serve.url}/admin/login")  # the admin console's templates and stylesheet too
        assert console.status_code == 200 and "Admin key" in console.text
        assert httpx.get(f"{serve.url}/static/console.css").status_code == 200
