"""The servers the scenarios start: Concierge, the bare SDK baseline, and a slow local HTTP API."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from bench.procs import ServerProcess
from bench.serve_concierge import BENCH_API_KEY

BENCH_TOOLKITS = Path(__file__).resolve().parent / "toolkits"
NOOP_TOOL = "BENCH_NOOP_PING"
# uvloop + httptools are optional: without them the "fast" variants are skipped and the local API runs on h11.
FAST_AVAILABLE = all(importlib.util.find_spec(name) is not None for name in ("uvloop", "httptools"))

__all__ = ["BENCH_API_KEY", "BENCH_TOOLKITS", "FAST_AVAILABLE", "NOOP_TOOL", "bare", "concierge", "concierge_default",
           "relay", "slow_api"]


def concierge(name: str, workdir: Path, *, fast: bool = False, toolkit_paths: tuple[Path, ...] = (BENCH_TOOLKITS,),
              catalog_tools: int = 0, max_parallel: int | None = None, data_dir: Path | None = None,
              profile: Path | None = None, upstreams: dict[str, Any] | None = None) -> ServerProcess:
    args = ["--data-dir", str(data_dir or workdir / f"{name}.data"), "--catalog-tools", str(catalog_tools)]
    if upstreams:
        args += ["--upstreams", json.dumps(upstreams)]
    for path in toolkit_paths:
        args += ["--toolkit-path", str(path)]
    if max_parallel:
        args += ["--max-parallel", str(max_parallel)]
    return ServerProcess(name, "bench.serve_concierge", args + _fast(fast), workdir, profile)


def concierge_default(name: str, workdir: Path, *, profile: Path | None = None) -> ServerProcess:
    """`concierge serve` as installed (`bench.serve_default`): built-in toolkits, INFO logging, uvicorn's
    auto loop and parser (uvloop + httptools, both dependencies)."""
    return ServerProcess(name, "bench.serve_default", ["--data-dir", str(workdir / f"{name}.data")], workdir, profile)


def bare(name: str, workdir: Path, *, fast: bool = False, profile: Path | None = None) -> ServerProcess:
    return ServerProcess(name, "bench.serve_bare", _fast(fast), workdir, profile)


def relay(name: str, workdir: Path, upstream: str) -> ServerProcess:
    """The least a proxy process adds (`bench.serve_relay`), on Concierge's loop, parser and HTTP client."""
    return ServerProcess(name, "bench.serve_relay", ["--upstream", upstream, *_fast(FAST_AVAILABLE)], workdir)


def slow_api(name: str, workdir: Path) -> ServerProcess:
    """On uvloop + httptools when installed: it stands in for a remote API, so its own cost should be small."""
    return ServerProcess(name, "bench.serve_slow_api", _fast(FAST_AVAILABLE), workdir)


def _fast(fast: bool) -> list[str]:
    return ["--fast"] if fast else []
