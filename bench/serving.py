"""The child side of a benchmark server: one uvicorn configuration for every server we compare.

Both sides of a comparison are started through `serve()`, so they differ only in the app: same
uvicorn settings, same loop and HTTP parser, same (absent) access log. A server announces itself by
writing a JSON file (`--ready-file`) once it listens, which the parent polls (`bench.procs`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from starlette.types import ASGIApp

STARTUP_TIMEOUT_SECONDS = 300


def add_server_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ready-file", type=Path, required=True, help="where to write {port, pid, ...} once listening")
    parser.add_argument("--fast", action="store_true", help="uvloop + httptools instead of asyncio + h11")


def bind_loopback() -> socket.socket:
    """Bound before the app is built, so the app's settings can name the real port.

    `IPPROTO_TCP` matters: asyncio sets TCP_NODELAY only on sockets whose `proto` says TCP, and
    accepted sockets inherit it. With proto 0, h11 writes headers and body separately and Nagle
    plus delayed ACKs add ~40 ms to every response.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def uvicorn_config(app: ASGIApp, fast: bool) -> uvicorn.Config:
    """Explicit loop and parser: uvicorn's `auto` would pick uvloop/httptools whenever installed."""
    return uvicorn.Config(app, loop="uvloop" if fast else "asyncio", http="httptools" if fast else "h11",
                          lifespan="on", log_level="warning", access_log=False)


def _announce_when_started(server: uvicorn.Server, ready_file: Path, info: dict[str, Any]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not server.started and not server.should_exit and time.monotonic() < deadline:
        time.sleep(0.01)
    if server.started:
        tmp = ready_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"pid": os.getpid(), **info}))
        tmp.replace(ready_file)


def serve(app: ASGIApp, sock: socket.socket, args: argparse.Namespace, info: dict[str, Any] | None = None) -> None:
    """Run until SIGINT/SIGTERM; `info` (e.g. index build time) is passed to the parent in the ready file."""
    server = uvicorn.Server(uvicorn_config(app, args.fast))
    info = {"port": sock.getsockname()[1], "fast": args.fast, **(info or {})}
    threading.Thread(target=_announce_when_started, args=(server, args.ready_file, info), daemon=True).start()
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the SIGINT it stopped on
        server.run(sockets=[sock])
