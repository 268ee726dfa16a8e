"""docs/toolkits.md is generated from the catalog; this fails when someone changed a toolkit and did not
regenerate it (`concierge toolkits docs > docs/toolkits.md`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.catalog import spec_check, toolkit_docs
from server.catalog.loader import BUILTIN_TOOLKITS, load_toolkits
from server.cli import main

DOC = Path(__file__).resolve().parents[1] / "docs" / "toolkits.md"


def test_docs_toolkits_md_is_current() -> None:
    toolkits = load_toolkits([BUILTIN_TOOLKITS])
    fresh = toolkit_docs.render(toolkits, spec_check.check_catalog(toolkits, spec_check.specs_dir()))
    assert DOC.read_text(encoding="utf-8") == fresh, "stale: run `concierge toolkits docs > docs/toolkits.md`"
    for toolkit in toolkits:
        assert f"\n## {toolkit.slug}\n" in fresh
        assert all(f"| `{slug}` |" in fresh for slug in toolkit.tools)


def test_the_cli_prints_the_same_page_and_checks_specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # no concierge.toml here: the built-in catalog, as the docs are generated
    assert main(["toolkits", "docs"]) == 0
    assert capsys.readouterr().out == DOC.read_text(encoding="utf-8")
    assert main(["toolkits", "check-spec", "github"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("github: ") and " 0 mismatches" in out and out.count("\n") == 1
    assert main(["toolkits", "check-spec", "--specs", str(tmp_path / "nope")]) == 2
    assert "API descriptions are not at" in capsys.readouterr().err
