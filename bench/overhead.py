"""Scenario 1: what Concierge adds per call over a bare `mcp` Server running the same no-op tool.

Ours: `COMPOSIO_MULTI_EXECUTE_TOOL` running `BENCH_NOOP_PING` once, through the session's MCP URL, on
Concierge exactly as `concierge serve` runs it by default (`bench.serve_default`: built-in toolkits,
INFO logging, uvicorn's auto loop and parser). Bare: `BENCH_NOOP_PING` itself on `bench.serve_bare`,
on the loop and parser uvicorn's auto picks (uvloop + httptools when installed). Separate processes,
rounds alternating. Measured from 1 and 20 concurrent clients, with the SDK client (what agents run)
and the raw httpx client (less client CPU, so the server's share shows). The ratios held against the
targets are medians over paired rounds (a burst of load from elsewhere on a shared machine, which
lasts seconds, lands in a few rounds and not in the result); the pooled ratios are reported beside.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import httpx

from bench import servers
from bench.budget import Budget
from bench.clients import ClientKind, ToolCaller, calling, create_session, open_callers
from bench.load import Samples, Side, alternate_rounds, paired_median, pooled, ratio
from bench.procs import ServerProcess, running
from bench.report import Row, ScenarioResult, at_least, at_most

OURS_CALL = ("COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [{"tool_slug": servers.NOOP_TOOL, "arguments": {"n": 1}}]})
BARE_CALL = (servers.NOOP_TOOL, {"n": 1})
MIN_CALLS_RATIO = 0.85
MAX_CPU_RATIO = 1.3


def _call_of(side: str) -> tuple[str, dict[str, Any]]:
    return OURS_CALL if side.startswith("concierge") else BARE_CALL


async def _cell(kind: ClientKind, clients: int, procs: dict[str, ServerProcess], urls: dict[str, str],
                budget: Budget) -> dict[str, Any]:
    """One (client kind, client count) cell: both sides, alternating, summarised."""
    async with contextlib.AsyncExitStack() as stack:
        sides = []
        for name, proc in procs.items():
            callers: list[ToolCaller] = await stack.enter_async_context(open_callers(kind, [urls[name]] * clients))
            tool, arguments = _call_of(name)
            sides.append(Side(name, [calling(c, tool, arguments) for c in callers], proc.cpu_seconds))
        rounds = await alternate_rounds(sides, rounds=budget.overhead_rounds, calls_per_round=budget.overhead_calls,
                                        seconds_per_round=budget.overhead_seconds, warmup_calls=budget.warmup_calls)
    cell: dict[str, Any] = {name: samples.summary() for name, samples in pooled(rounds).items()}
    cell["concierge_vs_bare"] = _ratios(rounds, cell["concierge"], cell["bare"])
    cell["rounds"] = len(rounds)
    return cell


def _ratios(rounds: list[dict[str, Samples]], ours: dict[str, Any], base: dict[str, Any]) -> dict[str, float | None]:
    """The targets' ratios are medians over paired rounds; the pooled ones are kept beside them."""
    return {"calls_per_s": paired_median(rounds, "concierge", "bare", "calls_per_s"),
            "server_cpu_per_call": paired_median(rounds, "concierge", "bare", "server_cpu_ms_per_call"),
            "pooled_calls_per_s": ratio(ours["calls_per_s"], base["calls_per_s"]),
            "pooled_server_cpu_per_call": ratio(ours["server_cpu_ms_per_call"], base["server_cpu_ms_per_call"]),
            "p50": ratio(ours["p50_ms"], base["p50_ms"]), "p99": ratio(ours["p99_ms"], base["p99_ms"])}


def _rows(key: str, cell: dict[str, Any]) -> list[Row]:
    ours, bare, r = cell["concierge"], cell["bare"], cell["concierge_vs_bare"]
    return [
        Row("1 overhead", f"{key}: calls/s", f"{ours['calls_per_s']:.0f} vs bare {bare['calls_per_s']:.0f} "
            f"(pooled ratio {r['pooled_calls_per_s']})", r["calls_per_s"], f">= {MIN_CALLS_RATIO}",
            at_least(r["calls_per_s"], MIN_CALLS_RATIO)),
        Row("1 overhead", f"{key}: server CPU/call", f"{ours['server_cpu_ms_per_call']:.2f} ms vs bare "
            f"{bare['server_cpu_ms_per_call']:.2f} ms (pooled ratio {r['pooled_server_cpu_per_call']})",
            r["server_cpu_per_call"], f"<= {MAX_CPU_RATIO}", at_most(r["server_cpu_per_call"], MAX_CPU_RATIO)),
        Row("1 overhead", f"{key}: p50 / p95 / p99", f"{ours['p50_ms']:.2f} / {ours['p95_ms']:.2f} / "
            f"{ours['p99_ms']:.2f} ms vs bare {bare['p50_ms']:.2f} / {bare['p95_ms']:.2f} / {bare['p99_ms']:.2f}",
            r["p50"]),
    ]


async def run(budget: Budget, workdir: Path, profile_dir: Path | None = None) -> ScenarioResult:
    procs = {"concierge": servers.concierge_default("concierge", workdir, profile=profile_dir),
             "bare": servers.bare("bare", workdir, fast=servers.FAST_AVAILABLE, profile=profile_dir)}
    data: dict[str, Any] = {"concierge": "as `concierge serve` runs by default",
                            "uvloop_httptools": servers.FAST_AVAILABLE}
    rows: list[Row] = []
    with running(*procs.values()):
        urls = {name: f"{p.base_url}/mcp" for name, p in procs.items()}
        async with httpx.AsyncClient(timeout=30) as http:
            urls["concierge"] = await create_session(http, procs["concierge"].base_url, servers.BENCH_API_KEY,
                                                     {"user_id": "bench_user", "toolkits": ["bench_noop"]})
        for kind in ("sdk", "raw"):
            for clients in budget.overhead_clients:
                key = f"{kind} client x{clients}"
                data[key] = await _cell(kind, clients, procs, urls, budget)
                rows += _rows(key, data[key])
    return ScenarioResult("overhead", data, rows)
