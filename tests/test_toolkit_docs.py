"""docs/toolkits.md is generated from the catalog; this fails when someone changed a toolkit and did not
regenerate it (`concierge toolkits docs > docs/toolkits.md`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from server.catalog import spec_check, toolkit_docs
from server.catalog.loader import BUILTIN_TOOLKITS, load_toolkits

DOC = Path(__file__).resolve().parents[1] / "docs" / "toolkits.md"


def test_docs_toolkits_md_is_current() -> None:
    toolkits = load_toolkits([BUILTIN_TOOLKITS])
    fresh = toolkit_docs.render(toolkits, spec_check.check_catalog(toolkits, spec_check.specs_dir()))
    assert DOC.read_text(encoding="utf-8") == fresh, "stale: run `concierge toolkits docs > docs/toolkits.md`"
    for toolkit in toolkits:
        assert f"\n## {toolkit.slug}\n" in fresh
        assert all(f"| `{slug}` |" in fresh for slug in toolkit.tools)


def test_the_cli_prints_the_same_page_and_checks_specs(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(DOC.parents[1])}
    docs = subprocess.run([sys.executable, "-m", "server.cli", "toolkits", "docs"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert docs.returncode == 0, docs.stderr
    assert docs.stdout == DOC.read_text(encoding="utf-8")
    check = subprocess.run([sys.executable, "-m", "server.cli", "toolkits", "check-spec", "github"], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0 and check.stdout.startswith("github: ") and " 0 mismatches" in check.stdout
    missing = subprocess.run([sys.executable, "-m", "server.cli", "toolkits", "check-spec", "--specs",
                              str(tmp_path / "nope")], cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=120)
    assert missing.returncode != 0 and "API descriptions are not at" in missing.stdout + missing.stderr
