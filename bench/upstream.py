"""Scenario 6: an upstream MCP server behind Concierge, against the same server called directly.

Latency: the bare SDK server (`bench.serve_bare`, Streamable HTTP) is registered as upstream `bare`
through the REST API of Concierge as `concierge serve` runs it by default (`bench.serve_default`).
Direct: the SDK client calls `BENCH_NOOP_PING` on it. Proxied: the SDK client calls
`COMPOSIO_MULTI_EXECUTE_TOOL` running `BARE_BENCH_NOOP_PING` on Concierge, which calls the upstream
over its pooled session. Relay: the same call through `bench.serve_relay`, a process that only
forwards bodies (the least any proxy process in the chain costs on this machine). The proxied and
direct calls are also made with the raw JSON-RPC client, whose own CPU per call is a fraction of the
SDK client's, to show how much of the difference is the client's. Price of work: the direct call
with the upstream busy for 1 ms more (`spin_us`), which says what a millisecond of CPU anywhere on the
path adds to the p50 on this machine, beside how much more CPU per call Concierge spends than the
relay. Short rounds
alternate (the side order reverses every other round); the added latency is the median over rounds
of a side's p50 minus the direct p50 of the same round, so a burst of load from elsewhere on a shared
machine, which lasts seconds, lands in a few rounds and not in the result.

Processes: the same server over stdio, taking a per-user credential from its environment (so one
process per user), called from many sessions of a few users at once; the upstream processes alive
are sampled throughout, and counted again after Concierge has stopped.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx

from bench import servers
from bench.budget import Budget
from bench.clients import calling, create_session, open_callers
from bench.load import Samples, Side, alternate_rounds, paired_median, pooled
from bench.procs import processes_marked, running
from bench.report import Row, ScenarioResult, at_most
from server.config import UpstreamPoolConfig

MAX_ADDED_P50_MS = 1.5
SPIN_US = 1000  # the "price of work" side: one millisecond of busy CPU in the upstream
UPSTREAM_MARK = "CONCIERGE_BENCH_UPSTREAM"
PROXIED_CALL = ("COMPOSIO_MULTI_EXECUTE_TOOL",
                {"tools": [{"tool_slug": "BARE_BENCH_NOOP_PING", "arguments": {"n": 1}}]})
ROOT = Path(__file__).resolve().parents[1]


async def _latency(budget: Budget, workdir: Path) -> tuple[dict[str, Any], list[Row]]:
    bare = servers.bare("upstream_bare", workdir)
    with running(bare):
        upstream_url = f"{bare.base_url}/mcp"
        concierge = servers.concierge_default("concierge_proxy", workdir)
        relay = servers.relay("relay", workdir, upstream_url)
        with running(concierge, relay):
            async with httpx.AsyncClient(timeout=30) as http:
                registered = await http.post(f"{concierge.base_url}/api/v1/upstreams",
                                             json={"name": "bare", "url": upstream_url},
                                             headers={"Authorization": f"Bearer {servers.BENCH_API_KEY}"})
                assert registered.status_code == 201, registered.text
                proxied_url = await create_session(http, concierge.base_url, servers.BENCH_API_KEY,
                                                   {"user_id": "bench_user", "toolkits": ["bare"]})
            urls = [proxied_url, upstream_url, f"{relay.base_url}/mcp"]
            async with open_callers("sdk", urls) as sdk, open_callers("raw", urls[:2]) as raw:
                sides = [Side("proxied", [calling(sdk[0], *PROXIED_CALL)], concierge.cpu_seconds),
                         Side("direct", [calling(sdk[1], servers.NOOP_TOOL, {"n": 1})], bare.cpu_seconds),
                         Side("relay", [calling(sdk[2], servers.NOOP_TOOL, {"n": 1})], relay.cpu_seconds),
                         Side("direct + 1 ms", [calling(sdk[1], servers.NOOP_TOOL, {"n": 1, "spin_us": SPIN_US})],
                              bare.cpu_seconds),
                         Side("raw proxied", [calling(raw[0], *PROXIED_CALL)], concierge.cpu_seconds),
                         Side("raw direct", [calling(raw[1], servers.NOOP_TOOL, {"n": 1})], bare.cpu_seconds)]
                rounds = await alternate_rounds(sides, rounds=budget.upstream_rounds,
                                                calls_per_round=budget.overhead_calls,
                                                seconds_per_round=budget.overhead_seconds,
                                                warmup_calls=budget.warmup_calls)
    totals = pooled(rounds)
    data: dict[str, Any] = {name: samples.summary() for name, samples in totals.items()}
    added = {name: _added(rounds, name, base) for name, base in
             (("proxied", "direct"), ("relay", "direct"), ("raw proxied", "raw direct"), ("direct + 1 ms", "direct"))}
    data["added_p50_ms"] = round(added["proxied"], 3)
    data["relay_added_p50_ms"] = round(added["relay"], 3)
    data["raw_client_added_p50_ms"] = round(added["raw proxied"], 3)
    data["one_ms_of_work_added_p50_ms"] = round(added["direct + 1 ms"], 3)
    more_cpu = data["proxied"]["server_cpu_ms_per_call"] - data["relay"]["server_cpu_ms_per_call"]
    errors = sum(data[name]["errors"] for name in totals)
    rows = [Row("6 upstream", "proxied vs direct call: p50 added (median of rounds)",
                f"+{added['proxied']:.2f} ms over {len(rounds)} rounds (pooled p50 {data['proxied']['p50_ms']:.2f} ms "
                f"vs direct {data['direct']['p50_ms']:.2f} ms, {errors} errors)", None, f"<= +{MAX_ADDED_P50_MS} ms",
                at_most(added["proxied"], MAX_ADDED_P50_MS) and errors == 0),
            Row("6 upstream", "floor: a bare relay vs direct call (bench.serve_relay)",
                f"+{added['relay']:.2f} ms (pooled p50 {data['relay']['p50_ms']:.2f} ms)", None),
            Row("6 upstream", "raw JSON-RPC client instead of the SDK's: proxied vs direct",
                f"+{added['raw proxied']:.2f} ms (pooled p50 {data['raw proxied']['p50_ms']:.2f} ms vs direct "
                f"{data['raw direct']['p50_ms']:.2f} ms)", None),
            Row("6 upstream", "the SDK client's own CPU per call, over a direct call's",
                f"proxied {_more_cpu(data, 'proxied')}, relayed {_more_cpu(data, 'relay')}", None),
            Row("6 upstream", "price of work: the upstream spending 1 ms of CPU more per call, vs direct",
                f"+{added['direct + 1 ms']:.2f} ms; Concierge spends {more_cpu:+.2f} ms of CPU per call over the relay "
                f"({data['proxied']['server_cpu_ms_per_call']:.2f} vs {data['relay']['server_cpu_ms_per_call']:.2f})",
                None)]
    return data, rows


def _more_cpu(data: dict[str, Any], side: str) -> str:
    """How much more CPU the client spent per call on `side` than on a direct call (pooled over the rounds):
    the client pays for what Concierge sends and for running beside it on the same cores."""
    return f"+{data[side]['client_cpu_ms_per_call'] - data['direct']['client_cpu_ms_per_call']:.2f} ms"


def _added(rounds: list[dict[str, Samples]], side: str, base: str) -> float:
    """Median over rounds of this side's p50 minus the `base` side's p50 in the same round."""
    added = paired_median(rounds, side, base, "p50_ms", lambda ours, theirs: ours - theirs)
    assert added is not None
    return added


async def _connect(http: httpx.AsyncClient, base_url: str, user: str) -> None:
    """The user's credential for the stdio upstream, typed into the Connect Link's form."""
    headers = {"Authorization": f"Bearer {servers.BENCH_API_KEY}"}
    link = await http.post(f"{base_url}/api/v1/connected_accounts/link", headers=headers,
                           json={"user_id": user, "toolkit": "stdio_bare"})
    link.raise_for_status()
    url = link.json()["redirect_url"]
    page = await http.get(url)  # the client keeps the page's CSRF cookie for the POST
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
    assert "state" in hidden, page.text[:300]
    done = await http.post(url, data={**hidden, "token": f"token_of_{user}"})
    done.raise_for_status()


async def _processes(budget: Budget, workdir: Path) -> tuple[dict[str, Any], list[Row]]:
    users = [f"user{i}" for i in range(budget.upstream_users)]
    upstream = {"command": sys.executable, "args": ["-m", "bench.serve_bare", "--stdio"],
                "cwd": str(ROOT), "env": {UPSTREAM_MARK: "1"},
                "auth": {"type": "header", "env": "BENCH_USER_TOKEN"}}
    concierge = servers.concierge("concierge_stdio", workdir, upstreams={"stdio_bare": upstream})
    peak, errors, calls = 0, 0, 0
    with running(concierge):
        async with httpx.AsyncClient(timeout=60) as http:
            for user in users:
                await _connect(http, concierge.base_url, user)
            urls = [await create_session(http, concierge.base_url, servers.BENCH_API_KEY,
                                         {"user_id": users[i % len(users)], "toolkits": ["stdio_bare"]})
                    for i in range(budget.upstream_sessions)]
        call = ("COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [{"tool_slug": "STDIO_BARE_BENCH_NOOP_PING",
                                                           "arguments": {"n": 1}}]})
        async with open_callers("raw", urls) as callers:
            async def one(caller: Any) -> None:
                nonlocal errors, calls
                for _ in range(2):
                    try:
                        result = await caller.call_tool(*call)
                        errors += not result.get("successful", False)
                    except Exception:
                        errors += 1
                    calls += 1

            async def sample() -> None:
                nonlocal peak
                while True:
                    peak = max(peak, len(processes_marked(UPSTREAM_MARK)))
                    await anyio.sleep(0.2)

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(sample)
                async with anyio.create_task_group() as load:
                    for caller in callers:
                        load.start_soon(one, caller)
                tasks.cancel_scope.cancel()
    await anyio.sleep(1)
    left = len(processes_marked(UPSTREAM_MARK))
    data = {"sessions": len(urls), "users": len(users), "calls": calls, "errors": errors,
            "peak_processes": peak, "processes_after_shutdown": left}
    bound = UpstreamPoolConfig().max_processes  # one per user, plus the one that lists tools, within the bound
    rows = [Row("6 upstream", f"{len(urls)} sessions of {len(users)} users, one stdio upstream",
                f"peak {peak} processes, {left} after shutdown, {errors} errors in {calls} calls", None,
                f"<= {bound}, 0 left", peak <= bound and left == 0 and errors == 0)]
    return data, rows


async def run(budget: Budget, workdir: Path) -> ScenarioResult:
    latency, rows = await _latency(budget, workdir)
    processes, more = await _processes(budget, workdir)
    return ScenarioResult("upstream", {"latency": latency, "processes": processes}, rows + more)
