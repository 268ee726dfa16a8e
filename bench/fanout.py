"""Scenario 4: one `COMPOSIO_MULTI_EXECUTE_TOOL` call running 20 HTTP tools that each wait 100 ms on a
local API should take about 100 ms, not 2 s.

The toolkit is written at run time into the work directory (its `base_url` names the local API's
port). Two Concierge servers differ only in `execution.max_parallel`: the default, and one large
enough for the whole batch. A third side sends the same 20 requests straight from this process with
the executor's own HTTP client (`http_tool.new_client`, aiohttp): the floor for any server that uses
it (its CPU figure is this process's). The three alternate batch by batch.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import httpx
import yaml

from bench import servers
from bench.budget import Budget
from bench.clients import calling, create_session, open_raw
from bench.load import Side, Step, alternate, ratio, run_load
from bench.procs import running
from bench.report import Row, ScenarioResult, at_most
from server.config import ExecutionConfig
from server.execute import http_tool

TOOLKIT = "bench_http"
CLIENT_ALONE = "the executor's HTTP client alone, no server (floor)"
MAX_RATIO_TO_IDEAL = 1.5


def write_toolkit(root: Path, api_url: str, count: int) -> Path:
    """`count` HTTP tools calling `GET {api_url}/wait/{ms}`; returns the folder holding the toolkit."""
    folder = root / TOOLKIT
    folder.mkdir(parents=True, exist_ok=True)
    tools = [{"slug": f"BENCH_HTTP_WAIT_{i:02d}", "name": f"Wait {i}",
              "description": "Ask the local test API to wait the given milliseconds before it answers.",
              "tags": ["readOnlyHint"],
              "input_schema": {"type": "object", "properties": {"ms": {"type": "integer", "minimum": 0}},
                               "required": ["ms"]},
              "http": {"method": "GET", "path": "/wait/{ms}"}} for i in range(1, count + 1)]
    spec = {"slug": TOOLKIT, "name": "Bench HTTP", "description": "HTTP tools against the benchmark's slow local API.",
            "base_url": api_url, "tools": tools}
    (folder / "toolkit.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return root


async def client_batch(http: aiohttp.ClientSession, url: str, count: int) -> None:
    """`count` concurrent GETs, as the executor sends a batch of HTTP tools."""
    async def get() -> None:
        response = await http_tool.send(http, http_tool.HttpRequest("GET", url), 1 << 20)
        assert response.status == 200, response.status

    async with anyio.create_task_group() as tg:
        for _ in range(count):
            tg.start_soon(get)


def batch(count: int, wait_ms: int) -> dict[str, Any]:
    return {"tools": [{"tool_slug": f"BENCH_HTTP_WAIT_{i:02d}", "arguments": {"ms": wait_ms}}
                      for i in range(1, count + 1)]}


async def run(budget: Budget, workdir: Path) -> ScenarioResult:
    default_parallel = ExecutionConfig().max_parallel
    wide = max(budget.fanout_calls, default_parallel)
    with running(servers.slow_api("slow_api", workdir)) as (api,):
        root = write_toolkit(workdir / "fanout_toolkits", api.base_url, budget.fanout_calls)
        procs = {f"max_parallel={default_parallel} (default)": servers.concierge("fanout_default", workdir,
                                                                                  toolkit_paths=(root,)),
                 f"max_parallel={wide}": servers.concierge("fanout_wide", workdir, toolkit_paths=(root,),
                                                           max_parallel=wide)}
        with running(*procs.values()):
            async with httpx.AsyncClient(timeout=30) as http:
                urls = {name: await create_session(http, p.base_url, servers.BENCH_API_KEY,
                                                   {"user_id": "bench_fanout", "toolkits": [TOOLKIT]})
                        for name, p in procs.items()}
            async with open_raw(list(urls.values())) as callers, http_tool.new_client(30) as direct:
                by_name = dict(zip(urls, callers, strict=True))
                many = batch(budget.fanout_calls, budget.fanout_wait_ms)
                sides = [Side(name, [calling(c, "COMPOSIO_MULTI_EXECUTE_TOOL", many)], procs[name].cpu_seconds)
                         for name, c in by_name.items()]
                wait_url = f"{api.base_url}/wait/{budget.fanout_wait_ms}"

                def direct_batch(n: int) -> Step:
                    return "batch", lambda: client_batch(direct, wait_url, budget.fanout_calls)

                sides.append(Side(CLIENT_ALONE, [direct_batch], time.process_time))
                totals = await alternate(sides, rounds=budget.fanout_batches, calls_per_round=1,
                                         seconds_per_round=30, warmup_calls=2)
                single = await run_load([calling(callers[0], "COMPOSIO_MULTI_EXECUTE_TOOL",
                                                 batch(1, budget.fanout_wait_ms))],
                                        max_calls=budget.fanout_batches, max_seconds=30)
    ideal = budget.fanout_wait_ms
    data: dict[str, Any] = {"calls_per_batch": budget.fanout_calls, "wait_ms": ideal,
                            "single_call": single.summary(),
                            **{name: s.summary() for name, s in totals.items()}}
    rows = [Row("4 fan-out", f"1 call waiting {ideal} ms: p50", f"{data['single_call']['p50_ms']:.0f} ms",
                ratio(data["single_call"]["p50_ms"], ideal))]
    for name in totals:
        p50 = data[name]["p50_ms"]
        data[name]["ratio_to_ideal"] = ratio(p50, ideal)
        ours = name != CLIENT_ALONE
        rows.append(Row("4 fan-out", f"{budget.fanout_calls} calls x {ideal} ms, {name}: p50 / max",
                        f"{p50:.0f} / {data[name]['p99_ms']:.0f} ms (ideal {ideal} ms)", ratio(p50, ideal),
                        f"<= {MAX_RATIO_TO_IDEAL}x ideal" if ours else "",
                        at_most(ratio(p50, ideal), MAX_RATIO_TO_IDEAL) if ours else None))
    return ScenarioResult("fanout", data, rows)
