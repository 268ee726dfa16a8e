"""The floor for a proxied MCP call: a relay that forwards each POST body to the upstream and its answer
back, with nothing else (no sessions, credentials, validation or log). It runs on the same loop,
parser and HTTP client as Concierge as installed (uvloop + httptools, `server.upstreams.http_pool`),
so what it adds over a direct call is what any proxy process in the chain costs on this machine.

    python -m bench.serve_relay --ready-file F --upstream URL [--fast]
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from bench.serving import add_server_args, bind_loopback, serve
from server.upstreams.http_pool import HttpPool

FORWARDED = (b"content-type", b"accept", b"mcp-protocol-version", b"mcp-method", b"mcp-name", b"mcp-session-id")


class Relay:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.http: HttpPool | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.http is not None
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"] if k in FORWARDED}
        async with self.http.post(self.upstream, b"".join(chunks), headers) as answer:
            body = await answer.read()
            out = [(b"content-type", answer.headers.get("content-type", "application/json").encode())]
            if "mcp-session-id" in answer.headers:
                out.append((b"mcp-session-id", answer.headers["mcp-session-id"].encode()))
            await send({"type": "http.response.start", "status": answer.status, "headers": out})
            await send({"type": "http.response.body", "body": body})


def build_relay_app(upstream: str) -> Starlette:
    relay = Relay(upstream)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        relay.http = HttpPool()
        try:
            yield
        finally:
            relay.http.close()

    return Starlette(routes=[Route("/mcp", relay, methods=["POST"])], lifespan=lifespan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_server_args(parser)
    parser.add_argument("--upstream", required=True, help="the MCP URL every request is forwarded to")
    args = parser.parse_args()
    serve(build_relay_app(args.upstream), bind_loopback(), args)


if __name__ == "__main__":
    main()
