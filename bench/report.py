"""Results: the rows of the printed table and the JSON document, built from every scenario's output."""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Row:
    """One line of the table: what was measured, our value (with the baseline in words), the ratio."""

    scenario: str
    measure: str
    value: str
    ratio: float | None = None
    target: str = ""
    met: bool | None = None


def at_least(value: float | None, bound: float) -> bool | None:
    """Whether a target is met; None when nothing was measured."""
    return None if value is None else value >= bound


def at_most(value: float | None, bound: float) -> bool | None:
    return None if value is None else value <= bound


@dataclass
class ScenarioResult:
    name: str
    data: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    seconds: float = 0.0


def table(results: list[ScenarioResult]) -> str:
    headers = ("scenario", "measure", "value", "ratio", "target", "met")
    lines = [(r.scenario, r.measure, r.value, "" if r.ratio is None else f"{r.ratio:.2f}", r.target,
              "" if r.met is None else ("yes" if r.met else "NO")) for res in results for r in res.rows]
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(headers)]
    fmt = " | ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*headers), "-+-".join("-" * w for w in widths)]
    out += [fmt.format(*line) for line in lines]
    return "\n".join(out)


def markdown_table(results: list[ScenarioResult]) -> str:
    """The same table for RESULTS.md / the README's Performance section."""
    out = ["| scenario | measure | value | ratio | target | met |", "| --- | --- | --- | --- | --- | --- |"]
    for res in results:
        for r in res.rows:
            ratio = "" if r.ratio is None else f"{r.ratio:.2f}"
            met = "" if r.met is None else ("yes" if r.met else "**no**")
            out.append(f"| {r.scenario} | {r.measure} | {r.value} | {ratio} | {r.target} | {met} |")
    return "\n".join(out)


def document(results: list[ScenarioResult], budget: str, command: str) -> dict[str, Any]:
    return {
        "meta": {"budget": budget, "command": command, "started_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                 "python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine()},
        "scenarios": {r.name: {**r.data, "scenario_seconds": round(r.seconds, 1)} for r in results},
        "table": [asdict(row) for res in results for row in res.rows],
        "targets_missed": [f"{row.scenario}: {row.measure}" for res in results for row in res.rows
                           if row.met is False],
    }


def write_json(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
