"""Concierge as a benchmark server: the real `build_app`, loaded with bench toolkits and, optionally,
a generated catalog of N tools (`bench.catalog_gen`), whose index build time and memory it reports.

    python -m bench.serve_concierge --ready-file F --data-dir D --toolkit-path bench/toolkits [--fast]
        [--catalog-tools 10000] [--max-parallel 20]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from bench.catalog_gen import generate_toolkits
from bench.procs import rss_bytes
from bench.serving import add_server_args, bind_loopback, serve
from server.app import build_app
from server.catalog.catalog import Catalog
from server.catalog.loader import load_toolkits
from server.config import Settings

BENCH_API_KEY = "ck_bench_admin_key_0123456789abcdef"


def build_catalog(toolkit_paths: list[Path], generated_tools: int) -> tuple[Catalog, dict[str, Any]]:
    """The catalog, and what building its search index cost (time, resident memory growth)."""
    toolkits = load_toolkits(toolkit_paths)
    if generated_tools:
        toolkits += generate_toolkits(generated_tools)
    rss0, t0 = rss_bytes(os.getpid()), time.perf_counter()
    catalog = Catalog(toolkits)
    len(catalog.index)  # built lazily: build it here, inside the measurement
    build_s, rss1 = time.perf_counter() - t0, rss_bytes(os.getpid())
    return catalog, {"tools": len(catalog.tools), "toolkits": len(catalog.toolkits),
                     "index_build_s": round(build_s, 3), "index_rss_mb": round((rss1 - rss0) / 2**20, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_server_args(parser)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--toolkit-path", type=Path, action="append", default=[])
    parser.add_argument("--catalog-tools", type=int, default=0, help="add a generated catalog of this many tools")
    parser.add_argument("--max-parallel", type=int, default=None, help="execution.max_parallel (default: Settings')")
    parser.add_argument("--upstreams", type=json.loads, default={}, help="JSON: the [upstreams] table")
    args = parser.parse_args()
    sock = bind_loopback()
    catalog, info = build_catalog(args.toolkit_path, args.catalog_tools)
    execution = {"max_parallel": args.max_parallel} if args.max_parallel else {}
    settings = Settings(host="127.0.0.1", port=sock.getsockname()[1], data_dir=args.data_dir, api_key=BENCH_API_KEY,
                        builtin_toolkits=False, log_level="warning", execution=execution,
                        upstreams=args.upstreams)
    info["rss_after_catalog_mb"] = round(rss_bytes(os.getpid()) / 2**20, 1)
    serve(build_app(settings, announce=lambda line: None, catalog=catalog), sock, args, info)


if __name__ == "__main__":
    main()
