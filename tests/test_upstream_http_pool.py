"""The HTTP/1.1 client of upstream calls (server/upstreams/http_pool.py) against real servers: uvicorn
for the answers MCP servers give (JSON, server-sent events, chunked), and raw asyncio servers for what a
misbehaving or slow one does (garbage, a close before or during an answer, a hang, an idle close), plus
TLS with a certificate made for the test."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from server.upstreams import http_pool
from server.upstreams.http_pool import AnswerTooLarge, HttpFailure, HttpPool, RequestRefused
from tests.live import ThreadedServer

pytestmark = pytest.mark.anyio

JSON = {"content-type": "application/json"}
EMPTY_OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"


def _uvicorn_app(seen: list[tuple[str, int]]) -> Starlette:
    """Records the client port of every request (one port per connection)."""

    async def echo(request: Request) -> Response:
        assert request.client is not None
        seen.append((request.url.path, request.client.port))
        body = await request.json()
        return JSONResponse({"got": body, "auth": request.headers.get("authorization"),
                             "encoding": request.headers.get("accept-encoding")})

    async def events(request: Request) -> Response:
        assert request.client is not None
        seen.append((request.url.path, request.client.port))
        keep_open = request.query_params.get("open") == "1"

        async def stream() -> AsyncIterator[bytes]:
            yield b": priming\n\n"
            yield b'data: {"jsonrpc":"2.0","method":"notifications/progress","params":{}}\n\n'
            yield b'data: {"jsonrpc":"2.0","id":7,\ndata: "result":{"ok":true}}\n\n'
            while keep_open:  # a server that does not close the stream after the answer
                await asyncio.sleep(0.05)
                yield b": still here\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")

    async def chunked(request: Request) -> Response:
        async def parts() -> AsyncIterator[bytes]:
            for piece in (b'{"a":', b' "', b"x" * 70000, b'"}'):
                yield piece

        return StreamingResponse(parts(), media_type="application/json")

    return Starlette(routes=[Route("/mcp", echo, methods=["POST"]), Route("/sse", events, methods=["POST"]),
                             Route("/chunked", chunked, methods=["POST"])])


@pytest.fixture
def uvicorn_server() -> AsyncIterator[tuple[ThreadedServer, list[tuple[str, int]]]]:
    seen: list[tuple[str, int]] = []
    server = ThreadedServer()
    server.serve(lambda: _uvicorn_app(seen))
    yield server, seen
    server.stop()


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _raw_server(handler: Handler, tls: ssl.SSLContext | None = None) -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    return server, f"{'https' if tls else 'http'}://127.0.0.1:{port}/mcp"


@contextlib.asynccontextmanager
async def _pool_for(handler: Handler, limit: int = 100) -> AsyncIterator[tuple[HttpPool, str]]:
    """A raw server running `handler` and a pool to call it with; both closed after."""
    server, url = await _raw_server(handler)
    pool = HttpPool(limit=limit)
    try:
        yield pool, url
    finally:
        pool.close()
        server.close()


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length"))
    return head + await reader.readexactly(length)


async def test_json_answers_reuse_one_connection_and_carry_the_headers(uvicorn_server) -> None:
    server, seen = uvicorn_server
    pool = HttpPool()
    try:
        for i in range(3):
            headers = {**JSON, "Authorization": "Bearer t"}
            async with pool.post(f"{server.url}/mcp", b'{"n": %d}' % i, headers) as answer:
                assert answer.status == 200 and answer.headers["content-type"] == "application/json"
                assert await answer.read() == b'{"got":{"n":%d},"auth":"Bearer t","encoding":"identity"}' % i
    finally:
        pool.close()
    assert len({port for _, port in seen}) == 1, seen  # kept alive: one connection for all three


async def test_a_chunked_answer_is_read_whole(uvicorn_server) -> None:
    server, _ = uvicorn_server
    pool = HttpPool()
    try:
        async with pool.post(f"{server.url}/chunked", b"{}", JSON) as answer:
            assert answer.headers.get("transfer-encoding") == "chunked"
            assert await answer.read() == b'{"a": "' + b"x" * 70000 + b'"}'
    finally:
        pool.close()


@pytest.mark.parametrize("keep_open", [False, True])
async def test_event_stream_lines_arrive_as_sent_and_an_unfinished_stream_is_not_reused(
    uvicorn_server, keep_open: bool
) -> None:
    server, seen = uvicorn_server
    pool = HttpPool()
    try:
        async with pool.post(f"{server.url}/sse?open={int(keep_open)}", b"{}", JSON) as answer:
            assert answer.headers["content-type"].startswith("text/event-stream")
            lines = []
            async for line in answer.lines():
                lines.append(line)
                if keep_open and b'"result"' in line:
                    break  # what the caller does once its answer is in
        assert lines[:4] == [b": priming\n", b"\n", b'data: {"jsonrpc":"2.0","method":"notifications/progress",'
                                                    b'"params":{}}\n', b"\n"]
        answer_at = lines.index(b'data: "result":{"ok":true}}\n')
        assert lines[answer_at + 1:] == ([] if keep_open else [b"\n"])
        async with pool.post(f"{server.url}/mcp", b"{}", JSON) as answer:
            await answer.read()
    finally:
        pool.close()
    ports = [port for _, port in seen]
    # a stream read to its end leaves the connection reusable; one left unread is closed
    assert (ports[0] != ports[1]) is keep_open, seen


@pytest.mark.parametrize("headers", [{"authorization": "a\r\nX-Injected: 1"}, {"authorization": "a\nb"},
                                     {"authorization": "bad\0"}, {"authorization": "caf\u00e9\u2603"},
                                     {"bad name": "x"}, {"Content-Length": "5"}, {"host": "elsewhere"}])
async def test_headers_that_would_break_the_request_are_refused_before_sending(headers: dict[str, str]) -> None:
    got: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.append(await reader.read(1000))
        writer.close()

    async with _pool_for(handler) as (pool, url):
        with pytest.raises(RequestRefused, match="header"):
            async with pool.post(url, b"{}", headers):
                pass
        await asyncio.sleep(0.05)
    assert got == []  # no connection was even opened


@pytest.mark.parametrize(
    ("answer", "message"),
    [(b"NOT HTTP AT ALL\r\n\r\n", "not valid HTTP/1.1"),
     (b"", "before answering"),
     (b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\ncontent-type: application/json\r\n\r\n{\"partial", "mid-answer")],
)
async def test_a_broken_answer_is_an_error_and_its_connection_is_not_reused(answer: bytes, message: str) -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await _read_request(reader)
        if connections == 1:
            writer.write(answer)
        else:
            writer.write(EMPTY_OK)
        await writer.drain()
        if connections == 1:
            writer.close()
        else:
            await reader.read()

    async with _pool_for(handler) as (pool, url):
        with pytest.raises(HttpFailure, match=message):
            async with pool.post(url, b"{}", JSON) as got:
                await got.read()
        async with pool.post(url, b"{}", JSON) as got:
            assert await got.read() == b"{}"
    assert connections == 2


@pytest.mark.parametrize("head", [
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000000\r\n\r\n",
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nx-endless: ",  # a head that never ends
])
async def test_an_answer_past_the_size_limit_is_refused_as_it_arrives(head: bytes) -> None:
    """The pool stops reading at the limit and drops the connection; the server sends on (it would not
    stop) until then, and the next request gets a connection of its own."""
    connections, written = 0, 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections, written
        connections += 1
        await _read_request(reader)
        if connections > 1:
            writer.write(EMPTY_OK)
            await writer.drain()
            await reader.read()
            return
        writer.write(head)
        chunk = b"x" * 65536
        framed = b"%x\r\n%s\r\n" % (len(chunk), chunk) if b"chunked" in head else chunk
        with contextlib.suppress(ConnectionError):
            while written < 100_000_000:
                writer.write(framed)
                await writer.drain()
                written += len(framed)

    server, url = await _raw_server(handler)
    pool = HttpPool(max_answer_bytes=256 * 1024)
    try:
        with pytest.raises(AnswerTooLarge, match="larger than 262144 bytes"):
            async with pool.post(url, b"{}", JSON) as answer:
                async for _ in answer.lines():
                    pass
        assert written < 10_000_000  # refused as it arrived, not after reading it all
        async with pool.post(url, b"{}", JSON) as answer:
            assert await answer.read() == b"{}"
    finally:
        pool.close()
        server.close()
    assert connections == 2


async def test_a_body_that_ends_with_the_connection_is_read_whole() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"until": "eof"}')
        await writer.drain()
        writer.close()

    async with _pool_for(handler) as (pool, url), pool.post(url, b"{}", JSON) as answer:
        assert await answer.read() == b'{"until": "eof"}'


async def test_a_hung_answer_is_cancelled_by_the_callers_deadline_and_its_connection_dropped() -> None:
    connections, closed = 0, asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        if connections == 1:
            await _read_request(reader)
            await reader.read()  # never answers; returns when the client hangs up
            closed.set()
            return
        await _read_request(reader)
        writer.write(EMPTY_OK)
        await writer.drain()
        await reader.read()

    async with _pool_for(handler) as (pool, url):
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                async with pool.post(url, b"{}", JSON) as answer:
                    await answer.read()
        await asyncio.wait_for(closed.wait(), 5)  # the hung connection was closed, not kept for reuse
        async with pool.post(url, b"{}", JSON) as answer:
            assert await answer.read() == b"{}"
    assert connections == 2


async def test_connections_idle_too_long_or_closed_by_the_server_are_not_reused(monkeypatch) -> None:
    ports: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ports.append(writer.get_extra_info("peername")[1])
        while True:
            try:
                await _read_request(reader)
            except asyncio.IncompleteReadError:
                return
            close = len(ports) == 1  # the first connection: the server closes it after answering, idle
            writer.write(EMPTY_OK)
            await writer.drain()
            if close:
                await asyncio.sleep(0.05)
                writer.close()
                return

    async with _pool_for(handler) as (pool, url):
        async def call() -> None:
            async with pool.post(url, b"{}", JSON) as answer:
                assert await answer.read() == b"{}"

        await call()
        await asyncio.sleep(0.2)  # the server has closed the idle connection meanwhile
        await call()  # on a new one
        await call()  # reused
        monkeypatch.setattr(http_pool, "IDLE_REUSE_SECONDS", 0.05)
        await asyncio.sleep(0.1)
        await call()  # the idle one is too old to trust: a new one
        await asyncio.sleep(0.1)
        pool.prune()
        assert pool._idle == {}
    assert len(ports) == 3, ports


async def test_requests_in_flight_are_bounded_by_the_limit() -> None:
    active, most = 0, 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal active, most
        while True:
            try:
                await _read_request(reader)
            except asyncio.IncompleteReadError:
                return
            active += 1
            most = max(most, active)
            await asyncio.sleep(0.05)
            active -= 1
            writer.write(EMPTY_OK)
            await writer.drain()

    async with _pool_for(handler, limit=2) as (pool, url):
        async def call() -> bytes:
            async with pool.post(url, b"{}", JSON) as answer:
                return await answer.read()

        assert await asyncio.gather(*(call() for _ in range(6))) == [b"{}"] * 6
    assert most == 2


async def test_refused_connections_and_bad_urls_are_errors() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    pool = HttpPool()
    try:
        with pytest.raises(HttpFailure, match="cannot connect"):
            async with pool.post(f"http://127.0.0.1:{port}/mcp", b"{}", JSON):
                pass
        for url, message in (("ftp://x/mcp", "not an http"), ("http://u:p@127.0.0.1:1/mcp", "credentials")):
            with pytest.raises(RequestRefused, match=message):
                async with pool.post(url, b"{}", JSON):
                    pass
    finally:
        pool.close()


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


async def test_tls_upstreams_are_verified(tmp_path: Path) -> None:
    cert_file, key_file = _certificate(tmp_path)
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert_file, key_file)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _read_request(reader)
        except (asyncio.IncompleteReadError, ssl.SSLError, ConnectionError):
            return
        writer.write(b'HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n{"tls": 1}\n')
        await writer.drain()
        writer.close()

    server, url = await _raw_server(handler, served)
    trusting = ssl.create_default_context(cafile=str(cert_file))
    trusting_pool, default_pool = HttpPool(tls=trusting), HttpPool()
    try:
        async with trusting_pool.post(url, b"{}", JSON) as answer:
            assert await answer.read() == b'{"tls": 1}\n'
        with pytest.raises(HttpFailure, match="CERTIFICATE_VERIFY_FAILED"):  # the system's trust store
            async with default_pool.post(url, b"{}", JSON):
                pass
    finally:
        trusting_pool.close()
        default_pool.close()
        server.close()
