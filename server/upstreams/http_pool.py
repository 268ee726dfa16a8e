"""POSTs to HTTP upstreams on kept-alive HTTP/1.1 connections: asyncio protocols carry the bytes and
httptools (the parser uvicorn serves with) reads the answers.

A proxied call is mostly this one request, and a general-purpose client pays on every request for
what an MCP call never uses (cookies, redirects, content decoding, tracing hooks, multipart): aiohttp
spent about three times the CPU per request (docs/upstreams.md). What a call does need is kept: TLS
with the system's trust store, a bound on open connections, answers of any framing (length, chunked,
until close), streamed bodies for server-sent events, and no connection reused once its state is
unknown (a cancelled call, an answer not read to its end, a server that says close, one idle long
enough that the server may be closing it).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools

IDLE_REUSE_SECONDS = 1.0  # under every common server's keep-alive timeout (gunicorn's is 2 s)
MAX_HEADER_BLOCKS = 1024
FRAMING_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_BREAKS = re.compile(r"[\r\n\0]")


def no_connection(url: str) -> str:
    """What a refused or unroutable connection means, said with the address (httpx's own "All connection
    attempts failed" names neither)."""
    return f"no connection to {url} (nothing listening there, or the host cannot be reached)"


class HttpFailure(Exception):
    """The request could not be sent or its answer not read: refused, reset, TLS, a malformed answer."""


class RequestRefused(HttpFailure):
    """The request itself cannot be sent as asked (a URL or header HTTP cannot carry); nothing was sent."""


class AnswerTooLarge(HttpFailure):
    """The answer grew past the pool's `max_answer_bytes`: it is dropped as it arrives, not read whole."""


@dataclass(frozen=True)
class _Target:
    key: tuple[str, str, int]
    host: str
    port: int
    tls: bool
    head: bytes  # the request line and Host header


def _target(url: str) -> _Target:
    split = urlsplit(url)
    if split.scheme not in ("http", "https") or not split.hostname:
        raise RequestRefused(f"not an http(s) URL: {url!r}")
    if split.username or split.password:
        raise RequestRefused("credentials in the URL are not sent; give the upstream an auth setting instead")
    tls = split.scheme == "https"
    port = split.port or (443 if tls else 80)
    path = (split.path or "/") + (f"?{split.query}" if split.query else "")
    host = split.netloc.rpartition("@")[2]
    head = f"POST {path} HTTP/1.1\r\nhost: {host}\r\naccept-encoding: identity\r\n".encode("latin-1")
    return _Target((split.scheme, split.hostname, port), split.hostname, port, tls, head)


def _header_lines(headers: Mapping[str, str]) -> bytes:
    lines = []
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name) or name.lower() in FRAMING_HEADERS:
            raise RequestRefused(f"header {name!r} cannot be set on an upstream request")
        if _BREAKS.search(value):
            raise RequestRefused(f"the value of header {name!r} holds a line break")
        lines.append(f"{name}: {value}\r\n")
    try:
        return "".join(lines).encode("latin-1")
    except UnicodeEncodeError:
        raise RequestRefused("a header value holds characters HTTP headers cannot carry") from None


class Answer:
    """An answer whose head has arrived; its body is read with `read()`, `text()` or `lines()`."""

    def __init__(self, conn: _Connection, status: int, headers: dict[str, str]) -> None:
        self._conn = conn
        self.status = status
        self.headers = headers  # names lower-cased; the last of repeated ones

    async def read(self) -> bytes:
        chunks = []
        while (chunk := await self._conn.next_chunk()) is not None:
            chunks.append(chunk)
        return b"".join(chunks)

    async def text(self) -> str:
        return (await self.read()).decode("utf-8", "replace")

    async def lines(self) -> AsyncIterator[bytes]:
        """The body split after each `\\n`, as it arrives (a last line without one included)."""
        pending = b""
        while (chunk := await self._conn.next_chunk()) is not None:
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for line in complete:
                yield line + b"\n"
        if pending:
            yield pending


class _Connection(asyncio.Protocol):
    def __init__(self, max_answer_bytes: int | None) -> None:
        self.max_answer_bytes = max_answer_bytes
        self.received = 0  # bytes of the current answer, head included
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self.idle_since = 0.0
        self.reusable = False  # set once an answer has been read whole on a connection the server keeps
        self._parser = httptools.HttpResponseParser(self)
        self._head: asyncio.Future[Answer] | None = None
        self._headers: dict[str, str] = {}
        self._body: deque[bytes] = deque()
        self._complete = False
        self._error: HttpFailure | None = None
        self._waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses

    def send(self, request: bytes) -> asyncio.Future[Answer]:
        assert self.transport is not None
        self._parser = httptools.HttpResponseParser(self)
        self._headers = {}
        self._body.clear()
        self._complete = self.reusable = False
        self._error = None
        self.received = 0
        self._head = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self._head

    def close(self) -> None:
        self.lost = True
        if self.transport is not None:
            self.transport.close()

    # the parser's callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        if self._head is not None and not self._head.done():
            self._head.set_result(Answer(self, self._parser.get_status_code(), self._headers))

    def on_body(self, body: bytes) -> None:
        self._body.append(body)
        self._wake()

    def on_message_complete(self) -> None:
        self._complete = True
        self.reusable = self._parser.should_keep_alive()
        self._wake()

    # the transport's callbacks
    def data_received(self, data: bytes) -> None:
        if self._head is None or self._complete:
            self._fail(HttpFailure("the upstream sent bytes nobody asked for"))
            return
        if self._error is not None:
            return
        self.received += len(data)
        if self.max_answer_bytes is not None and self.received > self.max_answer_bytes:
            self._fail(AnswerTooLarge(f"the answer is larger than {self.max_answer_bytes} bytes"))
            return
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            self._fail(HttpFailure(f"the upstream's answer is not valid HTTP/1.1: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self._head is None or self._complete:
            return
        if self._head.done() and not {"content-length", "transfer-encoding"} & self._headers.keys():
            self._complete = True  # a body that ends where the connection does
            self._wake()
            return
        reason = f": {exc}" if exc else ""
        where = "mid-answer" if self._head.done() else "before answering"
        self._fail(HttpFailure(f"the upstream closed the connection {where}{reason}"))

    def _fail(self, error: HttpFailure) -> None:
        self._error = error
        if self._head is not None and not self._head.done():
            self._head.set_exception(error)
        self._wake()
        self.close()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next_chunk(self) -> bytes | None:
        """The next piece of the body, None at its end."""
        while not self._body and not self._complete and self._error is None:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self._body:
            return self._body.popleft()
        if self._error is not None:
            raise self._error
        return None


class HttpPool:
    """At most `limit` requests in flight at once; idle connections kept per origin and reused while
    fresh, closed by `prune()` otherwise. An answer larger than `max_answer_bytes` (head included) is an
    `AnswerTooLarge` error, its connection closed."""

    def __init__(
        self, limit: int = 100, tls: ssl.SSLContext | None = None, max_answer_bytes: int | None = None
    ) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._max_answer_bytes = max_answer_bytes
        self._tls = tls
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._targets: dict[str, _Target] = {}
        self._header_blocks: dict[tuple[tuple[str, str], ...], bytes] = {}  # checked and encoded, per header set

    @contextlib.asynccontextmanager
    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> AsyncIterator[Answer]:
        target = self._targets.get(url)
        if target is None:
            target = self._targets[url] = _target(url)
        request = b"".join((target.head, self._header_block(headers), b"content-length: %d\r\n\r\n" % len(body), body))
        async with self._slots:
            conn = self._reuse(target.key) or await self._connect(target)
            try:
                yield await conn.send(request)
            finally:
                if conn.reusable and not conn.lost:
                    conn.idle_since = time.monotonic()
                    self._idle.setdefault(target.key, []).append(conn)
                else:
                    self._forget(conn)

    def _header_block(self, headers: Mapping[str, str]) -> bytes:
        """A caller sends the same few header sets again and again: each is checked and encoded once."""
        key = tuple(headers.items())
        block = self._header_blocks.get(key)
        if block is None:
            block = _header_lines(headers)
            if len(self._header_blocks) >= MAX_HEADER_BLOCKS:
                self._header_blocks.clear()
            self._header_blocks[key] = block
        return block

    def _reuse(self, key: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        fresh_since = time.monotonic() - IDLE_REUSE_SECONDS
        while idle:
            conn = idle.pop()
            if not conn.lost and conn.idle_since > fresh_since:
                return conn
            self._forget(conn)
        return None

    async def _connect(self, target: _Target) -> _Connection:
        loop = asyncio.get_running_loop()
        tls = None
        if target.tls:
            if self._tls is None:  # loading the system's trust store reads files: off the event loop
                self._tls = await asyncio.to_thread(ssl.create_default_context)
            tls = self._tls
        try:
            _, conn = await loop.create_connection(
                lambda: _Connection(self._max_answer_bytes),
                target.host,
                target.port,
                ssl=tls,
                server_hostname=target.host if tls else None,
            )
        except OSError as exc:  # refused, unreachable, name not found, TLS (ssl.SSLError is one)
            raise HttpFailure(f"cannot connect to {target.host}:{target.port}: {exc}") from None
        self._open.add(conn)
        return conn

    def _forget(self, conn: _Connection) -> None:
        conn.close()
        self._open.discard(conn)

    def prune(self) -> None:
        """Close idle connections too old to reuse (a server that never closes them would keep them), and
        forget the header sets seen so far (a rotated credential's old headers do not stay in memory)."""
        self._header_blocks.clear()
        fresh_since = time.monotonic() - IDLE_REUSE_SECONDS
        for key, idle in list(self._idle.items()):
            for conn in [c for c in idle if c.lost or c.idle_since <= fresh_since]:
                idle.remove(conn)
                self._forget(conn)
            if not idle:
                del self._idle[key]

    def close(self) -> None:
        for conn in list(self._open):
            self._forget(conn)
        self._idle.clear()
