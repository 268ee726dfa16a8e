"""Scenario 7: throughput of 1, 2 and 4 replica processes on PostgreSQL, next to 1 process on SQLite,
all behind the same nginx round-robin (`bench/cluster.py`, as docs/replicas.md configures it).

Every call is a `COMPOSIO_MULTI_EXECUTE_TOOL` of one local tool: one session check, one tool run and
one execution-log row committed before the answer, so the database is on every call's path. The
same clients (raw keep-alive connections to nginx, spread over many sessions) run for the same time
against each setup, one setup at a time, in one run. On a machine with few cores the replicas, the
database, nginx and this load generator share them: the table says how busy the client was.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import httpx

from bench.budget import Budget
from bench.clients import calling, create_session, open_raw
from bench.cluster import API_KEY, Cluster
from bench.load import run_load
from bench.procs import cpu_seconds
from bench.report import Row, ScenarioResult

SETUPS: list[tuple[str, int]] = [("sqlite", 1), ("postgres", 1), ("postgres", 2), ("postgres", 4)]
SESSIONS = 20
CALL = {"tools": [{"tool_slug": "MATH_EVALUATE", "arguments": {"expression": "6 * 7"}}]}


def database_url(kind: str, folder: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder / 'bench.db'}"
    from tests.postgres import new_database  # a throwaway cluster, or the server CONCIERGE_TEST_POSTGRES_URL names

    return new_database()


async def measure(kind: str, replicas: int, budget: Budget, workdir: Path) -> dict[str, Any]:
    folder = workdir / f"replicas_{kind}_{replicas}"
    folder.mkdir(parents=True)
    url = await anyio.to_thread.run_sync(database_url, kind, folder)
    cluster = Cluster(folder, url, replicas, {"workbench": {"enable": False}, "log_level": "error"})
    await anyio.to_thread.run_sync(cluster.start)  # blocking start-up, and its own event loop for the schema
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            urls = [await create_session(http, cluster.url, API_KEY, {"user_id": f"bench_{i % 5}",
                                                                      "toolkits": ["math"]})
                    for i in range(SESSIONS)]
        clients = budget.replicas_clients
        async with open_raw([urls[i % SESSIONS] for i in range(clients)]) as callers:
            workers = [calling(c, "COMPOSIO_MULTI_EXECUTE_TOOL", CALL) for c in callers]
            await run_load(workers, max_calls=budget.warmup_calls, max_seconds=10)  # warm every replica
            pids = [r.pid for r in cluster.replicas]

            def server_cpu() -> float:
                return sum(cpu_seconds(pid) for pid in pids)

            samples = await run_load(workers, max_calls=10**9, max_seconds=budget.replicas_seconds, cpu=server_cpu)
        return samples.summary()
    finally:
        await anyio.to_thread.run_sync(cluster.stop)


async def run(budget: Budget, workdir: Path) -> ScenarioResult:
    data: dict[str, Any] = {"clients": budget.replicas_clients, "seconds": budget.replicas_seconds}
    rows: list[Row] = []
    baseline: float | None = None
    for kind, replicas in SETUPS:
        started = time.perf_counter()
        result = await measure(kind, replicas, budget, workdir)
        result["setup_seconds"] = round(time.perf_counter() - started, 1)
        name = f"{kind} x{replicas}"
        data[name] = result
        rate = result["calls_per_s"]
        baseline = rate if baseline is None else baseline
        rows.append(Row("7 replicas", f"{name}: calls/s, p50 / p99, server CPU per call (ratio: vs sqlite x1)",
                        f"{rate:.0f}/s, {result['p50_ms']:.1f} / {result['p99_ms']:.1f} ms, "
                        f"{result['server_cpu_ms_per_call']} ms CPU, {result['errors']} errors",
                        round(rate / baseline, 2) if baseline else None))
    return ScenarioResult("replicas", data, rows)
