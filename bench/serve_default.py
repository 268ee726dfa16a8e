"""Concierge exactly as `concierge serve` runs it by default: the CLI's own start-up (`run_server`),
built-in toolkits, default logging (INFO), uvicorn's own choice of loop and HTTP parser, no config
file. Only what a benchmark cannot do without is added: the bench toolkit (the no-op tool the
overhead scenario calls), a known admin key and a data folder.

    python -m bench.serve_default --ready-file F --data-dir D
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from bench.serve_concierge import BENCH_API_KEY
from bench.serving import bind_loopback
from server.cli import LISTEN_BACKLOG, configure_logging, run_server
from server.config import load_settings

BENCH_TOOLKITS = Path(__file__).resolve().parent / "toolkits"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ready-file", type=Path, required=True, help="where to write {port, pid} once listening")
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args()
    sock = bind_loopback()
    sock.listen(LISTEN_BACKLOG)
    port = sock.getsockname()[1]
    settings = load_settings(None, {"host": "127.0.0.1", "port": port, "data_dir": args.data_dir,
                                    "api_key": BENCH_API_KEY, "toolkit_paths": [BENCH_TOOLKITS]}, environ={})
    configure_logging(settings)

    def announce(line: str) -> None:
        print(line, flush=True)
        if "listening" in line:
            tmp = args.ready_file.with_suffix(".tmp")
            tmp.write_text(json.dumps({"pid": os.getpid(), "port": port, "default": True}))
            tmp.replace(args.ready_file)

    run_server(settings, sock, announce=announce)  # SIGINT stops it and returns (server.cli.StopSignals)


if __name__ == "__main__":
    main()
