"""Scenario 2: `COMPOSIO_SEARCH_TOOLS` latency over catalogs of growing size, and what the index costs.

For each size a Concierge server starts with a generated catalog (`bench.catalog_gen`) and reports
its index build time and memory; one raw client then sends a fixed rotation of realistic use cases
through MCP to a session that may use every tool. Sizes run one after another, so index builds do
not compete for the CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from bench import servers
from bench.budget import Budget
from bench.clients import create_session, open_raw
from bench.load import Step, ratio, run_load
from bench.procs import running
from bench.report import Row, ScenarioResult, at_most

QUERIES = (
    "list open issues in my repository", "create a pull request from my feature branch",
    "send a message to the #general channel", "star a github repository", "add a reaction emoji to a message",
    "create a calendar event tomorrow at 3pm with Alice", "find free time slots next week",
    "search my email for invoices from last month", "send an email with an attachment", "archive an email thread",
    "upload a file to google drive and share it", "list files in a drive folder", "append a row to a spreadsheet",
    "read cell values from a google sheet", "create a notion page in a database", "query a notion database",
    "ban a member from a discord server", "create a role in a discord guild", "list workflow runs for a repo",
    "invite a user to a slack channel", "get the profile of a user", "delete a comment on an issue",
    "set my slack status", "merge a pull request and delete the branch",
)
TARGET_P99_MS = {10_000: 15.0, 50_000: 50.0}
SEARCH = "COMPOSIO_SEARCH_TOOLS"


def search_arguments(n: int) -> dict[str, Any]:
    """The n-th search of a client: the query rotation, one use case per call."""
    return {"queries": [{"use_case": QUERIES[n % len(QUERIES)]}]}


async def _measure(size: int, budget: Budget, workdir: Path) -> dict[str, Any]:
    proc = servers.concierge(f"search_{size}", workdir, toolkit_paths=(), catalog_tools=size)
    with running(proc):
        async with httpx.AsyncClient(timeout=60) as http:
            url = await create_session(http, proc.base_url, servers.BENCH_API_KEY, {"user_id": "bench_search"})
        async with open_raw([url]) as (caller,):
            def worker(n: int) -> Step:
                return "search", lambda: caller.call_tool(SEARCH, search_arguments(n))

            await run_load([worker], max_calls=len(QUERIES), max_seconds=60)  # warm-up: one pass of the queries
            samples = await run_load([worker], max_calls=budget.search_queries, max_seconds=60, cpu=proc.cpu_seconds)
        return {**proc.info, **samples.summary(), "server_rss_mb": round(proc.rss_bytes() / 2**20, 1)}


async def run(budget: Budget, workdir: Path) -> ScenarioResult:
    data: dict[str, Any] = {}
    rows: list[Row] = []
    for size in budget.search_sizes:
        result = data[f"{size}_tools"] = await _measure(size, budget, workdir)
        first = data[f"{budget.search_sizes[0]}_tools"]
        target = TARGET_P99_MS.get(size)
        rows.append(Row("2 search", f"{size:,} tools: p50 / p99", f"{result['p50_ms']:.1f} / {result['p99_ms']:.1f} ms"
                        f" (server CPU {result['server_cpu_ms_per_call']:.1f} ms/search)",
                        ratio(result["p50_ms"], first["p50_ms"]), f"p99 <= {target:g} ms" if target else "",
                        at_most(result["p99_ms"], target) if target else None))
        rows.append(Row("2 search", f"{size:,} tools: index build, memory",
                        f"{result['index_build_s']:.2f} s, +{result['index_rss_mb']:.0f} MB "
                        f"(server RSS {result['server_rss_mb']:.0f} MB)"))
    return ScenarioResult("search", data, rows)
