"""The admin console with many sessions: seed them through the store, start a real server on that
database, log in, and time the session listings a person would open (first page, a page deep in the
list reached by following "Next page", filters by user, toolkit and date) end to end over HTTP.

    python -m bench.console                    # 100,000 sessions (seeding takes a minute or two)
    python -m bench.console --sessions 5000    # quick look
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from server.store import open_store, sqlite_url
from tests.live import API_KEY, LiveServer

USERS = 1000
TOOLKITS = ["math", "text", "datetime", "github", "slack"]
WRITERS = 8
ROUNDS = 15


async def seed(db: Path, total: int) -> float:
    """`total` sessions for `USERS` users, each naming one toolkit; returns the seconds it took."""
    store = await open_store(sqlite_url(db))
    started = time.perf_counter()

    async def writer(first: int) -> None:
        for i in range(first, total, WRITERS):
            config = {"toolkits": {"enable": [TOOLKITS[i % len(TOOLKITS)]]}}
            await store.sessions.insert(f"sess_bench{i:027d}", f"user_{i % USERS}", config)

    try:
        await asyncio.gather(*(writer(w) for w in range(WRITERS)))
    finally:
        await store.aclose()
    return time.perf_counter() - started


def timed(client: httpx.Client, url: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    page = client.get(url)
    ms = (time.perf_counter() - t0) * 1000
    assert page.status_code == 200, (url, page.status_code, page.text[:300])
    return ms, page.text


def next_link(html: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="next">', html)
    return found.group(1).replace("&amp;", "&") if found else None


def login(server: LiveServer) -> httpx.Client:
    client = httpx.Client(base_url=server.url, follow_redirects=False, timeout=60)
    form = client.get("/admin/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token, form[:300]
    done = client.post("/admin/login", data={"csrf_token": token.group(1), "admin_key": API_KEY})
    assert done.status_code == 303, done.text[:300]
    return client


def measure(server: LiveServer, deep_pages: int) -> dict[str, float]:
    client = login(server)
    urls = {
        "first page": "/admin/sessions",
        "user filter": "/admin/sessions?user_id=user_42",
        "toolkit filter": "/admin/sessions?toolkit=slack",
        "toolkit + user filter": "/admin/sessions?toolkit=math&user_id=user_500",
        "date range": "/admin/sessions?created_from=2000-01-01&created_to=2999-12-31",
    }
    url: str | None = "/admin/sessions"
    for _ in range(deep_pages):  # walk "Next page" as a person would, then time the page it reached
        assert url is not None
        url = next_link(timed(client, url)[1])
    assert url is not None
    urls[f"page {deep_pages + 1} (keyset)"] = url
    results = {}
    for name, target in urls.items():
        times = sorted(timed(client, target)[0] for _ in range(ROUNDS))
        results[name] = statistics.median(times)
    return results


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.console", description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--deep", type=int, default=200, help="pages to walk before timing a deep page")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        seconds = asyncio.run(seed(data / "concierge.db", args.sessions))
        print(f"seeded {args.sessions} sessions in {seconds:.1f} s", flush=True)
        server = LiveServer(data).start()
        try:
            results = measure(server, min(args.deep, args.sessions // 50 - 1))
        finally:
            server.stop()
    print(f"| console page at {args.sessions:,} sessions | median of {ROUNDS} (ms) |")
    print("| --- | --- |")
    for name, ms in results.items():
        print(f"| {name} | {ms:.1f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
