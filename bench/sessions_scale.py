"""Scenario 3: many sessions. Create them (time, database size), resolve random ones under load, and
see what 10k recently used sessions cost the server in memory.

Creation goes straight through `SessionService.create` in this process (the REST layer around it is
thin and measured in scenario 5), with the same validation and SQLite writes as the API, from
`CREATORS` concurrent tasks as an app's request handlers would. Resolution
is measured end to end with `tools/list`, the cheapest request that needs the session: on a session
the server has not seen since it started (its cache is cold, so the row is read and the tool filter
resolved) against one hot session, in alternating rounds. Before those rounds, more cold sessions
are touched, so that `sessions_used` distinct sessions were used within the last minute when the
server's memory is read.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio

from bench import servers
from bench.budget import Budget
from bench.clients import RawCaller, open_raw
from bench.load import Side, Worker, alternate, ratio, run_load
from bench.procs import running
from bench.report import Row, ScenarioResult
from server.config import Settings
from server.runtime import Runtime

SEED = 7
CREATORS = 4  # concurrent callers: one validates while another's insert is on the database thread


async def create_sessions(data_dir: Path, total: int) -> tuple[list[str], dict[str, Any]]:
    """`total` sessions for 1,000 users through the session service; their ids and what it took."""
    settings = Settings(data_dir=data_dir, toolkit_paths=[servers.BENCH_TOOLKITS], builtin_toolkits=False,
                        search={"semantic": "off"})
    runtime = await Runtime.start(settings)
    ids: list[str] = []

    async def creator(first: int) -> None:
        for i in range(first, total, CREATORS):
            session = await runtime.sessions.create({"user_id": f"user_{i % 1000}", "toolkits": ["bench_noop"]})
            ids.append(session.id)

    try:
        t0 = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for first in range(CREATORS):
                tg.start_soon(creator, first)
        seconds = time.perf_counter() - t0
    finally:
        await runtime.aclose()
    size = database_bytes(settings.db_path)
    return ids, {"created": total, "create_s": round(seconds, 1), "creates_per_s": round(total / seconds),
                 "db_mb": round(size / 2**20, 1), "db_bytes_per_session": round(size / total)}


def database_bytes(db_path: Path) -> int:
    """The database with its WAL and shared-memory files."""
    return sum(p.stat().st_size for p in db_path.parent.glob(f"{db_path.name}*"))


def _workers(callers: list[RawCaller], urls: Iterator[str]) -> list[Worker]:
    """Each call goes to the next URL of the shared iterator `urls`."""
    def worker(caller: RawCaller) -> Worker:
        return lambda n: ("resolve", lambda: caller.at(next(urls)).list_tools())
    return [worker(c) for c in callers]


async def run(budget: Budget, workdir: Path) -> ScenarioResult:
    data_dir = workdir / "sessions.data"
    ids, created = await create_sessions(data_dir, budget.sessions_total)
    cold_ids = random.Random(SEED).sample(ids[1:], budget.sessions_used)
    proc = servers.concierge("sessions", workdir, data_dir=data_dir)
    with running(proc):
        mcp = f"{proc.base_url}/mcp/"
        hot, cold = itertools.repeat(mcp + ids[0]), iter([mcp + i for i in cold_ids])
        async with open_raw([mcp + ids[0]] * budget.sessions_clients) as raw:
            await run_load(_workers(raw, hot), max_calls=budget.warmup_calls, max_seconds=30)
            rss_before = proc.rss_bytes()
            in_rounds = budget.sessions_round_calls * budget.sessions_rounds
            touched = await run_load(_workers(raw, cold), max_calls=budget.sessions_used - in_rounds, max_seconds=120)
            totals = await alternate([Side("hot", _workers(raw, hot), proc.cpu_seconds),
                                      Side("cold", _workers(raw, cold), proc.cpu_seconds)],
                                     rounds=budget.sessions_rounds, calls_per_round=budget.sessions_round_calls,
                                     seconds_per_round=60, warmup_calls=0)
            rss_after = proc.rss_bytes()
    used = sum(len(s.values()) + sum(s.errors.values()) for s in (touched, totals["cold"]))
    data: dict[str, Any] = {
        **created, "hot": totals["hot"].summary(), "cold": totals["cold"].summary(), "clients": budget.sessions_clients,
        "cold_sessions_used": used, "server_rss_before_mb": round(rss_before / 2**20, 1),
        "server_rss_after_mb": round(rss_after / 2**20, 1),
        "rss_per_used_session_kb": round((rss_after - rss_before) / used / 1024, 2) if used else None,
    }
    hot_s, cold_s = data["hot"], data["cold"]
    grown = data["server_rss_after_mb"] - data["server_rss_before_mb"]
    rows = [
        Row("3 sessions", f"create {created['created']:,} (SessionService)",
            f"{created['create_s']:.0f} s ({created['creates_per_s']:,}/s), DB {created['db_mb']:.0f} MB "
            f"({created['db_bytes_per_session']} B/session)"),
        Row("3 sessions", f"resolve random ids, {budget.sessions_clients} clients: p50 / p99",
            f"{cold_s['p50_ms']:.1f} / {cold_s['p99_ms']:.1f} ms vs hot session {hot_s['p50_ms']:.1f} / "
            f"{hot_s['p99_ms']:.1f} ms; {cold_s['calls_per_s']:.0f} vs {hot_s['calls_per_s']:.0f} calls/s",
            ratio(cold_s["p50_ms"], hot_s["p50_ms"])),
        Row("3 sessions", f"server memory, {used:,} sessions used in the last minute",
            f"RSS {data['server_rss_after_mb']:.0f} MB (+{grown:.0f} MB, "
            f"{data['rss_per_used_session_kb']} KB/session)"),
    ]
    return ScenarioResult("sessions", data, rows)
