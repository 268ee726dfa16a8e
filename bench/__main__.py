"""`python -m bench`: run the scenarios, print the table, write the JSON results.

    python -m bench                      # full run, about 5 minutes on 2 cores
    python -m bench --quick              # smoke run, under a minute (what the test suite calls)
    python -m bench --scenario overhead --profile /tmp/prof   # py-spy profiles of both servers
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import anyio

from bench import fanout, mixed, overhead, replicas, search_scale, sessions_scale, upstream
from bench.budget import FULL, QUICK, Budget
from bench.report import Row, ScenarioResult, document, markdown_table, table, write_json

Scenario = Callable[[Budget, Path], Awaitable[ScenarioResult]]
SCENARIOS: dict[str, Scenario] = {
    "overhead": overhead.run, "search": search_scale.run, "sessions": sessions_scale.run,
    "fanout": fanout.run, "mixed": mixed.run, "upstream": upstream.run,
}
# Run only when named (`--scenario replicas`): it starts nginx, PostgreSQL and seven server processes.
ON_REQUEST: dict[str, Scenario] = {"replicas": replicas.run}
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "latest.json"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small loads: a ~30 s smoke run")
    parser.add_argument("--scenario", action="append", choices=[*SCENARIOS, *ON_REQUEST],
                        help="run only these (repeatable)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"results file (default {DEFAULT_JSON})")
    parser.add_argument("--markdown", type=Path, help="also write the table as Markdown here")
    parser.add_argument("--profile", type=Path, help="overhead scenario: py-spy samples and summaries of both servers "
                                                     "here; profiled numbers are slower and not for reporting")
    return parser.parse_args(argv)


async def run_all(names: list[str], budget: Budget, workdir: Path, profile: Path | None) -> list[ScenarioResult]:
    """Every scenario in turn; one that crashes is reported as such and the others still run."""
    results = []
    for name in names:
        scenario = (partial(overhead.run, profile_dir=profile) if name == "overhead" and profile
                    else (SCENARIOS | ON_REQUEST)[name])
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            result = await scenario(budget, workdir)
        except Exception as exc:
            traceback.print_exc()
            result = ScenarioResult(name, {"error": f"{type(exc).__name__}: {exc}"},
                                    [Row(name, "crashed", f"{type(exc).__name__}: {str(exc)[:200]}", met=False)])
        result.seconds = time.perf_counter() - t0
        print(f"[bench] {name} done in {result.seconds:.0f} s", file=sys.stderr, flush=True)
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    budget = QUICK if args.quick else FULL
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="concierge-bench-") as tmp:
        results = anyio.run(run_all, args.scenario or list(SCENARIOS), budget, Path(tmp), args.profile)
    command = shlex.join(["python", "-m", "bench", *(sys.argv[1:] if argv is None else argv)])
    doc = document(results, budget.name, command)
    doc["meta"]["seconds"] = round(time.perf_counter() - t0, 1)
    print(table(results))
    write_json(args.json, doc)
    if args.markdown:
        args.markdown.write_text(markdown_table(results) + "\n")
    print(f"\n{budget.name} run: {doc['meta']['seconds']:.0f} s; results in {args.json}", flush=True)
    return 1 if any("error" in r.data for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
