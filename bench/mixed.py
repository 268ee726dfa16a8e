"""Scenario 5: a fixed mix of search, execute and session creation from 50 clients for 60 s, on a
1,000-tool catalog; every failed call counts, and the target is zero.

Each client has its own session and cycles through `MIX` (5 executes, 4 searches, 1 session create
per 10 steps), so the mix is the same however fast the server is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from bench import servers
from bench.budget import Budget
from bench.clients import RawCaller, create_session, open_raw
from bench.load import Step, Worker, run_load
from bench.overhead import OURS_CALL
from bench.procs import running
from bench.report import Row, ScenarioResult
from bench.search_scale import SEARCH, search_arguments

CATALOG_TOOLS = 1_000
MIX = ("execute", "search", "execute", "search", "execute", "search", "execute", "search", "execute", "create")
MAX_CALLS_PER_SECOND = 5_000  # only a bound: the time budget ends the run


def _worker(caller: RawCaller, base_url: str, client: int) -> Worker:
    def step(n: int) -> Step:
        kind = MIX[n % len(MIX)]
        if kind == "execute":
            return kind, lambda: caller.call_tool(*OURS_CALL)
        if kind == "search":
            return kind, lambda: caller.call_tool(SEARCH, search_arguments(n))
        return kind, lambda: create_session(caller.http, base_url, servers.BENCH_API_KEY,
                                            {"user_id": f"mixed_{client}", "toolkits": ["bench_noop"]})
    return step


async def run(budget: Budget, workdir: Path) -> ScenarioResult:
    proc = servers.concierge("mixed", workdir, catalog_tools=CATALOG_TOOLS)
    with running(proc):
        async with httpx.AsyncClient(timeout=30) as http:
            urls = [await create_session(http, proc.base_url, servers.BENCH_API_KEY, {"user_id": f"mixed_{i}"})
                    for i in range(budget.mixed_clients)]
        async with open_raw(urls) as callers:
            workers = [_worker(c, proc.base_url, i) for i, c in enumerate(callers)]
            samples = await run_load(workers, max_calls=int(MAX_CALLS_PER_SECOND * budget.mixed_seconds),
                                     max_seconds=budget.mixed_seconds, cpu=proc.cpu_seconds)
        rss = proc.rss_bytes()
    total = samples.summary()
    data: dict[str, Any] = {"clients": budget.mixed_clients, "load_seconds": round(samples.wall, 1),
                            "catalog_tools": CATALOG_TOOLS, "total": total,
                            "server_cpu_busy": round(samples.cpu / samples.wall, 2) if samples.wall else None,
                            "server_rss_mb": round(rss / 2**20, 1),
                            **{kind: samples.summary(kind) for kind in sorted(set(MIX))}}
    per_kind = ", ".join(f"{kind} {data[kind]['calls_per_s']:.0f}/s p50 {data[kind]['p50_ms']:.0f} "
                         f"p99 {data[kind]['p99_ms']:.0f} ms" for kind in sorted(set(MIX)))
    rows = [
        Row("5 mixed", f"{budget.mixed_clients} clients, {samples.wall:.0f} s: throughput",
            f"{total['calls_per_s']:.0f} calls/s ({per_kind}); server CPU {data['server_cpu_busy']:.0%} of a core"),
        Row("5 mixed", "errors", f"{total['errors']} of {total['calls'] + total['errors']:,} calls", None, "0",
            total["errors"] == 0),
    ]
    return ScenarioResult("mixed", data, rows)
