"""A local HTTP API whose one endpoint waits before answering: the stand-in for a provider's API in the
fan-out scenario (20 HTTP tools, each waiting 100 ms, should finish together in about 100 ms).

    python -m bench.serve_slow_api --ready-file F      then   GET /wait/{ms}
"""

from __future__ import annotations

import argparse

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.serving import add_server_args, bind_loopback, serve

MAX_WAIT_MS = 10_000


async def wait(request: Request) -> JSONResponse:
    ms = min(int(request.path_params["ms"]), MAX_WAIT_MS)
    await anyio.sleep(ms / 1000)
    return JSONResponse({"waited_ms": ms})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_server_args(parser)
    args = parser.parse_args()
    sock = bind_loopback()
    serve(Starlette(routes=[Route("/wait/{ms:int}", wait)]), sock, args)


if __name__ == "__main__":
    main()
