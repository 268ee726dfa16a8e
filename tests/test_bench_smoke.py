"""`python -m bench --quick` runs to the end and writes results a reader (or CI) can parse.

Timings are not asserted: the benchmark reports them, a shared 2-core test machine cannot judge them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = {"overhead", "search", "sessions", "fanout", "mixed", "upstream"}
ROW_KEYS = {"scenario", "measure", "value", "ratio", "target", "met"}


@pytest.mark.timeout(900)
def test_quick_run_completes_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "quick.json"
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--json", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=850)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    doc = json.loads(out.read_text())
    assert {"meta", "scenarios", "table", "targets_missed"} <= doc.keys()
    assert doc["meta"]["budget"] == "quick"
    assert set(doc["scenarios"]) == SCENARIOS
    assert all("error" not in result for result in doc["scenarios"].values())
    assert doc["table"] and all(row.keys() >= ROW_KEYS for row in doc["table"])
    overhead = doc["scenarios"]["overhead"]
    assert {"concierge", "bare", "concierge_vs_bare"} <= overhead["raw client x1"].keys()
    assert doc["scenarios"]["mixed"]["total"]["calls"] > 0
